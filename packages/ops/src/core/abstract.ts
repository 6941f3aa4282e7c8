// Helpers shared by the ops' shape and dtype rules (see `Op.abstract`). A rule reads only `.shape`
// and `.dtype` of its inputs and throws what the kernel would, through the same shape functions of
// @backfold/tensor the kernels use, so staging and eager mode agree on every error.
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import type { Aval } from './op'

/**
 * The rule of an op whose output is shaped and typed like its (only or first) input: negation,
 * abs, relu, stopGradient, clip.
 * @since 0.2.0
 */
export const sameAsInput = (xs: ReadonlyArray<Tensor>): Aval => ({ shape: xs[0]!.shape, dtype: xs[0]!.dtype })

/**
 * The broadcast shape of all inputs (NumPy rules, the kernels' own check and message) and their
 * promoted dtype, or `dtype` when the op fixes it (comparisons give int32).
 * @since 0.2.0
 */
export const broadcastAval = (op: string, xs: ReadonlyArray<Tensor>, dtype?: T.DType): Aval => {
  let shape: T.Shape = xs[0]!.shape
  let promoted = xs[0]!.dtype
  for (let i = 1; i < xs.length; i++) {
    shape = T.broadcastShapes(op, shape, xs[i]!.shape)
    promoted = T.promoteTypes(promoted, xs[i]!.dtype)
  }
  return { shape, dtype: dtype ?? promoted }
}
