import * as O from '@backfold/ops'
import type { Tensor } from '@backfold/tensor'
import { requireFloat, requireSameShape } from './validate'

/**
 * Mean squared error: the mean over ALL elements of `(pred − target)²` (PyTorch's `mse_loss` with
 * reduction `'mean'`, Keras' `MeanSquaredError`). Differentiable in both arguments.
 *
 * Shapes must be equal (a `ShapeError` otherwise): broadcasting `[N, 1]` against `[N]` would
 * silently average an N×N table.
 * @example
 * import { tensor } from '@backfold/tensor'
 * import { meanSquaredError } from '@backfold/nn'
 * meanSquaredError(tensor([1, 2]), tensor([1, 4])) // 2 = (0² + 2²) / 2
 * @since 0.1.0
 */
export const meanSquaredError = (pred: Tensor, target: Tensor): Tensor => {
  requireFloat('meanSquaredError', pred, 'pred')
  requireSameShape('meanSquaredError', pred, target, 'pred', 'target')
  return O.mean(O.square(O.sub(pred, target)))
}
