// y = a − b ; ā = ȳ, b̄ = −ȳ
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { unbroadcast } from '../core/unbroadcast'
import { neg } from '../elementwise/neg'
import { operands } from '../internal/operands'
import { binaryOnnx } from '../staging/onnx/rules'

/** The `sub` op. @since 0.1.0 */
export const subOp = defineOp<'sub', [Tensor, Tensor]>({
  name: 'sub',
  forward: ([a, b]) => T.sub(a, b),
  abstract: ([a, b]) => T.binaryOutput('sub', a, b),
  vjp: (ct, [a, b], _y, _p, needed) => [
    needed[0] ? unbroadcast(ct, a.shape) : undefined,
    needed[1] ? unbroadcast(neg(ct), b.shape) : undefined,
  ],
  batch: batchElementwise,
  onnx: binaryOnnx('Sub'),
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
