import { adamRule, type ScaleByAdamOptions, type ScaleByAdamState } from './scaleByAdam'
import type { GradientTransformation, LearningRate } from './transform'

/** Options of `adam`. @since 0.1.0 */
export type AdamOptions = ScaleByAdamOptions

/**
 * State of `adam` and `adamw`: `{ count, mu, nu }`. `count` drives both the bias correction and the
 * learning-rate schedule.
 * @since 0.1.0
 */
export type AdamState = ScaleByAdamState

/**
 * Adam (Kingma & Ba 2015) as optax's `adam`: `scaleByAdam` then `scaleByLearningRate`, i.e.
 * `θ ← θ − lr · m̂ / (√v̂ + eps)` with bias-corrected moments. Defaults b1 = 0.9, b2 = 0.999, eps = 1e-8.
 * @example
 * import { adam, applyUpdates, chain, clipByGlobalNorm } from '@backfold/nn'
 * const optimizer = chain({ clip: clipByGlobalNorm(1), adam: adam(1e-3) })
 * let optState = optimizer.init(params)
 * const [updates, next] = optimizer.update(grads, optState, params) // next.adam.mu, next.adam.nu
 * params = applyUpdates(params, updates)
 * @throws ValueError unless `lr` is a finite number > 0 or a schedule, for an unknown option, b1 or
 * b2 outside [0, 1), eps <= 0 or epsRoot < 0.
 * @since 0.1.0
 */
export const adam = (lr: LearningRate, opts: AdamOptions = {}): GradientTransformation<AdamState> =>
  // One pass per parameter: the learning rate is folded into Adam's own kernel.
  adamRule('adam', opts, lr)
