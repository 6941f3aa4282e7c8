import * as O from '@backfold/ops'
import { fuse } from './fuse'
import { checkOptimizerOptions, requireLearningRate } from './leafwise'
import { scaleByLearningRate, type ScaleByLearningRateState } from './scaleByLearningRate'
import { RSS_OPTION_SPECS, rssRule, type ScaleByRssOptions, type ScaleByRssState } from './scaleByRss'
import type { GradientTransformation, LearningRate } from './transform'

/** Options of `adagrad`. @since 0.1.0 */
export type AdagradOptions = ScaleByRssOptions

/** State of `adagrad`: `{ sumOfSquares, count }`. @since 0.1.0 */
export type AdagradState = ScaleByRssState & ScaleByLearningRateState

const ADAGRAD_OPTIONS = O.optionSchema(RSS_OPTION_SPECS)

/**
 * AdaGrad (Duchi, Hazan & Singer 2011) as optax's `adagrad`: `G ← G + g²` from
 * `G = initialAccumulator` (default 0.1), `θ ← θ − lr · g / √(G + eps)` (eps default 1e-7).
 * @example
 * const optimizer = adagrad(0.1)
 * @since 0.1.0
 */
export const adagrad = (
  lr: LearningRate,
  opts: AdagradOptions = {},
): GradientTransformation<AdagradState> => {
  requireLearningRate('adagrad', lr)
  checkOptimizerOptions('adagrad', opts, ADAGRAD_OPTIONS)
  return fuse(rssRule('adagrad', opts), scaleByLearningRate(lr))
}
