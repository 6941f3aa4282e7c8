// y = reshape(x, s) ; x̄ = reshape(ȳ, shape x)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
// Not core/batching (moveAxis): it imports broadcastTo, so unbroadcast and sum, whose batching rule
// module imports this one; that cycle, entered here, would leave sum's rule undefined.
import { transpose } from './transpose'

/** Parameters of the reshape op: the fully resolved target shape (no -1). @since 0.1.0 */
export interface ReshapeParams {
  readonly shape: ReadonlyArray<number>
}

/** The reshape op. @since 0.1.0 */
export const reshapeOp = defineOp<'reshape', [Tensor], ReshapeParams>({
  name: 'reshape',
  forward: ([x], p) => T.reshape(x, p.shape),
  vjp: (ct, [x]) => [reshape(ct, x.shape)],
  abstract: ([x], p) => ({ shape: T.reshapeShape(x.shape, p.shape), dtype: x.dtype }),
  // allowzero: a 0 in the target shape is a size-0 axis, not ONNX's "copy the input's size".
  onnx: (b, [x], p) => b.node('Reshape', [x, b.int64s(p.shape)], { allowzero: 1 }),
  batch: ([x], [axis], p, self) => {
    const b = axis ?? 0
    const size = x.shape[b] ?? 0
    // In row-major order the batch [...before, B, ...after] is `before` blocks of B examples of
    // `after` elements each; when a prefix of one example's new shape holds exactly `before`
    // elements, the examples' axis can stay right after it (no transpose; always so for a leading
    // batch axis). Otherwise the examples move to the front first.
    const before = T.sizeOf(x.shape.slice(0, b))
    const at = splitAt(p.shape, before)
    if (at !== undefined)
      return [self([x], { shape: [...p.shape.slice(0, at), size, ...p.shape.slice(at)] }), at]
    const perm = x.shape.map((_, i) => i).filter((i) => i !== b)
    return [self([transpose(x, [b, ...perm])], { shape: [size, ...p.shape] }), 0]
  },
})

/** The first `k` with `shape[0] * … * shape[k - 1] === count`, if any. */
const splitAt = (shape: ReadonlyArray<number>, count: number): number | undefined => {
  let product = 1
  for (let k = 0; k <= shape.length; k++) {
    if (product === count) return k
    if (k < shape.length) product *= shape[k] ?? 1
  }
  return undefined
}

/**
 * Gives `x` a new shape with the same elements in row-major order; one dimension may be `-1`
 * (inferred). Free: no data is copied. Returns `x` itself when the shape does not change.
 * @example
 * reshape(tensor([1, 2, 3, 4, 5, 6]), [2, -1]) // [[1, 2, 3], [4, 5, 6]]
 * @throws ShapeError when the sizes differ or `shape` has more than one `-1`.
 * @since 0.1.0
 */
export const reshape = (x: Tensor, shape: ReadonlyArray<number>): Tensor => {
  // The kernel's own shape rule: its exact -1 inference and error messages (x may be traced).
  const outShape = T.reshapeShape(x.shape, shape)
  if (T.shapesEqual(outShape, x.shape)) return x
  return applyOp(reshapeOp, [x], { shape: [...outShape] })
}
