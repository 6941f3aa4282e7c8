// y = x flattened to rank 1, a reshape
import type { Tensor } from '@backfold/tensor'
import { reshape } from './reshape'

/**
 * Flattens `x` to rank 1 in row-major order (a scalar becomes shape `[1]`). Free and differentiable.
 * @example
 * ravel(tensor([[1, 2], [3, 4]])) // [1, 2, 3, 4]
 * @since 0.1.0
 */
export const ravel = (x: Tensor): Tensor => reshape(x, [-1])
