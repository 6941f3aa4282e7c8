import type { ParamFilter } from '../losses/weightsOnly'
import type { AdamState } from './adam'
import { addDecayedWeights } from './addDecayedWeights'
import * as O from '@backfold/ops'
import { fuse } from './fuse'
import { checkOptimizerOptions, requireLearningRate } from './leafwise'
import { ADAM_OPTION_SPECS, scaleByAdam, type ScaleByAdamOptions } from './scaleByAdam'
import { scaleByLearningRate } from './scaleByLearningRate'
import type { GradientTransformation, LearningRate } from './transform'

/** Options of `adamw`. @since 0.1.0 */
export interface AdamwOptions extends ScaleByAdamOptions {
  /** Decoupled weight decay coefficient (default 1e-4, as optax). */
  readonly weightDecay?: number
  /** Which parameters to decay, by dotted name; default every parameter (as optax and PyTorch). */
  readonly include?: ParamFilter
}

const ADAMW_OPTIONS = O.optionSchema({
  ...ADAM_OPTION_SPECS,
  weightDecay: O.option.number,
  include: O.option.function,
})

/**
 * AdamW (Loshchilov & Hutter 2019, decoupled weight decay) as optax implements it:
 * `scaleByAdam`, then `addDecayedWeights(weightDecay)`, then `scaleByLearningRate(lr)`, i.e.
 * `θ ← θ − lr · (m̂ / (√v̂ + eps) + weightDecay · θ)`. The decay is multiplied by the learning rate
 * (schedule included) but, unlike an L2 penalty in the loss, not by Adam's normalisation.
 * State `{ count, mu, nu }` like `adam`.
 * @example
 * const optimizer = adamw(1e-3, { weightDecay: 1e-2, include: weightsOnly })
 * @throws ValueError as `adam`, and for a negative or non-finite weightDecay.
 * @since 0.1.0
 */
export const adamw = (lr: LearningRate, opts: AdamwOptions = {}): GradientTransformation<AdamState> => {
  requireLearningRate('adamw', lr)
  checkOptimizerOptions('adamw', opts, ADAMW_OPTIONS)
  const { weightDecay = 1e-4, include, ...adamOptions } = opts
  const decay = addDecayedWeights(weightDecay, include === undefined ? {} : { include })
  return fuse(fuse(scaleByAdam(adamOptions), decay), scaleByLearningRate(lr))
}
