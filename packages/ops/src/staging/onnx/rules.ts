// Lowerings shared by families of ops (an elementwise op is one ONNX operator on inputs cast to the
// output's dtype). Each maker is free of side effects, so an op definition may call it at module
// load without keeping the op in every bundle.
import { promoteTypes } from '@backfold/tensor'
import type { OnnxBuilder, OnnxDType, OnnxLowering } from './builder'

/**
 * An elementwise op of one input that is the ONNX operator `opType` on the input cast to the
 * output's dtype (backfold's int32 → float32 rule of `exp`, `sqrt`...).
 * @internal
 */
/* @__NO_SIDE_EFFECTS__ */
export function unaryOnnx(opType: string): OnnxLowering<readonly [unknown], unknown> {
  return (b, [x], _p, avals) => b.node(opType, [b.cast(x, avals.inputs[0].dtype, avals.output.dtype)])
}

/**
 * An elementwise op of two inputs that is the ONNX operator `opType` (which broadcasts like NumPy,
 * as backfold does) on both inputs cast to the output's dtype (backfold promotes, ONNX does not).
 * @internal
 */
/* @__NO_SIDE_EFFECTS__ */
export function binaryOnnx(opType: string): OnnxLowering<readonly [unknown, unknown], unknown> {
  return (b, [x, y], _p, { inputs: [ax, ay], output }) =>
    b.node(opType, [b.cast(x, ax.dtype, output.dtype), b.cast(y, ay.dtype, output.dtype)])
}

/** `x` with its last two axes swapped (a rank-`rank` value). @internal */
export const swapLastTwo = (b: OnnxBuilder, x: string, rank: number): string =>
  b.node('Transpose', [x], {
    perm: Array.from({ length: rank }, (_, i) => (i < rank - 2 ? i : i === rank - 2 ? rank - 1 : rank - 2)),
  })

/**
 * A comparison (`negate`: its negation): both operands cast to their promoted dtype (as backfold compares them), the ONNX
 * operator `opType` (a `bool` result), cast to backfold's int32 mask.
 * @internal
 */
/* @__NO_SIDE_EFFECTS__ */
export function compareOnnx(
  opType: string,
  negate = false,
): OnnxLowering<readonly [unknown, unknown], unknown> {
  return (b, [x, y], _p, { inputs: [ax, ay], output }) => {
    const common = promoteTypes(ax.dtype, ay.dtype)
    const mask = b.node(opType, [b.cast(x, ax.dtype, common), b.cast(y, ay.dtype, common)])
    return b.cast(negate ? b.node('Not', [mask]) : mask, 'bool', output.dtype)
  }
}

/**
 * A binary op whose int32 operands give a float32 result (`div`, `pow`): backfold computes it in
 * float64 and rounds once, so int32 operands go through float64 here too.
 * @internal
 */
/* @__NO_SIDE_EFFECTS__ */
export function realBinaryOnnx(opType: string): OnnxLowering<readonly [unknown, unknown], unknown> {
  return (b, [x, y], _p, { inputs: [ax, ay], output }) => {
    const common = promoteTypes(ax.dtype, ay.dtype)
    const via = common === 'int32' ? 'float64' : output.dtype
    const z = b.node(opType, [b.cast(x, ax.dtype, via), b.cast(y, ay.dtype, via)])
    return b.cast(z, via, output.dtype)
  }
}

/** Parameters of a reduction: sorted axes and keepDims. */
interface Reduced {
  readonly axes: ReadonlyArray<number>
  readonly keepDims: boolean
}

/**
 * A reduction over `p.axes` as the ONNX operator `opType` (input cast to the output's dtype first,
 * so an int32 mean divides in floats), with the axes kept and the result reshaped to the op's
 * output shape; no axes is the identity (ONNX would reduce every axis).
 * @internal
 */
/* @__NO_SIDE_EFFECTS__ */
export function reduceOnnx(opType: string): OnnxLowering<readonly [unknown], Reduced> {
  return (b, [x], p, { inputs: [ax], output }) =>
    reduceTo(b, opType, b.cast(x, ax.dtype, output.dtype), p.axes, output.shape)
}

/** `opType` over `axes` of `x` (keepdims), reshaped to `shape`; axes are an input from opset 18 on (ReduceSum: 13). */
export const reduceTo = (
  b: OnnxBuilder,
  opType: string,
  x: string,
  axes: ReadonlyArray<number>,
  shape: ReadonlyArray<number>,
): string => {
  if (axes.length === 0) return b.node('Reshape', [x, b.int64s(shape)])
  const reduced =
    opType === 'ReduceSum' || b.opset >= 18
      ? b.node(opType, [x, b.int64s(axes)], { keepdims: 1 })
      : b.node(opType, [x], { axes, keepdims: 1 })
  return b.node('Reshape', [reduced, b.int64s(shape)])
}

