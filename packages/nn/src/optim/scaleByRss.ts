import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import { map2 } from '../tree'
import { checkOptimizerOptions, requireInRange, zipWithState } from './leafwise'
import type { GradientTransformation } from './transform'

/** State of `scaleByRss`: the running SUM of squared gradients, a tree with the params' structure. @since 0.1.0 */
export interface ScaleByRssState {
  readonly sumOfSquares: unknown
}

/** Options of `scaleByRss`. @since 0.1.0 */
export interface ScaleByRssOptions {
  /** Initial value of the accumulator (default 0.1, as optax and TensorFlow). */
  readonly initialAccumulator?: number
  /** Added to the accumulator inside the square root (default 1e-7). */
  readonly eps?: number
}

/**
 * AdaGrad's rescaling as optax's `scale_by_rss`: `G ← G + g²`, update `g / √(G + eps)` where `G > 0`
 * and 0 where `G = 0` (a parameter that never received a gradient, with a zero initial accumulator).
 * @since 0.1.0
 */
export const scaleByRss = (opts: ScaleByRssOptions = {}): GradientTransformation<ScaleByRssState> => {
  checkOptimizerOptions('scaleByRss', opts, SCALE_BY_RSS_OPTIONS)
  return rssRule('scaleByRss', opts)
}

/** The accepted keys of `ScaleByRssOptions`. @internal */
export const RSS_OPTION_SPECS = { initialAccumulator: O.option.number, eps: O.option.number } as const

const SCALE_BY_RSS_OPTIONS = O.optionSchema(RSS_OPTION_SPECS)

/** `scaleByRss` with its options already checked by `where`. @internal */
export const rssRule = (where: string, opts: ScaleByRssOptions): GradientTransformation<ScaleByRssState> => {
  const { initialAccumulator = 0.1, eps = 1e-7 } = opts
  requireInRange(where, 'initialAccumulator', initialAccumulator, 0, Infinity)
  // eps = 0 is safe here: the update is 0 wherever the accumulator is 0 (no 0/0).
  requireInRange(where, 'eps', eps, 0, Infinity)
  return {
    init: (params) => ({ sumOfSquares: T.mapTree(params, (p) => T.fullLike(p, initialAccumulator)) }),
    update: (grads, state) => {
      const sumOfSquares = zipWithState(
        'scaleByRss',
        grads,
        state.sumOfSquares,
        'state.sumOfSquares',
        (g, s) => O.add(s, O.square(g)),
      )
      const updates = map2(grads, sumOfSquares, (g, s) =>
        O.where(O.greater(s, 0), O.mul(g, O.rsqrt(O.add(s, eps))), 0),
      )
      return [updates, { sumOfSquares }]
    },
  }
}
