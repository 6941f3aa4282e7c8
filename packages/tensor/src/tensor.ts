import type { DType, TypedArray } from './dtype'
import type { Shape } from './shape'

/**
 * An immutable n-dimensional array: a dtype, a shape and a contiguous row-major typed array.
 *
 * Tensors are plain records. No function in backfold mutates a tensor it is given, so two
 * tensors may share one `data` buffer (reshape does). Never write into `data` yourself.
 * Memory is the garbage collector's: there is no `dispose`.
 * @since 0.1.0
 */
export interface Tensor {
  readonly dtype: DType
  readonly shape: Shape
  readonly data: TypedArray
}

/**
 * Wraps `data` as a tensor without copying or checking. Internal to kernels and backends:
 * the caller guarantees `data.length === sizeOf(shape)` and that the array matches `dtype`.
 * @since 0.1.0
 */
export const unsafeTensor = (dtype: DType, shape: Shape, data: TypedArray): Tensor => ({ dtype, shape, data })

/** True for tensors (and for values that behave as tensors, such as traced values). @since 0.1.0 */
export const isTensor = (value: unknown): value is Tensor =>
  typeof value === 'object' && value !== null && 'dtype' in value && 'shape' in value && 'data' in value
