// y = uniform(k, shape) for each key k ; no derivative w.r.t. the (integer) keys: zero VJP
import * as T from '@backfold/tensor'
import type { Key, Shape, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { checkOptions, option, optionSchema } from '../core/options'
import { zeroCotangents } from '../core/zeroCotangents'
import { batchOverKeys, keysOf } from '../internal/keyBatching'
import { RANDOM_ONNX } from '../internal/onnxLowering'
import { unsupportedOnnx } from '../staging/onnx/builder'

/** Parameters of `randomUniform`. @since 0.2.0 */
export interface RandomUniformParams {
  readonly shape: Shape
  readonly opts: T.random.UniformOptions
}

const OPTIONS = optionSchema({ min: option.number, max: option.number, dtype: option.string })

/** The `randomUniform` op (zero VJP). @since 0.2.0 */
export const randomUniformOp = defineOp<'randomUniform', [Tensor], RandomUniformParams>({
  name: 'randomUniform',
  forward: ([keys], p) => T.random.uniformEach(keys, p.shape, p.opts),
  abstract: ([keys], p) => T.random.uniformEachOutput(keys, p.shape, p.opts),
  vjp: zeroCotangents,
  onnx: unsupportedOnnx(RANDOM_ONNX),
  batch: batchOverKeys,
})

/**
 * Uniform samples on `[min, max)` of `shape` for each key: `key` is a `Key` (ordinary, or one
 * `random.wrapKey` made around a mapped key) or a key batch (int32 `[..., 2]`); the result is
 * `[..., ...shape]`, each key's samples bit-identical to `random.uniform(key, shape, opts)`. Under
 * `vmap` over keys it draws for every key in one call.
 * @example
 * vmap((k: Tensor) => randomUniform(k, [3]))(randomSplit(random.key(0), 4)) // [4, 3]
 * @since 0.2.0
 */
export const randomUniform = (
  key: Key | Tensor,
  shape: Shape,
  opts: T.random.UniformOptions = {},
): Tensor => {
  checkOptions('randomUniform', opts, OPTIONS)
  return applyOp(randomUniformOp, [keysOf(key)], { shape, opts })
}
