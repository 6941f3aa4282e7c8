import type { Tensor } from '@backfold/tensor'
import { random } from '@backfold/tensor'
import { mul } from '../../src/binary/mul'
import { astype } from '../../src/elementwise/astype'
import {
  randomBernoulli,
  randomBits,
  randomFoldIn,
  randomNormal,
  randomSplit,
  randomTruncatedNormal,
  randomUniform,
} from '../../src/random/index'
import { anywhere } from './domains'
import type { GradRow } from './types'

// Gradient rows of the random ops. Their only input is the (int32) key, which has no derivative:
// each row multiplies a float64 x by the draw, so the table checks that x's gradient is the draw
// and that the key contributes nothing (zero VJP), and the vmap table checks the draws under vmap.

/** One key as data, int32 [2]. */
const keyOf = (seed: number): Tensor => random.keyData(random.key(seed))

/** `n` keys as data, int32 [n, 2]. */
const keysOf = (seed: number, n: number): Tensor => random.keysData(random.split(random.key(seed), n))

/** int32 words as float64 in [-1, 1), exactly (a power-of-two scale). */
const unitWords = (words: Tensor): Tensor => mul(astype(words, 'float64'), 2 ** -31)

/** Gradient rows of every random op (zero gradient through the keys). */
export const randomRows: GradRow[] = [
  {
    op: 'randomUniform',
    label: 'x [2,3] ⊙ uniform(key, [2,3]) (zero gradient through the key)',
    domain: 'anywhere',
    fn: (x, k) => mul(x, randomUniform(k, [2, 3], { min: -1, max: 1, dtype: 'float64' })),
    args: () => [anywhere(1900, [2, 3]), keyOf(1)],
  },
  {
    op: 'randomUniform',
    label: 'x [3,4] ⊙ uniform(keys [3,2], [4]) (a key batch)',
    domain: 'anywhere',
    fn: (x, ks) => mul(x, randomUniform(ks, [4], { dtype: 'float64' })),
    args: () => [anywhere(1901, [3, 4]), keysOf(2, 3)],
  },
  {
    op: 'randomNormal',
    label: 'x [5] ⊙ normal(key, [5]) (zero gradient through the key)',
    domain: 'anywhere',
    fn: (x, k) => mul(x, randomNormal(k, [5], { std: 0.5, dtype: 'float64' })),
    args: () => [anywhere(1910, [5]), keyOf(3)],
  },
  {
    op: 'randomTruncatedNormal',
    label: 'x [2,2] ⊙ truncatedNormal(keys [2,2], [2]) (a key batch)',
    domain: 'anywhere',
    fn: (x, ks) => mul(x, randomTruncatedNormal(ks, [2], { dtype: 'float64' })),
    args: () => [anywhere(1920, [2, 2]), keysOf(4, 2)],
  },
  {
    op: 'randomBernoulli',
    label: 'x [6] ⊙ bernoulli(key, 0.5, [6]) (a dropout-like mask)',
    domain: 'anywhere',
    fn: (x, k) => mul(x, astype(randomBernoulli(k, 0.5, [6]), 'float64')),
    args: () => [anywhere(1930, [6]), keyOf(5)],
  },
  {
    op: 'randomBits',
    label: 'x [4] ⊙ bits(key, 4) / 2^31',
    domain: 'anywhere',
    fn: (x, k) => mul(x, unitWords(randomBits(k, 4))),
    args: () => [anywhere(1940, [4]), keyOf(6)],
  },
  {
    op: 'randomSplit',
    label: 'x [3,2] ⊙ split(key, 3) / 2^31',
    domain: 'anywhere',
    fn: (x, k) => mul(x, unitWords(randomSplit(k, 3))),
    args: () => [anywhere(1950, [3, 2]), keyOf(7)],
  },
  {
    op: 'randomFoldIn',
    label: 'x [2,2] ⊙ foldIn(keys [2,2], 9) / 2^31 (a key batch)',
    domain: 'anywhere',
    fn: (x, ks) => mul(x, unitWords(randomFoldIn(ks, 9))),
    args: () => [anywhere(1960, [2, 2]), keysOf(8, 2)],
  },
]
