/**
 * Elementwise functions of two tensors with NumPy broadcasting, `where` and `astype`.
 *
 * Dtypes: two tensors promote with `promoteTypes`. A plain `number` is weak: it takes the other
 * operand's dtype, so `mul(x, 2)` keeps `x.dtype`; two numbers give float32. The one exception
 * (as in JAX and PyTorch): a number that is not an int32 value (2.5, NaN, Infinity, 1e10) next
 * to an int32 tensor gives float32 instead of being truncated. Comparisons give int32 masks
 * (1 / 0); `div` and `pow` of int32 operands give float32; int32 `add`, `sub`, `mul` wrap
 * around like C.
 * @since 0.1.0
 */
import { getBackend, type BinaryOp } from '../backend'
import { allocate, isDType, promoteTypes, type DType } from '../dtype'
import { DTypeError, ShapeError, fmtShape } from '../errors'
import { broadcastShapes } from '../shape'
import { requireConcrete, unsafeTensor, type Tensor } from '../tensor'

const INT32_MIN = -2147483648
const INT32_MAX = 2147483647

const DTYPES_EXPECTED = "expected 'float32', 'float64' or 'int32'"

const checkDType = (op: string, what: string, dtype: unknown): DType => {
  if (!isDType(dtype)) throw new DTypeError(op, `${what} has dtype ${String(dtype)}; ${DTYPES_EXPECTED}`)
  return dtype
}

const isInt32Value = (value: number): boolean =>
  Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX

/** The common dtype of operands, numbers being weak (see the module comment). */
const commonDType = (op: string, a: Tensor | number, b: Tensor | number): DType => {
  const operands = [a, b]
  let strong: DType | undefined
  for (let i = 0; i < operands.length; i++) {
    const operand = operands[i]!
    if (typeof operand === 'number') continue
    const dtype = checkDType(op, i === 0 ? 'a' : 'b', operand.dtype)
    strong = strong === undefined ? dtype : promoteTypes(strong, dtype)
  }
  if (strong === undefined) return 'float32'
  if (strong !== 'int32') return strong
  for (const operand of operands) {
    if (typeof operand === 'number' && !isInt32Value(operand)) return 'float32'
  }
  return 'int32'
}

/** `operand` as a tensor of `dtype`: numbers become scalars, tensors of another dtype are cast. */
const asTensor = (operand: Tensor | number, dtype: DType): Tensor => {
  if (typeof operand === 'number') {
    const data = allocate(dtype, 1)
    data[0] = operand
    return unsafeTensor(dtype, [], data)
  }
  return operand.dtype === dtype ? operand : getBackend().cast(operand, dtype)
}

const COMPARISONS: ReadonlySet<BinaryOp> = new Set<BinaryOp>([
  'equal',
  'notEqual',
  'less',
  'lessEqual',
  'greater',
  'greaterEqual',
])

const run = (op: BinaryOp, a: Tensor | number, b: Tensor | number): Tensor => {
  requireConcrete(op, 'a', a)
  requireConcrete(op, 'b', b)
  const dtype = commonDType(op, a, b)
  const left = asTensor(a, dtype)
  const right = asTensor(b, dtype)
  const outShape = broadcastShapes(op, left.shape, right.shape)
  const outDtype: DType = COMPARISONS.has(op)
    ? 'int32'
    : (op === 'div' || op === 'pow') && dtype === 'int32'
      ? 'float32'
      : dtype
  return getBackend().binary(op, left, right, outShape, outDtype)
}

/**
 * `a + b`, broadcasting.
 * @example
 * add(x, 1)     // x.dtype, x.shape
 * add(col, row) // [3,1] with [4] → [3,4]
 * @since 0.1.0
 */
export const add = (a: Tensor | number, b: Tensor | number): Tensor => run('add', a, b)

/** `a - b`, broadcasting. @since 0.1.0 */
export const sub = (a: Tensor | number, b: Tensor | number): Tensor => run('sub', a, b)

/**
 * `a * b`, broadcasting.
 * @example
 * mul(x, 2) // keeps x.dtype
 * @since 0.1.0
 */
export const mul = (a: Tensor | number, b: Tensor | number): Tensor => run('mul', a, b)

