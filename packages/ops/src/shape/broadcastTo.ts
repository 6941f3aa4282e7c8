// y = x broadcast to s ; x̄ = unbroadcast(ȳ, shape x)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { unbroadcast } from '../core/unbroadcast'

/** Parameters of the broadcastTo op: the target shape. @since 0.1.0 */
export interface BroadcastToParams {
  readonly shape: ReadonlyArray<number>
}

/** The broadcastTo op. @since 0.1.0 */
export const broadcastToOp = defineOp<'broadcastTo', [Tensor], BroadcastToParams>({
  name: 'broadcastTo',
  forward: ([x], p) => T.broadcastTo(x, p.shape),
  vjp: (ct, [x]) => [unbroadcast(ct, x.shape)],
  abstract: ([x], p) => ({ shape: T.broadcastToShape(x.shape, p.shape), dtype: x.dtype }),
  // Broadcasting aligns trailing axes, so one example's axis i lands on target axis
  // i + (new leading axes); the examples' axis goes into the target at that same offset and
  // lines up with itself, leaving the batch where broadcasting puts it.
  batch: ([x], [axis], p, self) => {
    const b = axis ?? 0
    const at = b + p.shape.length - (x.shape.length - 1)
    const size = x.shape[b] ?? 0
    return [self([x], { shape: [...p.shape.slice(0, at), size, ...p.shape.slice(at)] }), at]
  },
  onnx: (b, [x], p) => b.node('Expand', [x, b.int64s(p.shape)]),
})

/**
 * Broadcasts `x` to `shape` by NumPy's rules (trailing axes aligned; each dimension of `x` equals
 * the target's or is 1). Returns `x` itself when the shapes are equal. The gradient sums over the
 * broadcast axes.
 * @example
 * broadcastTo(tensor([1, 2]), [2, 2]) // [[1, 2], [1, 2]]
 * @throws ShapeError when `x` cannot be broadcast to `shape`.
 * @since 0.1.0
 */
export const broadcastTo = (x: Tensor, shape: ReadonlyArray<number>): Tensor =>
  T.shapesEqual(x.shape, shape) ? x : applyOp(broadcastToOp, [x], { shape: [...shape] })
