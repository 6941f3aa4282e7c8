// y = a − b ; ā = ȳ, b̄ = −ȳ
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { unbroadcast } from '../core/unbroadcast'
import { neg } from '../elementwise/neg'
import { operands } from './operands'

/** The `sub` op. @since 0.1.0 */
export const subOp = defineOp({
  name: 'sub',
  forward: ([a, b]) => T.sub(a!, b!),
  vjp: (ct, [a, b], _y, _p, needed) => [
    needed[0] !== false ? unbroadcast(ct, a!.shape) : undefined,
    needed[1] !== false ? unbroadcast(neg(ct), b!.shape) : undefined,
  ],
})

/**
 * Elementwise difference. Broadcasts like NumPy; dtypes promote (a plain number takes the other operand's dtype).
 * @example
 * sub(tensor([5, 7]), 2) // [3, 5]
 * @throws ShapeError when the shapes do not broadcast.
 * @since 0.1.0
 */
export const sub = (a: Tensor | number, b: Tensor | number): Tensor =>
  applyOp(subOp, operands(a, b), undefined)
