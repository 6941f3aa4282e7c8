import { scaleByLearningRate, type ScaleByLearningRateState } from './scaleByLearningRate'
import { requireLearningRate } from './leafwise'
import type { GradientTransformation, LearningRate } from './transform'

/** State of `sgd`. @since 0.1.0 */
export type SgdState = ScaleByLearningRateState

/**
 * Plain stochastic gradient descent: `θ ← θ − lr · g` (with `applyUpdates`).
 * @example
 * import { sgd, applyUpdates } from '@backfold/nn'
 * const optimizer = sgd(0.1)
 * let optState = optimizer.init(params)
 * const [updates, next] = optimizer.update(grads, optState, params)
 * params = applyUpdates(params, updates)
 * @throws ValueError unless `lr` is a finite number > 0 or a schedule.
 * @since 0.1.0
 */
export const sgd = (lr: LearningRate): GradientTransformation<SgdState> => {
  requireLearningRate('sgd', lr)
  return scaleByLearningRate(lr)
}
