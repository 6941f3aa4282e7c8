// y = [uniform(k, shape) < p] for each key k ; no derivative (a 0/1 mask): zero VJP
import * as T from '@backfold/tensor'
import type { Key, Shape, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { zeroCotangents } from '../core/zeroCotangents'
import { batchOverKeys, keysOf } from '../internal/keyBatching'
import { RANDOM_ONNX } from '../internal/onnxLowering'
import { unsupportedOnnx } from '../staging/onnx/builder'

/** Parameters of `randomBernoulli`. @since 0.2.0 */
export interface RandomBernoulliParams {
  readonly p: number
  readonly shape: Shape
}

/** The `randomBernoulli` op (int32 result, zero VJP). @since 0.2.0 */
export const randomBernoulliOp = defineOp<'randomBernoulli', [Tensor], RandomBernoulliParams>({
  name: 'randomBernoulli',
  forward: ([keys], { p, shape }) => T.random.bernoulliEach(keys, p, shape),
  abstract: ([keys], { p, shape }) => T.random.bernoulliEachOutput(keys, p, shape),
  vjp: zeroCotangents,
  onnx: unsupportedOnnx(RANDOM_ONNX),
  batch: batchOverKeys,
})

/**
 * An int32 0/1 mask of `shape` for each key, 1 with probability `p`: `key` is a `Key` or a key
 * batch (int32 `[..., 2]`); the result is `[..., ...shape]`, each key's mask that of
 * `random.bernoulli(key, p, shape)`.
 * @example
 * const keep = randomBernoulli(ctxKey, 0.9, x.shape) // a dropout mask, also under vmap over keys
 * @since 0.2.0
 */
export const randomBernoulli = (key: Key | Tensor, p: number, shape: Shape): Tensor =>
  applyOp(randomBernoulliOp, [keysOf(key)], { p, shape })
