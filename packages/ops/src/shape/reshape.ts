// y = reshape(x, s) ; x̄ = reshape(ȳ, shape x)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'

/** Parameters of the reshape op: the fully resolved target shape (no -1). @since 0.1.0 */
export interface ReshapeParams {
  readonly shape: ReadonlyArray<number>
}

/** The reshape op. @since 0.1.0 */
export const reshapeOp = defineOp<ReshapeParams>({
  name: 'reshape',
  forward: ([x], p) => T.reshape(x!, p.shape),
  vjp: (ct, [x]) => [reshape(ct, x!.shape)],
})

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
