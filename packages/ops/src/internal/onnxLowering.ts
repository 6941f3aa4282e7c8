// ONNX lowering pieces shared by the shape, indexing, sort, scan and trigonometric ops (`Op.onnx`,
// issue #13). Makers are free of side effects, so an op definition may call them at module load.
import type { OnnxBuilder, OnnxLowering } from '../staging/onnx/builder'

/**
 * An elementwise op of one input that is the ONNX operator `opType` on the input cast to the
 * output's dtype, for the operators ONNX Runtime's CPU provider implements in float32 only (Tan,
 * Asin, Acos, Atan, Sinh, Cosh): a float64 output gives up rather than lose precision in float32.
 * @internal
 */
/* @__NO_SIDE_EFFECTS__ */
export function float32OnlyUnaryOnnx(opType: string): OnnxLowering<readonly [unknown], unknown> {
  return (b, [x], _p, { inputs: [ax], output }) => {
    if (output.dtype !== 'float32')
      b.unsupported(
        `ONNX Runtime's CPU provider has no ${output.dtype} ${opType} kernel (float32 only), and computing it in float32 would lose precision`,
      )
    return b.node(opType, [b.cast(x, ax.dtype, output.dtype)])
  }
}

/**
 * An op that leaves int32 input as it is and applies the float operator `opType` otherwise (round,
 * floor, ceil: integers are already whole).
 * @internal
 */
/* @__NO_SIDE_EFFECTS__ */
export function wholeNumberOnnx(opType: string): OnnxLowering<readonly [unknown], unknown> {
  return (b, [x], _p, { inputs: [ax] }) => b.node(ax.dtype === 'int32' ? 'Identity' : opType, [x])
}

/** `x < 0 or x is −0` as a bool value: the sign bit of a float (false for NaN). @internal */
export const signBit = (b: OnnxBuilder, x: string, dtype: 'float32' | 'float64'): string =>
  // 1/x carries the sign of x, including for ±0 (±∞); x < 0 covers −∞ (whose 1/x is −0).
  b.node('Or', [
    b.node('Less', [x, b.scalar(0, dtype)]),
    b.node('Less', [b.node('Div', [b.scalar(1, dtype), x]), b.scalar(0, dtype)]),
  ])

/**
 * int32 `indices` into an axis of `size`, made safe for ONNX's Gather, GatherElements and
 * ScatterElements, which read a negative index from the end where backfold rejects it: negative
 * indices become `−size − 1`, outside the range ONNX Runtime accepts, so the session fails with its
 * out-of-bounds error instead of returning elements counted from the end. In-range ones are unchanged.
 * @internal
 */
export const rejectNegative = (b: OnnxBuilder, indices: string, size: number): string =>
  b.node('Where', [b.node('Less', [indices, b.scalar(0, 'int32')]), b.scalar(-size - 1, 'int32'), indices])

/**
 * `x` shifted by `by` along `axis` (of size `size`, rank `rank`) towards higher indices, or lower ones
 * when `reverse`, with `fill` (in `dtype`) in the `by` vacated places.
 * @internal
 */
export const shiftAlong = (
  b: OnnxBuilder,
  x: string,
  axis: number,
  rank: number,
  size: number,
  by: number,
  reverse: boolean,
  fill: string,
): string => {
  const kept = reverse
    ? b.node('Slice', [x, b.int64s([by]), b.int64s([size]), b.int64s([axis])])
    : b.node('Slice', [x, b.int64s([0]), b.int64s([size - by]), b.int64s([axis])])
  const pads = new Array<number>(2 * rank).fill(0)
  pads[reverse ? rank + axis : axis] = by
  return b.node('Pad', [kept, b.int64s(pads), fill])
}

/**
 * The int64 positions that sort `x` (dtype `dtype`, `n` elements along `axis`) stably, NaN last
 * ascending and first descending, as backfold's argsort: ONNX TopK with k = n, whose ties come out
 * lowest index first in both directions (stable). NaN, which TopK cannot order, is sorted as +∞ and
 * then moved by a second stable TopK on the NaN flag. int32 goes through float64 (exact).
 * @internal
 */
export const argsortOnnx = (
  b: OnnxBuilder,
  x: string,
  dtype: 'float32' | 'float64' | 'int32',
  axis: number,
  n: number,
  descending: boolean,
): string => {
  const largest = descending ? 1 : 0
  const k = b.int64s([n])
  const topk = (values: string): string => b.nodes('TopK', [values, k], 2, { axis, largest, sorted: 1 })[1]!
  if (dtype === 'int32') return topk(b.cast(x, 'int32', 'float64'))
  const nan = b.node('IsNaN', [x])
  const order = topk(b.node('Where', [nan, b.scalar(Infinity, dtype), x]))
  const flags = b.node('GatherElements', [b.cast(nan, 'bool', dtype), order], { axis })
  return b.node('GatherElements', [order, topk(flags)], { axis })
}

/**
 * Why the random ops (`randomBits`, `randomSplit`, `randomUniform`...) have no ONNX lowering.
 * @internal
 */
export const RANDOM_ONNX =
  "backfold's counter-based generator (Threefry-2x32 of each key) cannot be written in ONNX opset 17 " +
  '(integer xor and and arrive in opset 18; ONNX Runtime has no uint32 addition), and the Random* ' +
  'operators of ONNX draw from another generator, so their samples would silently differ from eager ones'
