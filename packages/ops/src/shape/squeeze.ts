// y = x without size-1 axes, a reshape
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { reshape } from './reshape'

/**
 * Removes size-1 axes: all of them by default, or exactly `axes`. A reshape, so free and
 * differentiable.
 * @example
 * squeeze(zeros([1, 3, 1]))    // shape [3]
 * squeeze(zeros([1, 3, 1]), 0) // shape [3, 1]
 * @throws ShapeError when one of `axes` does not have size 1.
 * @since 0.1.0
 */
export const squeeze = (x: Tensor, axes?: number | ReadonlyArray<number>): Tensor =>
  // The kernel shares x's data: asking it for the shape is free and gives its exact errors.
  reshape(x, T.squeeze(x, axes).shape)
