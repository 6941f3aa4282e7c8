// y = x with a size-1 axis inserted, a reshape
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { reshape } from './reshape'

/**
 * Inserts a size-1 axis at `axis` (in `[-(rank + 1), rank]`; negative counts from the end of the
 * result). A reshape, so free and differentiable.
 * @example
 * expandDims(tensor([1, 2]), 0)  // [[1, 2]]
 * expandDims(tensor([1, 2]), -1) // [[1], [2]]
 * @throws ValueError when `axis` is out of range.
 * @since 0.1.0
 */
export const expandDims = (x: Tensor, axis: number): Tensor =>
  // The kernel shares x's data: asking it for the shape is free and gives its exact errors.
  reshape(x, T.expandDims(x, axis).shape)
