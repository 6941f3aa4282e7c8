// y = a b ; ā = ȳ b, b̄ = ȳ a
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { unbroadcast } from '../core/unbroadcast'
import { operands } from '../internal/operands'
import { binaryOnnx } from '../staging/onnx/rules'

/** The `mul` op. @since 0.1.0 */
export const mulOp = defineOp<'mul', [Tensor, Tensor]>({
  name: 'mul',
  forward: ([a, b]) => T.mul(a, b),
  abstract: ([a, b]) => T.binaryOutput('mul', a, b),
  vjp: (ct, [a, b], _y, _p, needed) => [
    needed[0] ? unbroadcast(mul(ct, b), a.shape) : undefined,
    needed[1] ? unbroadcast(mul(ct, a), b.shape) : undefined,
  ],
  batch: batchElementwise,
  onnx: binaryOnnx('Mul'),
})

/**
 * Elementwise product. Broadcasts like NumPy; dtypes promote (a plain number takes the other operand's dtype).
 * @example
 * mul(tensor([1, 2]), 3) // [3, 6]
 * @throws ShapeError when the shapes do not broadcast.
 * @since 0.1.0
 */
export const mul = (a: Tensor | number, b: Tensor | number): Tensor =>
  applyOp(mulOp, operands(a, b), undefined)
