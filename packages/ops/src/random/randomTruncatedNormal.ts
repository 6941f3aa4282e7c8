// y = truncatedNormal(k, shape) for each key k ; no derivative w.r.t. the (integer) keys: zero VJP
import * as T from '@backfold/tensor'
import type { Key, Shape, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { checkOptions, option, optionSchema } from '../core/options'
import { zeroCotangents } from '../core/zeroCotangents'
import { batchOverKeys, keysOf } from '../internal/keyBatching'
import { RANDOM_ONNX } from '../internal/onnxLowering'
import { unsupportedOnnx } from '../staging/onnx/builder'

/** Parameters of `randomTruncatedNormal`. @since 0.2.0 */
export interface RandomTruncatedNormalParams {
  readonly shape: Shape
  readonly opts: T.random.TruncatedNormalOptions
}

const OPTIONS = optionSchema({
  lower: option.number,
  upper: option.number,
  mean: option.number,
  std: option.number,
  dtype: option.string,
})

/** The `randomTruncatedNormal` op (zero VJP). @since 0.2.0 */
export const randomTruncatedNormalOp = defineOp<
  'randomTruncatedNormal',
  [Tensor],
  RandomTruncatedNormalParams
>({
  name: 'randomTruncatedNormal',
  forward: ([keys], p) => T.random.truncatedNormalEach(keys, p.shape, p.opts),
  abstract: ([keys], p) => T.random.truncatedNormalEachOutput(keys, p.shape, p.opts),
  vjp: zeroCotangents,
  onnx: unsupportedOnnx(RANDOM_ONNX),
  batch: batchOverKeys,
})

/**
 * Truncated normal samples of `shape` for each key (bounds in standard deviations, default ±2):
 * `key` is a `Key` or a key batch (int32 `[..., 2]`); the result is `[..., ...shape]`, each key's
 * samples bit-identical to `random.truncatedNormal(key, shape, opts)`.
 * @example
 * randomTruncatedNormal(random.key(0), [512, 512], { std: 0.02 })
 * @since 0.2.0
 */
export const randomTruncatedNormal = (
  key: Key | Tensor,
  shape: Shape,
  opts: T.random.TruncatedNormalOptions = {},
): Tensor => {
  checkOptions('randomTruncatedNormal', opts, OPTIONS)
  return applyOp(randomTruncatedNormalOp, [keysOf(key)], { shape, opts })
}
