import { fuse } from './fuse'
import type { MomentumState } from './momentum'
import { requireInRange, requireLearningRate } from './leafwise'
import { scaleByLearningRate } from './scaleByLearningRate'
import { traceMomentum } from './traceMomentum'
import type { GradientTransformation, LearningRate } from './transform'

/**
 * SGD with Nesterov momentum as optax's `sgd(lr, momentum=β, nesterov=True)` (and PyTorch's
 * `SGD(nesterov=True)`): `t ← g + β t`, `θ ← θ − lr · (g + β t)` with the new `t`.
 * State `{ trace, count }`.
 * @example
 * const optimizer = nesterov(0.01, 0.9)
 * @since 0.1.0
 */
export const nesterov = (lr: LearningRate, beta = 0.9): GradientTransformation<MomentumState> => {
  requireLearningRate('nesterov', lr)
  // beta = 1 never forgets a gradient: the steps grow without bound.
  requireInRange('nesterov', 'beta', beta, 0, 1, { maxExclusive: true })
  return fuse(traceMomentum(beta, { nesterov: true }), scaleByLearningRate(lr))
}
