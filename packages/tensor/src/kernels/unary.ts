/**
 * Elementwise functions of one tensor.
 *
 * Dtypes: `neg`, `abs`, `sign`, `square`, `relu`, `floor`, `ceil` and `round` keep the input dtype
 * (int32 stays int32). The real-valued functions (`exp`, `expm1`, `log`, `log1p`, `sqrt`, `rsqrt`,
 * `reciprocal`, `sin`, `cos`, `tanh`, `erf`, `sigmoid`, `softplus`) give float32 for int32 input and keep
 * float32 / float64. int32 arithmetic wraps around like C (`neg` of -2^31 is -2^31).
 * @since 0.1.0
 */
import { getBackend, type UnaryOp } from '../backend'
import { isDType, toFloat, type DType } from '../dtype'
import { DTypeError } from '../errors'
import { requireConcrete, type Tensor } from '../tensor'

/** Whether each function is real-valued: int32 input then gives float32 (exp), else keeps its dtype (abs). */
const REAL_VALUED: Readonly<Record<UnaryOp, boolean>> = {
  neg: false,
  abs: false,
  sign: false,
  exp: true,
  expm1: true,
  log: true,
  log1p: true,
  sqrt: true,
  rsqrt: true,
  square: false,
  reciprocal: true,
  sin: true,
  cos: true,
  tanh: true,
  erf: true,
  sigmoid: true,
  relu: false,
  softplus: true,
  floor: false,
  ceil: false,
  round: false,
  tan: true,
  asin: true,
  acos: true,
  atan: true,
  sinh: true,
  cosh: true,
}

/**
 * The dtype the unary kernel `op` gives for an input of dtype `dtype`: float32 for int32 input to a
 * real-valued function (`exp`, `sin`, ...), the input dtype otherwise (see the module comment). The
 * kernels and the shape/dtype rules of `@backfold/ops` both use it; the output shape is the input's.
 * @example
 * unaryDType('exp', 'int32') // 'float32'
 * unaryDType('abs', 'int32') // 'int32'
 * @throws DTypeError when `dtype` is not a dtype.
 * @since 0.2.0
 */
export const unaryDType = (op: UnaryOp, dtype: DType): DType => {
  if (!isDType(dtype))
    throw new DTypeError(op, `x has dtype ${String(dtype)}; expected 'float32', 'float64' or 'int32'`)
  return REAL_VALUED[op] ? toFloat(dtype) : dtype
}

const run = (op: UnaryOp, x: Tensor): Tensor => {
  requireConcrete(op, 'x', x)
  const outDtype = unaryDType(op, x.dtype)
  const backend = getBackend()
  const input = outDtype === x.dtype ? x : backend.cast(x, outDtype)
  return backend.unary(op, input, outDtype)
}

/**
 * `-x`.
 * @example
 * neg(x) // [1, -2] for x = [-1, 2]
 * @since 0.1.0
 */
export const neg = (x: Tensor): Tensor => run('neg', x)

/** `|x|`. @since 0.1.0 */
export const abs = (x: Tensor): Tensor => run('abs', x)

/** -1, 0 or 1 by the sign of `x`; `sign(0)` is 0 and `sign(NaN)` is NaN. @since 0.1.0 */
export const sign = (x: Tensor): Tensor => run('sign', x)

/**
 * `e^x`.
 * @example
 * exp(x) // [1, 2.7182817] for x = [0, 1]
 * @since 0.1.0
 */
export const exp = (x: Tensor): Tensor => run('exp', x)

/** `e^x - 1`, accurate for small `x`. @since 0.1.0 */
export const expm1 = (x: Tensor): Tensor => run('expm1', x)

/** Natural logarithm (`log(0)` is -Infinity, negative input gives NaN). @since 0.1.0 */
export const log = (x: Tensor): Tensor => run('log', x)

/** `log(1 + x)`, accurate for small `x`. @since 0.1.0 */
export const log1p = (x: Tensor): Tensor => run('log1p', x)

/** Square root (negative input gives NaN). @since 0.1.0 */
export const sqrt = (x: Tensor): Tensor => run('sqrt', x)

