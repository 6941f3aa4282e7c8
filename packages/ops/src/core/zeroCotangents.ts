import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { mapTuple, type Cotangents } from './op'

/**
 * The explicit zero VJP of an op without a useful derivative (sign, floor, comparisons, argmax,
 * oneHot): one zero tensor per input, shaped and typed like it, so such ops are visibly
 * non-differentiable rather than missing a rule.
 * @since 0.2.0
 */
export const zeroCotangents = <In extends ReadonlyArray<Tensor>>(_ct: Tensor, xs: In): Cotangents<In> =>
  mapTuple(xs, (x) => T.zeros(x.shape, x.dtype))
