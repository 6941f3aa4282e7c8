// y = a + b ; ā = ȳ, b̄ = ȳ (each summed back to its shape)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { unbroadcast } from '../core/unbroadcast'
import { batchElementwise } from '../core/batching'
import { operands } from '../internal/operands'
import { binaryOnnx } from '../staging/onnx/rules'

/** The `add` op. @since 0.1.0 */
export const addOp = defineOp<'add', [Tensor, Tensor]>({
  name: 'add',
  forward: ([a, b]) => T.add(a, b),
  abstract: ([a, b]) => T.binaryOutput('add', a, b),
  vjp: (ct, [a, b], _y, _p, needed) => [
    needed[0] ? unbroadcast(ct, a.shape) : undefined,
    needed[1] ? unbroadcast(ct, b.shape) : undefined,
  ],
  batch: batchElementwise,
  onnx: binaryOnnx('Add'),
})

/**
 * Elementwise sum. Broadcasts like NumPy; dtypes promote (a plain number takes the other operand's dtype).
 * @example
 * add(tensor([[1], [2]]), tensor([10, 20])) // [[11, 21], [12, 22]]
 * @throws ShapeError when the shapes do not broadcast.
 * @since 0.1.0
 */
export const add = (a: Tensor | number, b: Tensor | number): Tensor =>
  applyOp(addOp, operands(a, b), undefined)
