// [k₁ … kₙ] = split(k, n) as Keys, through the randomSplit op (so it works on mapped keys too)
import * as T from '@backfold/tensor'
import type { Key } from '@backfold/tensor'
import { slice } from '../indexing/slice'
import { reshape } from '../shape/reshape'
import { randomSplit } from './randomSplit'

/**
 * `n` new keys from `key`, as `Key`s: the same keys as `random.split(key, n)` for an ordinary key,
 * and for a key that `random.wrapKey` made around a key mapped by `vmap`, keys wrapped around the
 * mapped split (so `init(key, inShape)` of a layer can split its key under `vmap`).
 * @example
 * const [weightKey, biasKey] = splitKeys(key, 2) // [Key, Key]: no `!` needed
 * @since 0.2.0
 */
export const splitKeys = <N extends number>(key: Key, n: N): T.random.SplitKeys<N> => {
  const all = randomSplit(key, n)
  // Exactly `n` keys: the tuple SplitKeys<N> names for a literal `n` up to 8, else Key[].
  return Array.from({ length: n }, (_, i) =>
    T.random.wrapKey(reshape(slice(all, [{ start: i, stop: i + 1 }]), [2])),
  ) as T.random.SplitKeys<N>
}
