import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'

/**
 * The VJP of an op with no useful derivative (sign, floor, comparisons): a zero cotangent for every
 * input, in that input's shape and dtype. Declared explicitly so such ops are visibly non-differentiable.
 * @since 0.1.0
 */
export const zeroVjp = (_ct: Tensor, xs: ReadonlyArray<Tensor>): Tensor[] =>
  xs.map((x) => T.zeros(x.shape, x.dtype))
