/**
 * Elementwise functions of one tensor.
 *
 * Dtypes: `neg`, `abs`, `sign`, `square`, `relu`, `floor`, `ceil` and `round` keep the input dtype
 * (int32 stays int32). The real-valued functions (`exp`, `expm1`, `log`, `log1p`, `sqrt`, `rsqrt`,
 * `reciprocal`, `sin`, `cos`, `tanh`, `sigmoid`, `softplus`) give float32 for int32 input and keep
 * float32 / float64. int32 arithmetic wraps around like C (`neg` of -2^31 is -2^31).
 * @since 0.1.0
 */
import { getBackend, type UnaryOp } from '../backend'
import { isDType, toFloat, type DType } from '../dtype'
import { DTypeError } from '../errors'
import { requireConcrete, type Tensor } from '../tensor'

const run = (op: UnaryOp, x: Tensor, realValued: boolean): Tensor => {
  requireConcrete(op, 'x', x)
  const dtype = x.dtype
  if (!isDType(dtype))
    throw new DTypeError(op, `x has dtype ${String(dtype)}; expected 'float32', 'float64' or 'int32'`)
  const outDtype: DType = realValued ? toFloat(dtype) : dtype
  const backend = getBackend()
  const input = outDtype === dtype ? x : backend.cast(x, outDtype)
  return backend.unary(op, input, outDtype)
}

/**
 * `-x`.
 * @example
 * neg(x) // [1, -2] for x = [-1, 2]
 * @since 0.1.0
 */
export const neg = (x: Tensor): Tensor => run('neg', x, false)

/** `|x|`. @since 0.1.0 */
export const abs = (x: Tensor): Tensor => run('abs', x, false)

/** -1, 0 or 1 by the sign of `x`; `sign(0)` is 0 and `sign(NaN)` is NaN. @since 0.1.0 */
export const sign = (x: Tensor): Tensor => run('sign', x, false)

/**
 * `e^x`.
 * @example
 * exp(x) // [1, 2.7182817] for x = [0, 1]
 * @since 0.1.0
 */
export const exp = (x: Tensor): Tensor => run('exp', x, true)

/** `e^x - 1`, accurate for small `x`. @since 0.1.0 */
export const expm1 = (x: Tensor): Tensor => run('expm1', x, true)

/** Natural logarithm (`log(0)` is -Infinity, negative input gives NaN). @since 0.1.0 */
export const log = (x: Tensor): Tensor => run('log', x, true)

/** `log(1 + x)`, accurate for small `x`. @since 0.1.0 */
export const log1p = (x: Tensor): Tensor => run('log1p', x, true)

/** Square root (negative input gives NaN). @since 0.1.0 */
export const sqrt = (x: Tensor): Tensor => run('sqrt', x, true)

/** `1 / sqrt(x)`. @since 0.1.0 */
export const rsqrt = (x: Tensor): Tensor => run('rsqrt', x, true)

/** `x * x` (keeps int32; int32 overflow wraps). @since 0.1.0 */
export const square = (x: Tensor): Tensor => run('square', x, false)

/** `1 / x`. @since 0.1.0 */
export const reciprocal = (x: Tensor): Tensor => run('reciprocal', x, true)

/** Sine (radians). @since 0.1.0 */
export const sin = (x: Tensor): Tensor => run('sin', x, true)

/** Cosine (radians). @since 0.1.0 */
export const cos = (x: Tensor): Tensor => run('cos', x, true)

/** Hyperbolic tangent. @since 0.1.0 */
export const tanh = (x: Tensor): Tensor => run('tanh', x, true)

/** The error function `erf x = 2/√π ∫₀ˣ e^{-t²} dt` (relative error ~2e-15). @since 0.1.0 */
export const erf = (x: Tensor): Tensor => run('erf', x, true)

/**
 * Logistic function `1 / (1 + e^-x)`, computed from `e^-|x|` so that it neither overflows nor
 * gives NaN for large `|x|`: `sigmoid(1000)` is 1 and `sigmoid(-1000)` is 0.
 * @example
 * sigmoid(x) // [0, 0.5, 1] for x = [-1000, 0, 1000]
 * @since 0.1.0
 */
export const sigmoid = (x: Tensor): Tensor => run('sigmoid', x, true)

/**
 * `max(x, 0)`; `relu(0)` is 0 and NaN propagates.
 * @example
 * relu(x) // [0, 0, 2] for x = [-1, 0, 2]
 * @since 0.1.0
 */
export const relu = (x: Tensor): Tensor => run('relu', x, false)

/**
 * `log(1 + e^x)`, computed as `max(x, 0) + log1p(e^-|x|)` so it is exact-to-rounding for large
 * `|x|`: `softplus(1000)` is 1000 and `softplus(-1000)` is 0.
 * @since 0.1.0
 */
export const softplus = (x: Tensor): Tensor => run('softplus', x, true)

/** Largest integer <= `x` (identity on int32). @since 0.1.0 */
export const floor = (x: Tensor): Tensor => run('floor', x, false)

/** Smallest integer >= `x` (identity on int32). @since 0.1.0 */
export const ceil = (x: Tensor): Tensor => run('ceil', x, false)

/**
 * Nearest integer, halves to even ("banker's rounding", as NumPy and PyTorch):
 * 0.5 → 0, 1.5 → 2, 2.5 → 2, -0.5 → -0. This differs from `Math.round`, which rounds halves up.
 * @example
 * round(x) // [0, 2, 2, -2] for x = [0.5, 1.5, 2.5, -1.5]
 * @since 0.1.0
 */
export const round = (x: Tensor): Tensor => run('round', x, false)