/** `1 / sqrt(x)`. @since 0.1.0 */
export const rsqrt = (x: Tensor): Tensor => run('rsqrt', x)

/** `x * x` (keeps int32; int32 overflow wraps). @since 0.1.0 */
export const square = (x: Tensor): Tensor => run('square', x)

/** `1 / x`. @since 0.1.0 */
export const reciprocal = (x: Tensor): Tensor => run('reciprocal', x)

/** Sine (radians). @since 0.1.0 */
export const sin = (x: Tensor): Tensor => run('sin', x)

/** Cosine (radians). @since 0.1.0 */
export const cos = (x: Tensor): Tensor => run('cos', x)

/** Hyperbolic tangent. @since 0.1.0 */
export const tanh = (x: Tensor): Tensor => run('tanh', x)

/** The error function `erf x = 2/√π ∫₀ˣ e^{-t²} dt` (relative error ~2e-15). @since 0.1.0 */
export const erf = (x: Tensor): Tensor => run('erf', x)

/**
 * Logistic function `1 / (1 + e^-x)`, computed from `e^-|x|` so that it neither overflows nor
 * gives NaN for large `|x|`: `sigmoid(1000)` is 1 and `sigmoid(-1000)` is 0.
 * @example
 * sigmoid(x) // [0, 0.5, 1] for x = [-1000, 0, 1000]
 * @since 0.1.0
 */
export const sigmoid = (x: Tensor): Tensor => run('sigmoid', x)

/**
 * `max(x, 0)`; `relu(0)` is 0 and NaN propagates.
 * @example
 * relu(x) // [0, 0, 2] for x = [-1, 0, 2]
 * @since 0.1.0
 */
export const relu = (x: Tensor): Tensor => run('relu', x)

/**
 * `log(1 + e^x)`, computed as `max(x, 0) + log1p(e^-|x|)` so it is exact-to-rounding for large
 * `|x|`: `softplus(1000)` is 1000 and `softplus(-1000)` is 0.
 * @since 0.1.0
 */
export const softplus = (x: Tensor): Tensor => run('softplus', x)

/** Largest integer <= `x` (identity on int32). @since 0.1.0 */
export const floor = (x: Tensor): Tensor => run('floor', x)

/** Smallest integer >= `x` (identity on int32). @since 0.1.0 */
export const ceil = (x: Tensor): Tensor => run('ceil', x)

/**
 * Nearest integer, halves to even ("banker's rounding", as NumPy and PyTorch):
 * 0.5 → 0, 1.5 → 2, 2.5 → 2, -0.5 → -0. This differs from `Math.round`, which rounds halves up.
 * @example
 * round(x) // [0, 2, 2, -2] for x = [0.5, 1.5, 2.5, -1.5]
 * @since 0.1.0
 */
export const round = (x: Tensor): Tensor => run('round', x)

/** Tangent (radians). @example tan(tensor([0, Math.PI / 4])) // [0, 1] @since 0.2.0 */
export const tan = (x: Tensor): Tensor => run('tan', x)

/** Inverse sine, in [-π/2, π/2] (NaN outside [-1, 1]). @example asin(tensor([0, 1])) // [0, π/2] @since 0.2.0 */
export const asin = (x: Tensor): Tensor => run('asin', x)

/** Inverse cosine, in [0, π] (NaN outside [-1, 1]). @example acos(tensor([1, 0])) // [0, π/2] @since 0.2.0 */
export const acos = (x: Tensor): Tensor => run('acos', x)

/** Inverse tangent, in (-π/2, π/2). @example atan(tensor([0, 1])) // [0, π/4] @since 0.2.0 */
export const atan = (x: Tensor): Tensor => run('atan', x)

/** Hyperbolic sine. @example sinh(tensor([0])) // [0] @since 0.2.0 */
export const sinh = (x: Tensor): Tensor => run('sinh', x)

/** Hyperbolic cosine. @example cosh(tensor([0])) // [1] @since 0.2.0 */
export const cosh = (x: Tensor): Tensor => run('cosh', x)
