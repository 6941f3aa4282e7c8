// y = atan2(a, b) (the angle of the point (b, a)) ; ā = ȳ b / (a² + b²), b̄ = −ȳ a / (a² + b²)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { unbroadcast } from '../core/unbroadcast'
import { neg } from '../elementwise/neg'
import { square } from '../elementwise/square'
import { add } from './add'
import { div } from './div'
import { mul } from './mul'
import { operands } from '../internal/operands'

/** The `atan2` op. @since 0.2.0 */
export const atan2Op = defineOp<'atan2', [Tensor, Tensor]>({
  name: 'atan2',
  forward: ([a, b]) => T.atan2(a, b),
  abstract: ([a, b]) => T.binaryOutput('atan2', a, b),
  vjp: (ct, [a, b], _y, _p, needed) => {
    // ȳ / (a² + b²), shared by both cotangents (the origin, where it is 0/0, has no derivative).
    const scaled = div(ct, add(square(a), square(b)))
    return [
      needed[0] ? unbroadcast(mul(scaled, b), a.shape) : undefined,
      needed[1] ? unbroadcast(neg(mul(scaled, a)), b.shape) : undefined,
    ]
  },
  batch: batchElementwise,
})

/**
 * The angle of the point (b, a) from the positive b axis, in (-π, π], elementwise (C's
 * `atan2(y, x)` with `a = y`, `b = x`). Broadcasts like NumPy; int32 operands give float32.
 * @example
 * atan2(tensor([1, -1]), tensor([0, 0])) // [1.5708, -1.5708]
 * @throws ShapeError when the shapes do not broadcast.
 * @since 0.2.0
 */
export const atan2 = (a: Tensor | number, b: Tensor | number): Tensor =>
  applyOp(atan2Op, operands(a, b), undefined)
