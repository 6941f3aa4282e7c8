// y = threefry2x32 bits of each key ; no derivative (integers from integer keys): zero VJP
import * as T from '@backfold/tensor'
import type { Key, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { zeroCotangents } from '../core/zeroCotangents'
import { batchOverKeys, keysOf } from '../internal/keyBatching'
import { RANDOM_ONNX } from '../internal/onnxLowering'
import { unsupportedOnnx } from '../staging/onnx/builder'

/** Parameters of `randomBits`. @since 0.2.0 */
export interface RandomBitsParams {
  readonly count: number
}

/** The `randomBits` op (int32 result, zero VJP). @since 0.2.0 */
export const randomBitsOp = defineOp<'randomBits', [Tensor], RandomBitsParams>({
  name: 'randomBits',
  forward: ([keys], p) => T.random.randomBitsEach(keys, p.count),
  abstract: ([keys], p) => T.random.randomBitsEachOutput(keys, p.count),
  vjp: zeroCotangents,
  onnx: unsupportedOnnx(RANDOM_ONNX),
  batch: batchOverKeys,
})

/**
 * `count` random 32-bit words per key, as int32 bit patterns: `key` is a `Key` or a key batch
 * (int32 `[..., 2]`, see `random.keyData`), the result int32 `[..., count]`, each key's words those
 * of `random.randomBits(key, count)`. Under `vmap` over keys it draws for all keys at once.
 * @example
 * randomBits(random.key(1701), 3) // int32 [56197195, -94744728, 961309823]
 * @since 0.2.0
 */
export const randomBits = (key: Key | Tensor, count: number): Tensor =>
  applyOp(randomBitsOp, [keysOf(key)], { count })