/** `a / b`, broadcasting; int32 operands give float32 (true division). @since 0.1.0 */
export const div = (a: Tensor | number, b: Tensor | number): Tensor => run('div', a, b)

/**
 * `a ** b`, broadcasting; int32 operands give float32. Follows IEEE 754 `pow`:
 * `pow(1, y)` is 1 for every `y`, even NaN.
 * @since 0.1.0
 */
export const pow = (a: Tensor | number, b: Tensor | number): Tensor => run('pow', a, b)

/** Elementwise larger value; NaN in either operand gives NaN. @since 0.1.0 */
export const maximum = (a: Tensor | number, b: Tensor | number): Tensor => run('maximum', a, b)

/** Elementwise smaller value; NaN in either operand gives NaN. @since 0.1.0 */
export const minimum = (a: Tensor | number, b: Tensor | number): Tensor => run('minimum', a, b)

/**
 * `a === b` as an int32 mask (1 / 0); NaN equals nothing.
 * @example
 * equal(x, 0) // int32, 1 where x is 0
 * @since 0.1.0
 */
export const equal = (a: Tensor | number, b: Tensor | number): Tensor => run('equal', a, b)

/** `a !== b` as an int32 mask; NaN differs from everything. @since 0.1.0 */
export const notEqual = (a: Tensor | number, b: Tensor | number): Tensor => run('notEqual', a, b)

/** `a < b` as an int32 mask. @since 0.1.0 */
export const less = (a: Tensor | number, b: Tensor | number): Tensor => run('less', a, b)

/** `a <= b` as an int32 mask. @since 0.1.0 */
export const lessEqual = (a: Tensor | number, b: Tensor | number): Tensor => run('lessEqual', a, b)

/** `a > b` as an int32 mask. @since 0.1.0 */
export const greater = (a: Tensor | number, b: Tensor | number): Tensor => run('greater', a, b)

/** `a >= b` as an int32 mask. @since 0.1.0 */
export const greaterEqual = (a: Tensor | number, b: Tensor | number): Tensor => run('greaterEqual', a, b)

/**
 * Picks `a` where `cond` is nonzero (NaN counts as nonzero), else `b`. The three shapes
 * broadcast together; the result dtype is that of `a` and `b` combined (numbers weak, as in `add`),
 * whatever the dtype of `cond`.
 * @example
 * where(greater(x, 0), x, 0) // relu
 * @since 0.1.0
 */
export const where = (cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor => {
  requireConcrete('where', 'cond', cond)
  requireConcrete('where', 'a', a)
  requireConcrete('where', 'b', b)
  checkDType('where', 'cond', cond.dtype)
  const dtype = commonDType('where', a, b)
  const left = asTensor(a, dtype)
  const right = asTensor(b, dtype)
  const condShape = cond.shape
  const aShape = left.shape
  const bShape = right.shape
  let outShape: number[]
  try {
    outShape = broadcastShapes('where', broadcastShapes('where', condShape, aShape), bShape)
  } catch (error) {
    if (!(error instanceof ShapeError)) throw error
    throw new ShapeError(
      'where',
      `cannot broadcast cond ${fmtShape(condShape)}, a ${fmtShape(aShape)} and b ${fmtShape(bShape)} ` +
        `together; trailing dimensions must be equal or 1`,
    )
  }
  return getBackend().where(cond, left, right, outShape, dtype)
}

/**
 * `x` converted to `dtype`; `x` itself when it already has that dtype (tensors are immutable, so
 * sharing is safe). Float to int32 truncates toward zero (`-1.7` → -1); NaN becomes 0 and values
 * beyond the int32 range saturate.
 * @example
 * astype(x, 'int32')
 * @since 0.1.0
 */
export const astype = (x: Tensor, dtype: DType): Tensor => {
  requireConcrete('astype', 'x', x)
  if (!isDType(dtype))
    throw new DTypeError('astype', `unknown target dtype ${String(dtype)}; ${DTYPES_EXPECTED}`)
  const from = checkDType('astype', 'x', x.dtype)
  return from === dtype ? x : getBackend().cast(x, dtype)
}
