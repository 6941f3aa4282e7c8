/**
 * Constructors: tensors from nested arrays, flat data, constants, ranges and identities.
 *
 * Conventions shared by every constructor here:
 * - the default dtype is `float32` (also for integer literals; `arange` is the one exception,
 *   defaulting to int32 when all its arguments are integers, like NumPy);
 * - shapes are checked with `checkShape` (negative or non-integer dimensions → `ValueError`) and may
 *   have zero-size dimensions; at most 2^31 - 1 elements (the int32 index range) are supported;
 * - a bad dtype string → `DTypeError`; an int32 tensor only accepts integers in int32 range;
 * - data from outside (`fromArray`, `fromFlat`) is validated into an `Either<ParseError, Tensor>`;
 *   `tensor` is the throwing shorthand for literals in code.
 * Every constructor copies its input: a tensor never aliases an array the caller can still mutate.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { allocate, isDType, isFloat } from './dtype'
import type { DType, TypedArray } from './dtype'
import { DTypeError, ParseError, ValueError, fmtShape } from './errors'
import { checkShape, sizeOf } from './shape'
import type { Shape } from './shape'
import { unsafeTensor } from './tensor'
import type { Tensor } from './tensor'

// ---------------------------------------------------------------------------------------------
// model
// ---------------------------------------------------------------------------------------------

/**
 * A number or an arbitrarily nested array of numbers (`[[1, 2], [3, 4]]`), as accepted by
 * {@link fromArray} and produced by `toNested`.
 * @since 0.1.0
 */
export type NestedArray = number | ReadonlyArray<NestedArray>

const INT32_MIN = -2147483648
const INT32_MAX = 2147483647
const MAX_ELEMENTS = 2147483647
// NumPy's limit; deeper input is almost surely a cyclic array.
const MAX_RANK = 64

// ---------------------------------------------------------------------------------------------
// argument checks
// ---------------------------------------------------------------------------------------------

const checkDType = (op: string, dtype: unknown): DType => {
  if (!isDType(dtype))
    throw new DTypeError(op, `dtype must be 'float32', 'float64' or 'int32', got ${describeValue(dtype)}`)
  return dtype
}

const checkSize = (op: string, shape: Shape): number => {
  checkShape(op, shape)
  const size = sizeOf(shape)
  if (size > MAX_ELEMENTS)
    throw new ValueError(
      op,
      `shape ${fmtShape(shape)} has ${size} elements; at most ${MAX_ELEMENTS} are supported`,
    )
  return size
}

const isInt32Value = (value: number): boolean =>
  Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX

/** Throws unless `value` can be stored in `dtype` (any number for floats, an int32 for int32). */
const checkFill = (op: string, what: string, value: unknown, dtype: DType): number => {
  if (typeof value !== 'number')
    throw new ValueError(op, `${what} must be a number, got ${describeValue(value)}`)
  if (dtype === 'int32' && !isInt32Value(value))
    throw new ValueError(
      op,
      `${what} is ${value}; dtype int32 needs an integer in [${INT32_MIN}, ${INT32_MAX}]`,
    )
  return value
}

