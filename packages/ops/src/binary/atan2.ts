// y = atan2(a, b) (the angle of the point (b, a)) ; ā = ȳ b / (a² + b²), b̄ = −ȳ a / (a² + b²)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { unbroadcast } from '../core/unbroadcast'
import { neg } from '../elementwise/neg'
import { square } from '../elementwise/square'
import { add } from './add'
import { div } from './div'
import { mul } from './mul'
import { operands } from '../internal/operands'
import { signBit } from '../internal/onnxLowering'
import type { OnnxBuilder } from '../staging/onnx/builder'

/** The `atan2` op. @since 0.2.0 */
export const atan2Op = defineOp<'atan2', [Tensor, Tensor]>({
  name: 'atan2',
  forward: ([a, b]) => T.atan2(a, b),
  abstract: ([a, b]) => T.binaryOutput('atan2', a, b),
  vjp: (ct, [a, b], _y, _p, needed) => {
    // ȳ / (a² + b²), shared by both cotangents (the origin, where it is 0/0, has no derivative).
    const scaled = div(ct, add(square(a), square(b)))
    return [
      needed[0] ? unbroadcast(mul(scaled, b), a.shape) : undefined,
      needed[1] ? unbroadcast(neg(mul(scaled, a)), b.shape) : undefined,
    ]
  },
  batch: batchElementwise,
  onnx: (g, [a, b], _p, { inputs: [aa, ab], output }) => {
    if (output.dtype !== 'float32')
      g.unsupported(
        "ONNX has no Atan2 and ONNX Runtime's CPU provider has no float64 Atan kernel to build it from (float32 only)",
      )
    return atan2Onnx(g, g.cast(a, aa.dtype, 'float32'), g.cast(b, ab.dtype, 'float32'))
  },
})

/**
 * C's atan2(a, b) in float32 ONNX operators (ONNX has no Atan2): atan(a / b), plus ±π (the sign of
 * a) where b's sign bit is set, with the cases a / b gets wrong fixed: both zeros (±0 where b is +0,
 * ±π where b is −0, the sign of a) and both infinite (±π/4 for b = +∞, ±3π/4 for b = −∞).
 * Exact in its special values: signs of zero as C gives them.
 */
const atan2Onnx = (g: OnnxBuilder, a: string, b: string): string => {
  const f = 'float32'
  const aNegative = signBit(g, a, f)
  const bNegative = signBit(g, b, f)
  const signedA = (magnitude: number): string =>
    g.node('Where', [aNegative, g.scalar(-magnitude, f), g.scalar(magnitude, f)])
  const base = g.node('Atan', [g.node('Div', [a, b])])
  const general = g.node('Where', [bNegative, g.node('Add', [base, signedA(Math.PI)]), base])
  const zeros = g.node('And', [g.node('Equal', [a, g.scalar(0, f)]), g.node('Equal', [b, g.scalar(0, f)])])
  const atZeros = g.node('Where', [bNegative, signedA(Math.PI), a])
  const infinite = g.node('And', [g.node('IsInf', [a]), g.node('IsInf', [b])])
  const atInfinities = g.node('Where', [bNegative, signedA((3 * Math.PI) / 4), signedA(Math.PI / 4)])
  const angle = g.node('Where', [infinite, atInfinities, g.node('Where', [zeros, atZeros, general])])
  // The result has a's sign bit (−0 included), which ONNX Runtime's Where drops from a −0: |angle|
  // times ±1 restores it.
  const aSign = g.node('Sub', [g.scalar(1, f), g.node('Mul', [g.scalar(2, f), g.cast(aNegative, 'bool', f)])])
  return g.node('Mul', [g.node('Abs', [angle]), aSign])
}

/**
 * The angle of the point (b, a) from the positive b axis, in (-π, π], elementwise (C's
 * `atan2(y, x)` with `a = y`, `b = x`). Broadcasts like NumPy; int32 operands give float32.
 * @example
 * atan2(tensor([1, -1]), tensor([0, 0])) // [1.5708, -1.5708]
 * @throws ShapeError when the shapes do not broadcast.
 * @since 0.2.0
 */
export const atan2 = (a: Tensor | number, b: Tensor | number): Tensor =>
  applyOp(atan2Op, operands(a, b), undefined)
