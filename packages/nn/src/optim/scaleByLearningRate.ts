import * as O from '@backfold/ops'
import type { Tensor } from '@backfold/tensor'
import { map } from '../tree'
import { applyScaled } from './applyUpdates'
import { requireLearningRate } from './leafwise'
import * as S from './scalar'
import type { GradientTransformation, LearningRate } from './transform'

/** State of `scaleByLearningRate`: how many updates have been applied so far. @since 0.1.0 */
export interface ScaleByLearningRateState {
  /**
   * Number of updates already applied (0-based step of the next update), an int32 scalar tensor:
   * data, so that `jit` stages the update once rather than at every new count.
   */
  readonly count: Tensor
}

/**
 * The learning rate for the update at step `count` (0-based, an int32 scalar tensor): the number
 * itself, or the schedule's value at the count (a float64 scalar tensor, computed with ops so that
 * it can be staged). A schedule is checked at construction, not at each step: its value is data
 * inside a staged step, which nothing reads while the step runs.
 * @example
 * learningRateAt(0.1, T.scalar(3, 'int32')) // 0.1
 * learningRateAt(cosineDecay({ init: 1, decaySteps: 4 }), T.scalar(2, 'int32')) // float64 scalar 0.5
 * @since 0.1.0
 */
export const learningRateAt = (lr: LearningRate, count: Tensor): S.Scalar =>
  typeof lr === 'number' ? lr : lr(S.stepOf(count))

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
  const where = 'scaleByLearningRate'
  return {
    init: () => ({ count: S.initialCount() }),
    update: (grads, state) => {
      const count = S.countTensor(where, state.count)
      const scale = S.mul(learningRateAt(lr, count), -1)
      return [map(grads, (g) => O.mul(g, S.inDType(scale, g.dtype))), { count: S.nextCount(count) }]
    },
    // θ − lr·u, each new parameter rounded once.
    apply: (grads, state, params) => {
      const count = S.countTensor(where, state.count)
      const scale = S.mul(learningRateAt(lr, count), -1)
      return [applyScaled(params, grads, scale), { count: S.nextCount(count) }]
    },
  }
}
