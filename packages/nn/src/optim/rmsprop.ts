import * as O from '@backfold/ops'
import { fuse } from './fuse'
import { checkOptimizerOptions, requireLearningRate } from './leafwise'
import { scaleByLearningRate, type ScaleByLearningRateState } from './scaleByLearningRate'
import { rmsRule, type ScaleByRmsState } from './scaleByRms'
import type { GradientTransformation, LearningRate } from './transform'

/** Options of `rmsprop`. @since 0.1.0 */
export interface RmspropOptions {
  /** Decay of the running mean of g² (default 0.9, as optax; PyTorch's `alpha` defaults to 0.99). */
  readonly decay?: number
  /** Added INSIDE the square root (default 1e-8), as optax. */
  readonly eps?: number
}

/** State of `rmsprop`: `{ nu, count }`. @since 0.1.0 */
export type RmspropState = ScaleByRmsState & ScaleByLearningRateState

const RMSPROP_OPTIONS = O.optionSchema({ decay: O.option.number, eps: O.option.number })

/**
 * RMSProp (Tieleman & Hinton 2012) with optax's semantics (`optax.rmsprop` without momentum, not centred):
 * `ν ← decay · ν + (1 − decay) g²` from `ν = 0`, `θ ← θ − lr · g / √(ν + eps)`.
 * eps sits inside the square root as in optax and TensorFlow; PyTorch's `RMSprop` uses `√ν + eps`
 * and decay 0.99, so its trajectories differ slightly.
 * @example
 * const optimizer = rmsprop(1e-3, { decay: 0.9 })
 * @since 0.1.0
 */
export const rmsprop = (
  lr: LearningRate,
  opts: RmspropOptions = {},
): GradientTransformation<RmspropState> => {
  requireLearningRate('rmsprop', lr)
  checkOptimizerOptions('rmsprop', opts, RMSPROP_OPTIONS)
  return fuse(rmsRule('rmsprop', opts), scaleByLearningRate(lr))
}
