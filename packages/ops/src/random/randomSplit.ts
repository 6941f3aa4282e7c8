// y = split(k, n) for each key k ; no derivative (keys are integers): zero VJP
import * as T from '@backfold/tensor'
import type { Key, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { zeroCotangents } from '../core/zeroCotangents'
import { batchOverKeys, keysOf } from '../internal/keyBatching'
import { RANDOM_ONNX } from '../internal/onnxLowering'
import { unsupportedOnnx } from '../staging/onnx/builder'

/** Parameters of `randomSplit`. @since 0.2.0 */
export interface RandomSplitParams {
  readonly n: number
}

/** The `randomSplit` op (int32 result, zero VJP). @since 0.2.0 */
export const randomSplitOp = defineOp<'randomSplit', [Tensor], RandomSplitParams>({
  name: 'randomSplit',
  forward: ([keys], p) => T.random.splitEach(keys, p.n),
  abstract: ([keys], p) => T.random.splitEachOutput(keys, p.n),
  vjp: zeroCotangents,
  onnx: unsupportedOnnx(RANDOM_ONNX),
  batch: batchOverKeys,
})

/**
 * `n` new keys (default 2) from each key, as data: `key` is a `Key` or a key batch (int32
 * `[..., 2]`), the result int32 `[..., n, 2]`, row `j` of each key being `random.split(key, n)[j]`
 * as `random.keyData` writes it. `splitKeys` gives them back as `Key`s.
 * @example
 * const members = randomSplit(random.key(0), 8) // [8, 2]: eight keys to vmap over
 * @since 0.2.0
 */
export const randomSplit = (key: Key | Tensor, n = 2): Tensor => applyOp(randomSplitOp, [keysOf(key)], { n })
