import * as T from '@backfold/tensor'
import type { DType, Key, Shape, Tensor } from '@backfold/tensor'
import type { Initializer } from './initializer'
import { checkInitArgs } from './initializer'

/**
 * All zeros (the key is ignored). The usual bias initialiser outside PyTorch.
 * @example
 * initializers.zeros(T.random.key(0), [3]) // [0, 0, 0]
 * @since 0.1.0
 */
export const zeros: Initializer = (_key: Key, shape: Shape, dtype?: DType): Tensor =>
  T.zeros(shape, checkInitArgs('initializers.zeros', shape, dtype, false))

/**
 * All ones (the key is ignored). Normalisation layers start their scale here.
 * @since 0.1.0
 */
export const ones: Initializer = (_key: Key, shape: Shape, dtype?: DType): Tensor =>
  T.ones(shape, checkInitArgs('initializers.ones', shape, dtype, false))

/**
 * Every element equal to `value` (the key is ignored).
 * @example
 * initializers.constant(0.1)(T.random.key(0), [2]) // [0.1, 0.1]
 * @since 0.1.0
 */
export const constant =
  (value: number): Initializer =>
  (_key: Key, shape: Shape, dtype?: DType): Tensor => {
    if (typeof value !== 'number')
      throw new T.ValueError('initializers.constant', `value must be a number, got ${String(value)}`)
    return T.full(shape, value, checkInitArgs('initializers.constant', shape, dtype, false))
  }
