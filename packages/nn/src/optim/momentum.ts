import { fuse } from './fuse'
import { requireInRange, requireLearningRate } from './leafwise'
import { scaleByLearningRate, type ScaleByLearningRateState } from './scaleByLearningRate'
import { traceMomentum, type TraceMomentumState } from './traceMomentum'
import type { GradientTransformation, LearningRate } from './transform'

/** State of `momentum` and `nesterov`: the trace and the step count. @since 0.1.0 */
export type MomentumState = TraceMomentumState & ScaleByLearningRateState

/**
 * SGD with heavy-ball momentum, as optax's `sgd(lr, momentum=β)` and PyTorch's `SGD(momentum=β)`:
 * `t ← g + β t`, `θ ← θ − lr · t`. `traceMomentum` then `scaleByLearningRate`; state `{ trace, count }`.
 * @example
 * const optimizer = momentum(0.01, 0.9)
 * @since 0.1.0
 */
export const momentum = (lr: LearningRate, beta = 0.9): GradientTransformation<MomentumState> => {
  requireLearningRate('momentum', lr)
  // beta = 1 never forgets a gradient: the steps grow without bound.
  requireInRange('momentum', 'beta', beta, 0, 1, { maxExclusive: true })
  return fuse(traceMomentum(beta), scaleByLearningRate(lr))
}