/** log Σ exp over `axes` (keepdims), shifted by the finite maximum so it neither overflows nor gives NaN for all −∞. */
export const logSumExp = (
  b: OnnxBuilder,
  x: string,
  axes: ReadonlyArray<number>,
  dtype: OnnxDType,
): string => {
  const max =
    b.opset >= 18
      ? b.node('ReduceMax', [x, b.int64s(axes)], { keepdims: 1 })
      : b.node('ReduceMax', [x], { axes, keepdims: 1 })
  // An infinite (or NaN) maximum shifts by 0 instead: exp(x − ∞) would be NaN.
  const zero = b.scalar(0, dtype)
  const finite = b.node('Where', [b.node('IsInf', [max]), zero, max])
  const shift = b.node('Where', [b.node('IsNaN', [finite]), zero, finite])
  const sum = b.node('ReduceSum', [b.node('Exp', [b.node('Sub', [x, shift])]), b.int64s(axes)], {
    keepdims: 1,
  })
  return b.node('Add', [b.node('Log', [sum]), shift])
}

/**
 * log(1 + x) accurate near 0 without a Log1p operator: for |x| < 0.5, Kahan's
 * log(u) · x / (u − 1) with u = 1 + x (x itself where u rounds to 1); log(u) elsewhere.
 * @internal
 */
export const log1pOnnx = (b: OnnxBuilder, x: string, dtype: OnnxDType): string => {
  const one = b.scalar(1, dtype)
  const u = b.node('Add', [x, one])
  const log = b.node('Log', [u])
  const kahan = b.node('Where', [
    b.node('Equal', [u, one]),
    x,
    b.node('Div', [b.node('Mul', [log, x]), b.node('Sub', [u, one])]),
  ])
  return b.node('Where', [b.node('Less', [b.node('Abs', [x]), b.scalar(0.5, dtype)]), kahan, log])
}

/**
 * exp(x) − 1 accurate near 0 without an Expm1 operator: for |x| < 0.5, Kahan's
 * (u − 1) · x / log(u) with u = exp(x) (x itself where u rounds to 1); u − 1 elsewhere.
 * @internal
 */
export const expm1Onnx = (b: OnnxBuilder, x: string, dtype: OnnxDType): string => {
  const one = b.scalar(1, dtype)
  const u = b.node('Exp', [x])
  const um1 = b.node('Sub', [u, one])
  const kahan = b.node('Where', [
    b.node('Equal', [u, one]),
    x,
    b.node('Div', [b.node('Mul', [um1, x]), b.node('Log', [u])]),
  ])
  return b.node('Where', [b.node('Less', [b.node('Abs', [x]), b.scalar(0.5, dtype)]), kahan, um1])
}

const INT32_MAX = 2147483647
const INT32_MIN = -2147483648

/**
 * backfold's cast: to int32 truncates toward zero, NaN becomes 0 and values outside the int32 range
 * saturate (ONNX's Cast leaves those undefined); every other conversion is ONNX's Cast.
 * @internal
 */
export const castOnnx = (b: OnnxBuilder, x: string, from: OnnxDType, to: OnnxDType): string => {
  if (from === to) return x
  if (to !== 'int32' || (from !== 'float32' && from !== 'float64')) return b.cast(x, from, to)
  const inRange = b.node('And', [
    b.node('Less', [x, b.scalar(INT32_MAX, from)]),
    b.node('Greater', [x, b.scalar(INT32_MIN, from)]),
  ])
  const truncated = b.cast(b.node('Where', [inRange, x, b.scalar(0, from)]), from, 'int32')
  const outside = b.node('Where', [
    b.node('GreaterOrEqual', [x, b.scalar(INT32_MAX, from)]),
    b.scalar(INT32_MAX, 'int32'),
    b.node('Where', [b.node('IsNaN', [x]), b.scalar(0, 'int32'), b.scalar(INT32_MIN, 'int32')]),
  ])
  return b.node('Where', [inRange, truncated, outside])
}

/**
 * `argmax`/`argmin` as ArgMax/ArgMin (first index of ties, as backfold's) over `p.axis`, or over
 * the flattened tensor when it is undefined; int64 indices cast to int32, reshaped to the output.
 * @internal
 */
/* @__NO_SIDE_EFFECTS__ */
export function argReduceOnnx(
  opType: string,
): OnnxLowering<readonly [unknown], { readonly axis: number | undefined; readonly keepDims: boolean }> {
  return (b, [x], p, { inputs: [ax], output }) => {
    const flat =
      p.axis === undefined ? b.node('Reshape', [x, b.int64s([ax.shape.reduce((n, d) => n * d, 1)])]) : x
    const index = b.node(opType, [flat], { axis: p.axis ?? 0, keepdims: 1, select_last_index: 0 })
    return b.node('Reshape', [b.cast(index, 'int64', 'int32'), b.int64s(output.shape)])
  }
}
