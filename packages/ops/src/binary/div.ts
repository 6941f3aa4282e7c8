// y = a / b ; ā = ȳ / b, b̄ = −ȳ y / b
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { unbroadcast } from '../core/unbroadcast'
import { neg } from '../elementwise/neg'
import { mul } from './mul'
import { operands } from '../internal/operands'
import { realBinaryOnnx } from '../staging/onnx/rules'

/** The `div` op. @since 0.1.0 */
export const divOp = defineOp<'div', [Tensor, Tensor]>({
  name: 'div',
  forward: ([a, b]) => T.div(a, b),
  abstract: ([a, b]) => T.binaryOutput('div', a, b),
  vjp: (ct, [a, b], y, _p, needed) => [
    needed[0] ? unbroadcast(div(ct, b), a.shape) : undefined,
    needed[1] ? unbroadcast(neg(mul(ct, div(y, b))), b.shape) : undefined,
  ],
  batch: batchElementwise,
  onnx: realBinaryOnnx('Div'),
})

/**
 * Elementwise quotient (true division: int32 / int32 gives float32). Broadcasts like NumPy; dtypes promote (a plain number takes the other operand's dtype).
 * @example
 * div(tensor([1, 3]), 2) // [0.5, 1.5]
 * @throws ShapeError when the shapes do not broadcast.
 * @since 0.1.0
 */
export const div = (a: Tensor | number, b: Tensor | number): Tensor =>
  applyOp(divOp, operands(a, b), undefined)
