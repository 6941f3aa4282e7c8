import * as O from '@backfold/ops'
import { map2 } from '../tree'
import type { ParamFilter } from '../losses/weightsOnly'
import type { EmptyState } from './identity'
import { checkOptimizerOptions, requireInRange } from './leafwise'
import type { GradientTransformation } from './transform'

/** Options of `addDecayedWeights`. @since 0.1.0 */
export interface AddDecayedWeightsOptions {
  /**
   * Which parameters to decay, by dotted name and tensor. Default: every parameter, as optax (`mask=None`) and
   * PyTorch's `AdamW`. Pass `weightsOnly` to decay only layer weights (no biases, no norm scales).
   */
  readonly include?: ParamFilter
}

const ADD_DECAYED_WEIGHTS_OPTIONS = O.optionSchema({ include: O.option.function })

/**
 * Adds `weightDecay · params` to the updates of the selected parameters (optax's `add_decayed_weights`).
 * Placed BEFORE `scaleByLearningRate` it gives decoupled weight decay (AdamW): the decay is scaled by
 * the learning rate but not by Adam's per-parameter normalisation.
 * @example
 * import { chain, scaleByAdam, addDecayedWeights, scaleByLearningRate, weightsOnly } from '@backfold/nn'
 * chain({ adam: scaleByAdam(), decay: addDecayedWeights(1e-4, { include: weightsOnly }), lr: scaleByLearningRate(1e-3) })
 * @since 0.1.0
 */
export const addDecayedWeights = (
  weightDecay: number,
  opts: AddDecayedWeightsOptions = {},
): GradientTransformation<EmptyState> => {
  requireInRange('addDecayedWeights', 'weightDecay', weightDecay, 0, Infinity)
  checkOptimizerOptions('addDecayedWeights', opts, ADD_DECAYED_WEIGHTS_OPTIONS)
  const include = opts.include ?? (() => true)
  return {
    init: () => ({}),
    update: (updates, _state, params) => [
      map2(updates, params, (u, p, name) => (include(name, p) ? O.add(u, O.mul(p, weightDecay)) : u)),
      {},
    ],
  }
}
