import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import { map } from '../tree'
import { applyScaled } from './applyUpdates'
import { requireLearningRate } from './leafwise'
import type { GradientTransformation, LearningRate } from './transform'

/** State of `scaleByLearningRate`: how many updates have been applied so far. @since 0.1.0 */
export interface ScaleByLearningRateState {
  /** Number of updates already applied (0-based step of the next update). */
  readonly count: number
}

/**
 * The learning rate for the update at step `count` (0-based): the number itself, or the schedule's
 * value. A schedule may reach 0 (the end of a cosine decay) but never a negative or non-finite value.
 * @throws ValueError naming the step when the rate is negative, NaN or infinite.
 * @since 0.1.0
 */
export const learningRateAt = (lr: LearningRate, count: number): number => {
  const rate = typeof lr === 'number' ? lr : lr(count)
  if (!(Number.isFinite(rate) && rate >= 0))
    throw new T.ValueError(
      'scaleByLearningRate',
      `the learning rate at step ${count} is ${rate}; expected a finite number >= 0 (check the schedule)`,
    )
  return rate
}

/**
 * Multiplies every update by `−lr(count)` and counts the step (optax's `scale_by_learning_rate`):
 * the last link of every named optimizer, turning a descent direction into a step downhill.
 * `lr` is a number or a `Schedule` of the 0-based step count.
 * @example
 * import { chain, clipByGlobalNorm, scaleByAdam, scaleByLearningRate, cosineDecay } from '@backfold/nn'
 * const optimizer = chain({
 *   clip: clipByGlobalNorm(1),
 *   adam: scaleByAdam(),
 *   lr: scaleByLearningRate(cosineDecay({ init: 1e-3, decaySteps: 1000 })),
 * })
 * @throws ValueError unless `lr` is a finite number > 0 or a schedule.
 * @since 0.1.0
 */
export const scaleByLearningRate = (lr: LearningRate): GradientTransformation<ScaleByLearningRateState> => {
  requireLearningRate('scaleByLearningRate', lr)
  return {
    init: () => ({ count: 0 }),
    update: (grads, state) => {
      const rate = learningRateAt(lr, state.count)
      return [map(grads, (g) => O.mul(g, -rate)), { count: state.count + 1 }]
    },
    // θ − lr·u in one pass per parameter.
    apply: (grads, state, params) => {
      const rate = learningRateAt(lr, state.count)
      return [applyScaled(params, grads, -rate), { count: state.count + 1 }]
    },
  }
}
