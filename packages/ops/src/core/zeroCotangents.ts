import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'

/**
 * The explicit zero VJP of an op without a useful derivative (argmax, oneHot, the index inputs of
 * gather): one zero tensor per input, shaped and typed like it. @internal
 */
export const zeroCotangents = (_ct: Tensor, xs: ReadonlyArray<Tensor>): Tensor[] =>
  xs.map((x) => T.zeros(x.shape, x.dtype))
