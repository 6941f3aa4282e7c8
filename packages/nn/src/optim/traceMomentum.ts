import * as O from '@backfold/ops'
import type { Tensor } from '@backfold/tensor'
import { zerosLike } from '../tree'
import { checkOptimizerOptions, requireInRange, zipWithState } from './leafwise'
import type { GradientTransformation } from './transform'

/** State of `traceMomentum`: the running trace, a tree with the params' structure. @since 0.1.0 */
export interface TraceMomentumState {
  /** `t = g + decay · t_prev`, one tensor per parameter (zeros initially). */
  readonly trace: unknown
}

/** Options of `traceMomentum`. @since 0.1.0 */
export interface TraceMomentumOptions {
  /** Nesterov's look-ahead: emit `g + decay · t` instead of `t` (default false). */
  readonly nesterov?: boolean
}

const TRACE_MOMENTUM_OPTIONS = O.optionSchema({ nesterov: O.option.boolean })

/**
 * Heavy-ball momentum as optax's `trace`: `t ← g + decay · t`, emitting `t`, or with `nesterov`
 * `g + decay · t` (using the new `t`). This is PyTorch's SGD momentum with dampening 0 (not the
 * `(1 − β)` exponential average).
 * @example
 * const momentumSgd = chain({ momentum: traceMomentum(0.9), lr: scaleByLearningRate(0.01) })
 * @since 0.1.0
 */
export const traceMomentum = (
  decay: number,
  opts: TraceMomentumOptions = {},
): GradientTransformation<TraceMomentumState> => {
  checkOptimizerOptions('traceMomentum', opts, TRACE_MOMENTUM_OPTIONS)
  requireInRange('traceMomentum', 'decay', decay, 0, 1, { maxExclusive: true })
  const nesterov = opts.nesterov ?? false
  return {
    init: (params) => ({ trace: zerosLike(params) }),
    update: (grads, state) => {
      const accumulate = (g: Tensor, t: Tensor): Tensor => O.add(g, O.mul(t, decay))
      const trace = zipWithState('traceMomentum', grads, state.trace, 'state.trace', accumulate)
      const updates = nesterov ? zipWithState('traceMomentum', grads, trace, 'trace', accumulate) : trace
      return [updates, { trace }]
    },
  }
}
