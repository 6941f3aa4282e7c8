// y = foldIn(k, data) for each key k ; no derivative (keys are integers): zero VJP
import * as T from '@backfold/tensor'
import type { Key, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { zeroCotangents } from '../core/zeroCotangents'
import { batchOverKeys, keysOf } from '../internal/keyBatching'
import { RANDOM_ONNX } from '../internal/onnxLowering'
import { unsupportedOnnx } from '../staging/onnx/builder'

/** Parameters of `randomFoldIn`. @since 0.2.0 */
export interface RandomFoldInParams {
  readonly data: number
}

/** The `randomFoldIn` op (int32 result, zero VJP). @since 0.2.0 */
export const randomFoldInOp = defineOp<'randomFoldIn', [Tensor], RandomFoldInParams>({
  name: 'randomFoldIn',
  forward: ([keys], p) => T.random.foldInEach(keys, p.data),
  abstract: ([keys], p) => T.random.foldInEachOutput(keys, p.data),
  vjp: zeroCotangents,
  onnx: unsupportedOnnx(RANDOM_ONNX),
  batch: batchOverKeys,
})

/**
 * The key determined by each key and `data` (a uint32), as data: `key` is a `Key` or a key batch
 * (int32 `[..., 2]`), the result int32 `[..., 2]`, each row `random.foldIn(key, data)`.
 * @example
 * randomFoldIn(random.key(0), 4) // keyData(random.foldIn(random.key(0), 4))
 * @since 0.2.0
 */
export const randomFoldIn = (key: Key | Tensor, data: number): Tensor =>
  applyOp(randomFoldInOp, [keysOf(key)], { data })
