import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Key, Shape, Tensor } from '@backfold/tensor'
import type { Initializer } from './initializer'
import { checkFinite, checkInitArgs } from './initializer'

/** Options of `normal` and `truncatedNormal`. @since 0.1.0 */
export interface NormalOptions {
  /** Default 0. */
  readonly mean?: number
  /** Default 0.01 (Flax's `normal()`); PyTorch's `normal_` defaults to 1, a poor weight scale. */
  readonly std?: number
}

/**
 * Independent draws from N(mean, std²). Defaults: mean 0, std 0.01 (as Flax's `initializers.normal`).
 * @example
 * const init = initializers.normal({ std: 0.02 })
 * init(T.random.key(0), [64, 32])
 * @since 0.1.0
 */
export const normal =
  (opts: NormalOptions = {}): Initializer =>
  (key: Key, shape: Shape, dtype?: DType): Tensor => {
    const op = 'initializers.normal'
    const mean = opts.mean ?? 0
    const std = opts.std ?? 0.01
    checkFinite(op, 'mean', mean)
    checkNonNegative(op, 'std', std)
    return O.randomNormal(key, shape, { mean, std, dtype: checkInitArgs(op, shape, dtype, true) })
  }

/**
 * Draws from N(mean, std²) truncated to mean ± 2·std (redrawn, not clipped), as Keras's
 * `TruncatedNormal`. Note `std` is the standard deviation BEFORE truncation (the samples' own is
 * about 0.88·std), again as Keras. Defaults: mean 0, std 0.01.
 * @since 0.1.0
 */
export const truncatedNormal =
  (opts: NormalOptions = {}): Initializer =>
  (key: Key, shape: Shape, dtype?: DType): Tensor => {
    const op = 'initializers.truncatedNormal'
    const mean = opts.mean ?? 0
    const std = opts.std ?? 0.01
    checkFinite(op, 'mean', mean)
    checkNonNegative(op, 'std', std)
    return O.randomTruncatedNormal(key, shape, { mean, std, dtype: checkInitArgs(op, shape, dtype, true) })
  }

/** Options of `uniform`. @since 0.1.0 */
export interface UniformOptions {
  /** Inclusive lower bound; default −0.05 (Keras's `RandomUniform`). */
  readonly min?: number
  /** Exclusive upper bound; default 0.05. */
  readonly max?: number
}

/**
 * Independent draws from U[min, max). Defaults −0.05 and 0.05 (Keras's `RandomUniform`);
 * PyTorch's `uniform_` defaults to [0, 1), which is no weight scale.
 * @example
 * initializers.uniform({ min: -0.1, max: 0.1 })(T.random.key(0), [10])
 * @since 0.1.0
 */
export const uniform =
  (opts: UniformOptions = {}): Initializer =>
  (key: Key, shape: Shape, dtype?: DType): Tensor => {
    const op = 'initializers.uniform'
    const min = opts.min ?? -0.05
    const max = opts.max ?? 0.05
    checkFinite(op, 'min', min)
    checkFinite(op, 'max', max)
    if (min > max) throw new T.ValueError(op, `min (${min}) must not exceed max (${max})`)
    const resolved = checkInitArgs(op, shape, dtype, true)
    // The sampler needs min < max; an empty interval is the constant.
    if (min === max) return T.full(shape, min, resolved)
    return O.randomUniform(key, shape, { min, max, dtype: resolved })
  }

const checkNonNegative = (op: string, name: string, value: number): void => {
  checkFinite(op, name, value)
  if (value < 0) throw new T.ValueError(op, `${name} must be >= 0, got ${value}`)
}
