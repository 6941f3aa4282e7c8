import { DTypeError, ValueError, checkShape, isFloat } from '@backfold/tensor'
import type { DType, Key, Shape, Tensor } from '@backfold/tensor'

/**
 * Fan-in and fan-out of a weight tensor: the number of inputs feeding each output unit and the
 * number of outputs each input unit feeds. Variance-scaling initialisers divide by them.
 * @since 0.1.0
 */
export interface Fans {
  readonly fanIn: number
  readonly fanOut: number
}

/**
 * Makes a tensor of `shape` and `dtype` (default float32) from `key`. The same key always gives the
 * same tensor. Layers pass `fans`, the fans of the layer's WEIGHT, to every initialiser they call,
 * bias included, so a bias can be scaled like its weight (PyTorch's default does this); without
 * `fans` an initialiser computes them from `shape` with `computeFans`.
 *
 * The brief's form `(key, shape, dtype?) => Tensor` is a special case: a function that ignores
 * `fans` is an `Initializer`.
 *
 * The built-in initialisers draw with the random ops of `@backfold/ops` (`randomNormal(key, ...)`),
 * which give the same numbers as the samplers of `random` for an ordinary key and also take a key
 * mapped by `vmap` (`random.wrapKey`), so `vmap` over keys initialises an ensemble. A user
 * initialiser that calls `random.normal(key, ...)` works with ordinary keys; under `vmap` over keys
 * that sampler refuses the key and `init` returns a `LayerError` saying to use the ops.
 * @example
 * import { initializers } from '@backfold/nn'
 * import * as T from '@backfold/tensor'
 * const w = initializers.heNormal(T.random.key(0), [128, 64]) // std ≈ √(2/64)
 * @since 0.1.0
 */
export type Initializer = (key: Key, shape: Shape, dtype?: DType, fans?: Fans) => Tensor

/**
 * Fans computed as PyTorch does for a weight laid out `[out, in, ...receptive field]`:
 * dense `[out, in]` gives fanIn = in, fanOut = out; conv OIHW gives fanIn = I·kh·kw, fanOut = O·kh·kw.
 * PyTorch rejects rank < 2; here a vector `[n]` (a bias alone) gets fanIn = fanOut = n, as Keras
 * does, and a scalar gets 1 and 1.
 * @example
 * initializers.computeFans([16, 3, 5, 5]) // { fanIn: 75, fanOut: 400 }
 * @since 0.1.0
 */
export const computeFans = (shape: Shape): Fans => {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 }
  if (shape.length === 1) return { fanIn: shape[0]!, fanOut: shape[0]! }
  let receptive = 1
  for (let i = 2; i < shape.length; i++) receptive *= shape[i]!
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive }
}

/** Validates the arguments every initialiser shares; returns the dtype to use. */
export const checkInitArgs = (
  op: string,
  shape: Shape,
  dtype: DType | undefined,
  needsFloat: boolean,
): DType => {
  checkShape(op, shape)
  const resolved = dtype ?? 'float32'
  if (resolved !== 'float32' && resolved !== 'float64' && resolved !== 'int32')
    throw new DTypeError(op, `dtype must be 'float32', 'float64' or 'int32', got ${String(dtype)}`)
  if (needsFloat && !isFloat(resolved))
    throw new DTypeError(op, `draws real numbers, so dtype must be 'float32' or 'float64', got '${resolved}'`)
  return resolved
}

/** Throws unless `value` is a finite number (a scale, bound or standard deviation). */
export const checkFinite = (op: string, name: string, value: number): void => {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new ValueError(op, `${name} must be a finite number, got ${String(value)}`)
}
