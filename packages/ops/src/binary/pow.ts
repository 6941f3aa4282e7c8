// y = aᵇ ; ā = ȳ b aᵇ⁻¹, b̄ = ȳ y ln a
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { unbroadcast } from '../core/unbroadcast'
import { astype } from '../elementwise/astype'
import { log } from '../elementwise/log'
import { equal } from './equal'
import { mul } from './mul'
import { sub } from './sub'
import { where } from './where'
import { operands } from '../internal/operands'
import { realBinaryOnnx } from '../staging/onnx/rules'

/** The `pow` op. @since 0.1.0 */
export const powOp = defineOp<'pow', [Tensor, Tensor]>({
  name: 'pow',
  forward: ([a, b]) => T.pow(a, b),
  abstract: ([a, b]) => T.binaryOutput('pow', a, b),
  vjp: (ct, [a, b], y, _p, needed) => {
    // Mixed float32/float64 operands: the derivative is computed in the promoted dtype (that of y),
    // so the float64 operand's cotangent is float64-accurate; the fold casts each cotangent back to
    // its input's dtype.
    const base = astype(a, y.dtype)
    const exponent = astype(b, y.dtype)
    // d/da: b a^(b−1), taken as 0 where b = 0 (else 0 · 0⁻¹ = NaN at a = 0), as PyTorch does.
    const dBase = (): Tensor =>
      where(equal(exponent, 0), 0, mul(ct, mul(exponent, pow(base, sub(exponent, 1)))))
    // d/db: y ln a, taken as 0 where a = 0 (the limit for b > 0) instead of 0 · (−∞) = NaN.
    const dExponent = (): Tensor => {
      const zeroBase = equal(base, 0)
      return where(zeroBase, 0, mul(ct, mul(y, log(where(zeroBase, 1, base)))))
    }
    // A constant exponent (x ** 2) needs no logarithm; a constant base no power.
    return [
      needed[0] ? unbroadcast(dBase(), a.shape) : undefined,
      needed[1] ? unbroadcast(dExponent(), b.shape) : undefined,
    ]
  },
  batch: batchElementwise,
  onnx: realBinaryOnnx('Pow'),
})

/**
 * Elementwise power aᵇ (int32 ** int32 gives float32). Broadcasts like NumPy; dtypes promote (a plain number takes the other operand's dtype).
 * Gradient conventions (PyTorch's): d/da is 0 where b = 0; d/db is 0 where a = 0; d/db is NaN for a < 0.
 * With mixed float32/float64 operands both gradients are computed in float64 and each is returned
 * in its operand's dtype, so the float64 one keeps float64 accuracy.
 * @example
 * pow(tensor([2, 3]), 2) // [4, 9]
 * @throws ShapeError when the shapes do not broadcast.
 * @since 0.1.0
 */
export const pow = (a: Tensor | number, b: Tensor | number): Tensor =>
  applyOp(powOp, operands(a, b), undefined)
