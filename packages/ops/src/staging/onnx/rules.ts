// Lowerings shared by families of ops (an elementwise op is one ONNX operator on inputs cast to the
// output's dtype). Each maker is free of side effects, so an op definition may call it at module
// load without keeping the op in every bundle.
import type { OnnxBuilder, OnnxLowering } from './builder'

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
