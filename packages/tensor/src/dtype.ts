/**
 * Element types. `float32` is the default everywhere a dtype is optional.
 *
 * Promotion (used by every binary kernel): int32 ∘ int32 → int32; int32 ∘ floatX → floatX;
 * float32 ∘ float64 → float64. A plain JavaScript `number` operand is "weak": it takes the
 * other operand's dtype, so `mul(x, 2)` keeps `x.dtype`.
 * @since 0.1.0
 */
export type DType = 'float32' | 'float64' | 'int32'

/** The typed array that backs a tensor of each dtype. @since 0.1.0 */
export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : Int32Array

/** Any array that can back a tensor. @since 0.1.0 */
export type TypedArray = Float32Array | Float64Array | Int32Array

/** All dtypes, in promotion order. @since 0.1.0 */
export const DTYPES: ReadonlyArray<DType> = ['int32', 'float32', 'float64']

/** True for `float32` and `float64`. @since 0.1.0 */
export const isFloat = (dtype: DType): boolean => dtype !== 'int32'

/** True when `value` names a dtype. @since 0.1.0 */
export const isDType = (value: unknown): value is DType =>
  value === 'float32' || value === 'float64' || value === 'int32'

/** Allocates a zero-filled array for `dtype`. @since 0.1.0 */
export const allocate = (dtype: DType, size: number): TypedArray => {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size)
    case 'float64':
      return new Float64Array(size)
    case 'int32':
      return new Int32Array(size)
  }
}

/** The dtype of a result combining `a` and `b` (see the table above). @since 0.1.0 */
export const promoteTypes = (a: DType, b: DType): DType => {
  if (a === b) return a
  if (a === 'float64' || b === 'float64') return 'float64'
  return 'float32'
}

/** The float dtype a computation on `dtype` produces when it must be real-valued (exp of an int32). @since 0.1.0 */
export const toFloat = (dtype: DType): 'float32' | 'float64' => (dtype === 'float64' ? 'float64' : 'float32')
