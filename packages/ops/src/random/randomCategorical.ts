// y = argmax(logits + g) along the category axis, g = −log(−log u), u ~ uniform(key): the Gumbel-max
// trick, an exact sample of softmax(logits). Built on randomUniform, log and argmax (zero gradient).
import * as T from '@backfold/tensor'
import type { Key, Tensor } from '@backfold/tensor'
import { add } from '../binary/add'
import { neg } from '../elementwise/neg'
import { log } from '../elementwise/log'
import { checkOptions, option, optionSchema } from '../core/options'
import { argmax } from '../reduce/argmax'
import { broadcastTo } from '../shape/broadcastTo'
import { transpose } from '../shape/transpose'
import { randomUniform } from './randomUniform'

/**
 * Options of `randomCategorical`: the category `axis` of the logits (default -1) and the `shape` of
 * the samples (default: the logits' shape without that axis; logits broadcast against it).
 * @since 0.2.0
 */
export interface RandomCategoricalOptions {
  readonly axis?: number | undefined
  readonly shape?: ReadonlyArray<number> | undefined
}

const OPTIONS = optionSchema({
  axis: option.axis,
  shape: {
    expected: 'an array of non-negative integers',
    check: (v: unknown) => Array.isArray(v) && v.every((d) => Number.isInteger(d) && d >= 0),
  },
})

/** The smallest normal number of each float dtype: u stays above 0, so log(u) is finite. */
const TINY = { float32: 1.1754943508222875e-38, float64: 2.2250738585072014e-308 } as const

/**
 * Samples category indices (int32) from unnormalised log-probabilities `logits`, one per row along
 * `axis`, as JAX's `random.categorical`: `P(i) = softmax(logits)_i`, exactly, by the Gumbel-max trick.
 * The same key gives the same samples on every platform; under `vmap` over keys (and logits) it draws
 * independently per key. Categories with logit -Infinity are never drawn. Not differentiable.
 * @example
 * const tokens = randomCategorical(key, logits)                    // [batch] from [batch, vocab]
 * const next = randomCategorical(key, div(logits, 0.7))             // sampling at temperature 0.7
 * @throws ValueError for a bad axis, shape or option; ShapeError when the logits do not broadcast to `shape`.
 * @since 0.2.0
 */
export const randomCategorical = (
  key: Key | Tensor,
  logits: Tensor,
  opts: RandomCategoricalOptions = {},
): Tensor => {
  checkOptions('randomCategorical', opts, OPTIONS)
  if (!T.random.isKey(key) && key.shape.length !== 1)
    throw new T.ValueError(
      'randomCategorical',
      `expected one key (int32 [2]), got a key batch of shape ${T.fmtShape(key.shape)}; map over keys with vmap`,
    )
  const rank = logits.shape.length
  if (rank === 0) throw new T.ValueError('randomCategorical', 'logits must have a category axis (rank >= 1)')
  const axis = T.normalizeAxis('randomCategorical', opts.axis ?? -1, rank)
  const n = logits.shape[axis]!
  if (n === 0)
    throw new T.ValueError('randomCategorical', `the category axis ${axis} is empty: nothing to draw`)
  const dtype = logits.dtype === 'float64' ? 'float64' : 'float32'
  // Categories last, then broadcast to the samples' shape.
  const perm = [...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis), axis]
  const last = transpose(logits, perm)
  const shape = opts.shape ?? last.shape.slice(0, -1)
  const full = broadcastTo(last, [...shape, n])
  const u = randomUniform(key, [...shape, n], { min: TINY[dtype], max: 1, dtype })
  const gumbel = neg(log(neg(log(u))))
  return argmax(add(full, gumbel), { axis: -1 })
}
