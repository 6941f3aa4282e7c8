import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import { map2 } from '../tree'
import { checkOptimizerOptions, requireInRange, zipWithState } from './leafwise'
import type { GradientTransformation } from './transform'

/** State of `scaleByRms`: the running mean of squared gradients, a tree with the params' structure. @since 0.1.0 */
export interface ScaleByRmsState {
  readonly nu: unknown
}

/** Options of `scaleByRms`. @since 0.1.0 */
export interface ScaleByRmsOptions {
  /** Decay of the running mean of g² (default 0.9). */
  readonly decay?: number
  /** Added to `ν` INSIDE the square root (default 1e-8), as optax. */
  readonly eps?: number
  /** Initial value of `ν` (default 0, as optax; TensorFlow uses 1). */
  readonly initialScale?: number
}

/**
 * RMSProp's rescaling, with optax's semantics (`scale_by_rms`): `ν ← decay · ν + (1 − decay) g²`,
 * update `g / √(ν + eps)`. Note where eps sits: optax (and TensorFlow) add it inside the square root,
 * PyTorch's `RMSprop` adds it to `√ν`; with the default eps = 1e-8 the two differ only for tiny ν.
 * No bias correction, no momentum, not centred.
 * @since 0.1.0
 */
export const scaleByRms = (opts: ScaleByRmsOptions = {}): GradientTransformation<ScaleByRmsState> => {
  checkOptimizerOptions('scaleByRms', opts, SCALE_BY_RMS_OPTIONS)
  return rmsRule('scaleByRms', opts)
}

/** The accepted keys of `ScaleByRmsOptions`. @internal */
export const RMS_OPTION_SPECS = {
  decay: O.option.number,
  eps: O.option.number,
  initialScale: O.option.number,
} as const

const SCALE_BY_RMS_OPTIONS = O.optionSchema(RMS_OPTION_SPECS)

/** `scaleByRms` with its options already checked by `where`. @internal */
export const rmsRule = (where: string, opts: ScaleByRmsOptions): GradientTransformation<ScaleByRmsState> => {
  const { decay = 0.9, eps = 1e-8, initialScale = 0 } = opts
  // decay = 1 never updates the average; eps = 0 divides by 0 where the average is 0.
  requireInRange(where, 'decay', decay, 0, 1, { maxExclusive: true })
  requireInRange(where, 'eps', eps, 0, Infinity, { minExclusive: true })
  requireInRange(where, 'initialScale', initialScale, 0, Infinity)
  return {
    init: (params) => ({ nu: T.mapTree(params, (p) => T.fullLike(p, initialScale)) }),
    update: (grads, state) => {
      const nu = zipWithState('scaleByRms', grads, state.nu, 'state.nu', (g, v) =>
        O.add(O.mul(v, decay), O.mul(O.square(g), 1 - decay)),
      )
      return [map2(grads, nu, (g, v) => O.mul(g, O.rsqrt(O.add(v, eps)))), { nu }]
    },
  }
}