const describeValue = (value: unknown): string => {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}...` : value)}`
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`
    case 'undefined':
      return 'undefined'
    default:
      return `a ${typeof value}`
  }
}

const fmtPath = (path: ReadonlyArray<number>): string => `[${path.join(',')}]`

// ---------------------------------------------------------------------------------------------
// from data
// ---------------------------------------------------------------------------------------------

/** The shape implied by the first element at every depth (validated afterwards). */
const inferShape = (values: unknown): E.Either<ParseError, number[]> => {
  const shape: number[] = []
  let node = values
  while (Array.isArray(node)) {
    if (shape.length === MAX_RANK)
      return E.left(
        new ParseError('fromArray', `nesting is deeper than ${MAX_RANK} levels (is the array cyclic?)`),
      )
    shape.push(node.length)
    if (node.length === 0) break
    node = node[0]
  }
  return E.right(shape)
}

/**
 * Copies the leaves of `node` (at `path`, depth `path.length`) into `data` from `offset`, checking
 * that every row matches `shape` and every leaf fits `dtype`. Returns the error, or undefined.
 */
const fillFromNested = (
  node: unknown,
  shape: ReadonlyArray<number>,
  path: number[],
  dtype: DType,
  data: TypedArray,
  offset: number,
): ParseError | undefined => {
  const depth = path.length
  const expected = shape[depth]!
  if (!Array.isArray(node)) {
    const what = typeof node === 'number' ? `the number ${node}` : describeValue(node)
    return new ParseError(
      'fromArray',
      `ragged nested array: element at path ${fmtPath(path)} is ${what}, expected an array of length ${expected}`,
    )
  }
  if (node.length !== expected)
    return new ParseError(
      'fromArray',
      `ragged nested array: row ${path.length === 0 ? 0 : path[depth - 1]} has length ${node.length}, ` +
        `expected ${expected} at path ${fmtPath(path)}`,
    )
  if (depth === shape.length - 1) {
    // Innermost rows: a flat loop over the leaves, no recursion per element.
    for (let i = 0; i < expected; i++) {
      const leaf: unknown = node[i]
      if (typeof leaf !== 'number') {
        path.push(i)
        const where = fmtPath(path)
        path.pop()
        const hint = Array.isArray(leaf) ? ' (this row is nested deeper than the first one)' : ''
        return new ParseError(
          'fromArray',
          `element at path ${where} is ${describeValue(leaf)}, expected a number${hint}`,
        )
      }
      if (dtype === 'int32' && !isInt32Value(leaf)) {
        path.push(i)
        const where = fmtPath(path)
        path.pop()
        return new ParseError(
          'fromArray',
          `element at path ${where} is ${leaf}; dtype int32 needs integers in [${INT32_MIN}, ${INT32_MAX}]`,
        )
      }
      data[offset + i] = leaf
    }
    return undefined
  }
  let blockSize = 1
  for (let d = depth + 1; d < shape.length; d++) blockSize *= shape[d]!
  for (let i = 0; i < expected; i++) {
    path.push(i)
    const error = fillFromNested(node[i], shape, path, dtype, data, offset + i * blockSize)
    path.pop()
    if (error !== undefined) return error
  }
  return undefined
}

/**
 * A tensor from a number or a nested array of numbers, validated: the shape is read from the first
 * element at each depth and every other row must match it. Returns `Left(ParseError)` naming the
 * path of the first problem: a ragged row (`row 1 has length 2, expected 3 at path [1]`), a leaf that
 * is not a number, or (for int32) a leaf that is not an integer in int32 range. NaN and ±Infinity are
 * fine for float dtypes. Throws `DTypeError` for an unknown dtype (a programmer error, not bad data).
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import { fromArray } from '@backfold/tensor'
 * fromArray([[1, 2], [3, 4]]) // Right(tensor of shape [2, 2], float32)
 * fromArray([[1, 2, 3], [4, 5]]) // Left(ParseError: fromArray: ragged nested array: row 1 has length 2, ...)
 * fromArray([1.5], 'int32') // Left(ParseError: ... dtype int32 needs integers ...)
 * @since 0.1.0
 */
export const fromArray = (values: NestedArray, dtype: DType = 'float32'): E.Either<ParseError, Tensor> => {
  checkDType('fromArray', dtype)
  const raw: unknown = values
  if (typeof raw === 'number') {
    if (dtype === 'int32' && !isInt32Value(raw))
      return E.left(
        new ParseError(
          'fromArray',
          `value is ${raw}; dtype int32 needs integers in [${INT32_MIN}, ${INT32_MAX}]`,
        ),
      )
    const data = allocate(dtype, 1)
    data[0] = raw
    return E.right(unsafeTensor(dtype, [], data))
  }
  if (!Array.isArray(raw))
    return E.left(
      new ParseError(
        'fromArray',
        `values is ${describeValue(raw)}, expected a number or a nested array of numbers`,
      ),
    )
  const inferred = inferShape(raw)
  if (E.isLeft(inferred)) return inferred
  const shape = inferred.right
  const size = sizeOf(shape)
  if (size > MAX_ELEMENTS)
    return E.left(
      new ParseError(
        'fromArray',
        `shape ${fmtShape(shape)} has ${size} elements; at most ${MAX_ELEMENTS} are supported`,
      ),
    )
  const data = allocate(dtype, size)
  const error = fillFromNested(raw, shape, [], dtype, data, 0)
  return error === undefined ? E.right(unsafeTensor(dtype, shape, data)) : E.left(error)
}

/**
 * A tensor from a literal nested array: {@link fromArray} that throws its `ParseError`. Meant for
 * values written in code; use `fromArray` for data from outside.
 * @example
 * const a = tensor([[1, 2], [3, 4]]) // float32, shape [2, 2]
 * const labels = tensor([0, 2, 1], 'int32')
 * const s = tensor(3.5) // shape []
 * @since 0.1.0
 */
export const tensor = (values: NestedArray, dtype: DType = 'float32'): Tensor => {
  const result = fromArray(values, dtype)
  if (E.isLeft(result)) throw result.left
  return result.right
}

/**
 * A tensor of `shape` from flat row-major `values` (any array-like: a plain array or a typed array),
 * copied, never aliased. `Left(ParseError)` when the length does not match the shape, a value is not a
 * number, or (int32) not an integer in range. Bad shapes throw `ValueError`, bad dtypes `DTypeError`.
 * @example
 * fromFlat([1, 2, 3, 4, 5, 6], [2, 3]) // Right(tensor [[1, 2, 3], [4, 5, 6]])
 * fromFlat(new Float32Array(5), [2, 3]) // Left(ParseError: fromFlat: 5 values cannot fill shape [2,3] ...)
 * @since 0.1.0
 */
export const fromFlat = (
  values: ArrayLike<number>,
  shape: ReadonlyArray<number>,
  dtype: DType = 'float32',
): E.Either<ParseError, Tensor> => {
  checkDType('fromFlat', dtype)
  const size = checkSize('fromFlat', shape)
  const raw: unknown = values
  if (typeof raw !== 'object' || raw === null || !('length' in raw) || typeof raw.length !== 'number')
    return E.left(new ParseError('fromFlat', `values is ${describeValue(raw)}, expected an array of numbers`))
  if (values.length !== size)
    return E.left(
      new ParseError(
        'fromFlat',
        `${values.length} values cannot fill shape ${fmtShape(shape)} (${size} elements); expected exactly ${size} values`,
      ),
    )
  const data = allocate(dtype, size)
  for (let i = 0; i < size; i++) {
    const value: unknown = values[i]
    if (typeof value !== 'number')
      return E.left(new ParseError('fromFlat', `values[${i}] is ${describeValue(value)}, expected a number`))
    if (dtype === 'int32' && !isInt32Value(value))
      return E.left(
        new ParseError(
          'fromFlat',
          `values[${i}] is ${value}; dtype int32 needs integers in [${INT32_MIN}, ${INT32_MAX}]`,
        ),
      )
    data[i] = value
  }
  return E.right(unsafeTensor(dtype, Array.from(shape), data))
}

// ---------------------------------------------------------------------------------------------
// constants
// ---------------------------------------------------------------------------------------------

/**
 * A tensor of `shape` with every element `value`. int32 needs an integer `value` in range (`ValueError`).
 * @example
 * full([2, 3], 0.5) // [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
 * full([2], -1, 'int32')
 * @since 0.1.0
 */
export const full = (shape: ReadonlyArray<number>, value: number, dtype: DType = 'float32'): Tensor => {
  checkDType('full', dtype)
  const size = checkSize('full', shape)
  const fill = checkFill('full', 'value', value, dtype)
  const data = allocate(dtype, size)
  if (fill !== 0) data.fill(fill)
  return unsafeTensor(dtype, Array.from(shape), data)
}

/**
 * A rank-0 tensor (shape `[]`) holding `value`.
 * @example
 * scalar(3) // tensor(3.)
 * scalar(7, 'int32')
 * @since 0.1.0
 */
export const scalar = (value: number, dtype: DType = 'float32'): Tensor => {
  checkDType('scalar', dtype)
  const fill = checkFill('scalar', 'value', value, dtype)
  const data = allocate(dtype, 1)
  data[0] = fill
  return unsafeTensor(dtype, [], data)
}

/**
 * A tensor of zeros.
 * @example
 * zeros([2, 3]) // float32
 * @since 0.1.0
 */
export const zeros = (shape: ReadonlyArray<number>, dtype: DType = 'float32'): Tensor => {
  checkDType('zeros', dtype)
  return unsafeTensor(dtype, Array.from(shape), allocate(dtype, checkSize('zeros', shape)))
}

/**
 * A tensor of ones.
 * @example
 * ones([3], 'int32') // [1, 1, 1]
 * @since 0.1.0
 */
export const ones = (shape: ReadonlyArray<number>, dtype: DType = 'float32'): Tensor => {
  checkDType('ones', dtype)
  const data = allocate(dtype, checkSize('ones', shape))
  data.fill(1)
  return unsafeTensor(dtype, Array.from(shape), data)
}

/** Reads `x`'s shape and dtype once (tracers compute them in getters). */
const likeOf = (op: string, x: Tensor, dtype: DType | undefined): { shape: Shape; dtype: DType } => {
  if (typeof x !== 'object' || x === null || !Array.isArray(x.shape))
    throw new ValueError(op, `x must be a tensor, got ${describeValue(x)}`)
  return { shape: x.shape, dtype: checkDType(op, dtype ?? x.dtype) }
}

/**
 * Zeros with `x`'s shape and (unless given) dtype.
 * @example
 * zerosLike(weights) // a zero gradient accumulator
 * @since 0.1.0
 */
export const zerosLike = (x: Tensor, dtype?: DType): Tensor => {
  const like = likeOf('zerosLike', x, dtype)
  return unsafeTensor(
    like.dtype,
    Array.from(like.shape),
    allocate(like.dtype, checkSize('zerosLike', like.shape)),
  )
}

/**
 * Ones with `x`'s shape and (unless given) dtype.
 * @example
 * onesLike(x)
 * @since 0.1.0
 */
export const onesLike = (x: Tensor, dtype?: DType): Tensor => {
  const like = likeOf('onesLike', x, dtype)
  const data = allocate(like.dtype, checkSize('onesLike', like.shape))
  data.fill(1)
  return unsafeTensor(like.dtype, Array.from(like.shape), data)
}

/**
 * `value` everywhere, with `x`'s shape and (unless given) dtype.
 * @example
 * fullLike(x, -Infinity)
 * @since 0.1.0
 */
export const fullLike = (x: Tensor, value: number, dtype?: DType): Tensor => {
  const like = likeOf('fullLike', x, dtype)
  const size = checkSize('fullLike', like.shape)
  const fill = checkFill('fullLike', 'value', value, like.dtype)
  const data = allocate(like.dtype, size)
  if (fill !== 0) data.fill(fill)
  return unsafeTensor(like.dtype, Array.from(like.shape), data)
}

// ---------------------------------------------------------------------------------------------
// ranges
// ---------------------------------------------------------------------------------------------

/**
 * Evenly spaced values `start, start + step, ...` below `stop` (above it for a negative step), as
 * NumPy's `arange`: one argument is `stop` (from 0); the length is `max(0, ceil((stop - start) / step))`
 * and element `i` is `start + i * step`. The dtype defaults to int32 when every argument is an
 * integer and float32 otherwise. Errors (`ValueError`): step 0, non-finite arguments, non-integer
 * arguments with dtype int32, or values outside int32 range.
 * @example
 * arange(5) // [0, 1, 2, 3, 4] int32
 * arange(1, 2, 0.25) // [1, 1.25, 1.5, 1.75] float32
 * arange(5, 0, -2) // [5, 3, 1] int32
 * @since 0.1.0
 */
export const arange = (start: number, stop?: number, step = 1, dtype?: DType): Tensor => {
  const [from, to] = stop === undefined ? [0, start] : [start, stop]
  for (const [name, value] of [
    ['start', from],
    ['stop', to],
    ['step', step],
  ] as const)
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new ValueError('arange', `${name} must be a finite number, got ${describeValue(value)}`)
  if (step === 0) throw new ValueError('arange', 'step must not be 0')
  const allIntegers = Number.isInteger(from) && Number.isInteger(to) && Number.isInteger(step)
  const outDtype = checkDType('arange', dtype ?? (allIntegers ? 'int32' : 'float32'))
  if (outDtype === 'int32' && !allIntegers)
    throw new ValueError(
      'arange',
      `dtype int32 needs integer start, stop and step, got start ${from}, stop ${to}, step ${step}`,
    )
  const length = Math.max(0, Math.ceil((to - from) / step))
  if (length > MAX_ELEMENTS)
    throw new ValueError('arange', `the range has ${length} elements; at most ${MAX_ELEMENTS} are supported`)
  if (outDtype === 'int32' && length > 0) {
    const last = from + (length - 1) * step
    if (!isInt32Value(from) || !isInt32Value(last))
      throw new ValueError('arange', `values from ${from} to ${last} do not fit in int32`)
  }
  const data = allocate(outDtype, length)
  for (let i = 0; i < length; i++) data[i] = from + i * step
  return unsafeTensor(outDtype, [length], data)
}

/**
 * `num` evenly spaced values from `start` to `stop`, both included, as NumPy's `linspace`
 * (`num = 1` gives `[start]`, `num = 0` an empty tensor). Element `i` is `start + i * step` with
 * `step = (stop - start) / (num - 1)`, and the last element is exactly `stop`. For int32 the values
 * are rounded toward -Infinity, as NumPy does. Errors (`ValueError`): non-finite bounds, `num` not a
 * non-negative integer.
 * @example
 * linspace(0, 1, 5) // [0, 0.25, 0.5, 0.75, 1]
 * @since 0.1.0
 */
export const linspace = (start: number, stop: number, num: number, dtype: DType = 'float32'): Tensor => {
  checkDType('linspace', dtype)
  if (
    typeof start !== 'number' ||
    !Number.isFinite(start) ||
    typeof stop !== 'number' ||
    !Number.isFinite(stop)
  )
    throw new ValueError(
      'linspace',
      `start and stop must be finite numbers, got start ${describeValue(start)}, stop ${describeValue(stop)}`,
    )
  if (typeof num !== 'number' || !Number.isInteger(num) || num < 0 || num > MAX_ELEMENTS)
    throw new ValueError(
      'linspace',
      `num must be an integer in [0, ${MAX_ELEMENTS}], got ${describeValue(num)}`,
    )
  if (dtype === 'int32' && (!isInt32Value(Math.floor(start)) || !isInt32Value(Math.floor(stop))))
    throw new ValueError('linspace', `values from ${start} to ${stop} do not fit in int32`)
  const data = allocate(dtype, num)
  const step = num > 1 ? (stop - start) / (num - 1) : 0
  const round = !isFloat(dtype)
  for (let i = 0; i < num; i++) {
    const value = i === num - 1 && num > 1 ? stop : start + i * step
    data[i] = round ? Math.floor(value) : value
  }
  return unsafeTensor(dtype, [num], data)
}

/**
 * The `n × m` identity-like matrix (`m` defaults to `n`): ones on the main diagonal, zeros elsewhere.
 * @example
 * eye(3) // 3×3 identity, float32
 * eye(2, 3, 'int32') // [[1, 0, 0], [0, 1, 0]]
 * @since 0.1.0
 */
export const eye = (n: number, m?: number, dtype: DType = 'float32'): Tensor => {
  checkDType('eye', dtype)
  const cols = m ?? n
  const size = checkSize('eye', [n, cols])
  const data = allocate(dtype, size)
  const diagonal = Math.min(n, cols)
  for (let i = 0; i < diagonal; i++) data[i * cols + i] = 1
  return unsafeTensor(dtype, [n, cols], data)
}
