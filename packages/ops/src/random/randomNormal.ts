// y = normal(k, shape) for each key k ; no derivative w.r.t. the (integer) keys: zero VJP
import * as T from '@backfold/tensor'
import type { Key, Shape, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { checkOptions, option, optionSchema } from '../core/options'
import { zeroCotangents } from '../core/zeroCotangents'
import { batchOverKeys, keysOf } from '../internal/keyBatching'
import { RANDOM_ONNX } from '../internal/onnxLowering'
import { unsupportedOnnx } from '../staging/onnx/builder'

/** Parameters of `randomNormal`. @since 0.2.0 */
export interface RandomNormalParams {
  readonly shape: Shape
  readonly opts: T.random.NormalOptions
}

const OPTIONS = optionSchema({ mean: option.number, std: option.number, dtype: option.string })

/** The `randomNormal` op (zero VJP). @since 0.2.0 */
export const randomNormalOp = defineOp<'randomNormal', [Tensor], RandomNormalParams>({
  name: 'randomNormal',
  forward: ([keys], p) => T.random.normalEach(keys, p.shape, p.opts),
  abstract: ([keys], p) => T.random.normalEachOutput(keys, p.shape, p.opts),
  vjp: zeroCotangents,
  onnx: unsupportedOnnx(RANDOM_ONNX),
  batch: batchOverKeys,
})

/**
 * Normal samples of `shape` for each key: `key` is a `Key` or a key batch (int32 `[..., 2]`); the
 * result is `[..., ...shape]`, each key's samples bit-identical to `random.normal(key, shape, opts)`.
 * @example
 * randomNormal(random.key(0), [784, 128], { std: 0.05 })
 * @since 0.2.0
 */
export const randomNormal = (key: Key | Tensor, shape: Shape, opts: T.random.NormalOptions = {}): Tensor => {
  checkOptions('randomNormal', opts, OPTIONS)
  return applyOp(randomNormalOp, [keysOf(key)], { shape, opts })
}
