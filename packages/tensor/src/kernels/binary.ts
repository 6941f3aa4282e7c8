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
import { broadcastShapes, type Shape } from '../shape'
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

/** What a shape and dtype rule reads of an operand: a tensor's shape and dtype, or a weak number. */
type OperandAval = { readonly shape: Shape; readonly dtype: DType } | number

/** The common dtype of operands, numbers being weak (see the module comment). */
const commonDType = (op: string, a: OperandAval, b: OperandAval): DType => {
  const operands = [a, b]
  let strong: DType | undefined
  for (let i = 0; i < operands.length; i++) {
    const operand = operands[i]!
    if (typeof operand === 'number') continue
    const dtype = checkDType(op, i === 0 ? 'a' : 'b', operand.dtype)
    strong = strong === undefined ? dtype : promoteTypes(strong, dtype)
  }
  if (strong === undefined) return 'float32'
  for (const operand of operands) if (typeof operand === 'number') strong = weakNumberDType(operand, strong)
  return strong
}

/**
 * The dtype a plain number takes next to a tensor of `dtype` (numbers are weak, see the module
 * comment): `dtype`, except float32 for a number that is not an int32 value next to int32.
 * @example
 * weakNumberDType(2, 'int32')   // 'int32'
 * weakNumberDType(2.5, 'int32') // 'float32'
 * @since 0.2.0
 */
export const weakNumberDType = (value: number, dtype: DType): DType =>
  dtype === 'int32' && !isInt32Value(value) ? 'float32' : dtype

const shapeOf = (operand: OperandAval): Shape => (typeof operand === 'number' ? [] : operand.shape)

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

/** The dtype both operands are cast to, and the output's shape and dtype. */
const binaryPlan = (
  op: BinaryOp,
  a: OperandAval,
  b: OperandAval,
): { readonly operandDtype: DType; readonly shape: number[]; readonly dtype: DType } => {
  const operandDtype = commonDType(op, a, b)
  const shape = broadcastShapes(op, shapeOf(a), shapeOf(b))
  const dtype: DType = COMPARISONS.has(op)
    ? 'int32'
    : (op === 'div' || op === 'pow' || op === 'atan2') && operandDtype === 'int32'
      ? 'float32'
      : operandDtype
  return { operandDtype, shape, dtype }
}

/**
 * The shape and dtype of the binary kernel `op` applied to `a` and `b` (tensors, possibly abstract,
 * or weak numbers), without computing it: the kernel's own broadcasting and promotion, so its
 * errors (`ShapeError`, `DTypeError` naming `op` and the shapes) are the kernel's. What the ops'
 * shape rules use for staging.
 * @example
 * binaryOutput('div', { shape: [3, 1], dtype: 'int32' }, { shape: [4], dtype: 'int32' })
 * // { shape: [3, 4], dtype: 'float32' }
 * @throws ShapeError when the shapes do not broadcast; DTypeError for an unknown dtype.
 * @since 0.2.0
 */
export const binaryOutput = (
  op: BinaryOp,
  a: OperandAval,
  b: OperandAval,
): { readonly shape: number[]; readonly dtype: DType } => {
  const { shape, dtype } = binaryPlan(op, a, b)
  return { shape, dtype }
}

const run = (op: BinaryOp, a: Tensor | number, b: Tensor | number): Tensor => {
  requireConcrete(op, 'a', a)
  requireConcrete(op, 'b', b)
  const { operandDtype, shape, dtype } = binaryPlan(op, a, b)
  const left = asTensor(a, operandDtype)
  const right = asTensor(b, operandDtype)
  return getBackend().binary(op, left, right, shape, dtype)
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

/**
 * The angle of the point (b, a) from the positive b axis, in (-π, π] (C's `atan2(y, x)` with
 * `a = y`, `b = x`); int32 operands give float32. Broadcasts like NumPy.
 * @example
 * atan2(tensor([1, -1]), tensor([0, 0])) // [π/2, -π/2]
 * @since 0.2.0
 */
export const atan2 = (a: Tensor | number, b: Tensor | number): Tensor => run('atan2', a, b)

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
  const { shape, dtype } = whereOutput(cond, a, b)
  return getBackend().where(cond, asTensor(a, dtype), asTensor(b, dtype), shape, dtype)
}

/**
 * The shape and dtype of `where(cond, a, b)` (tensors, possibly abstract, or weak numbers) without
 * computing it: the kernel's own checks and messages. What the `where` op's shape rule uses.
 * @example
 * whereOutput({ shape: [3, 1], dtype: 'int32' }, { shape: [4], dtype: 'float32' }, 0)
 * // { shape: [3, 4], dtype: 'float32' }
 * @throws ShapeError when the three shapes do not broadcast; DTypeError for an unknown dtype.
 * @since 0.2.0
 */
export const whereOutput = (
  cond: { readonly shape: Shape; readonly dtype: DType },
  a: OperandAval,
  b: OperandAval,
): { readonly shape: number[]; readonly dtype: DType } => {
  checkDType('where', 'cond', cond.dtype)
  const dtype = commonDType('where', a, b)
  const condShape = cond.shape
  const aShape = shapeOf(a)
  const bShape = shapeOf(b)
  try {
    return { shape: broadcastShapes('where', broadcastShapes('where', condShape, aShape), bShape), dtype }
  } catch (error) {
    if (!(error instanceof ShapeError)) throw error
    throw new ShapeError(
      'where',
      `cannot broadcast cond ${fmtShape(condShape)}, a ${fmtShape(aShape)} and b ${fmtShape(bShape)} ` +
        `together; trailing dimensions must be equal or 1`,
    )
  }
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
  astypeOutput(x, dtype)
  return x.dtype === dtype ? x : getBackend().cast(x, dtype)
}

/**
 * The shape and dtype of `astype(x, dtype)` (`x` may be abstract: only its shape and dtype are
 * read), with the kernel's own checks: `x`'s shape, `dtype`.
 * @example
 * astypeOutput({ shape: [2, 3], dtype: 'float32' }, 'int32') // { shape: [2, 3], dtype: 'int32' }
 * @throws DTypeError for an unknown dtype of `x` or target dtype.
 * @since 0.2.0
 */
export const astypeOutput = (
  x: { readonly shape: Shape; readonly dtype: DType },
  dtype: DType,
): { readonly shape: number[]; readonly dtype: DType } => {
  if (!isDType(dtype))
    throw new DTypeError('astype', `unknown target dtype ${String(dtype)}; ${DTYPES_EXPECTED}`)
  checkDType('astype', 'x', x.dtype)
  return { shape: [...x.shape], dtype }
}
