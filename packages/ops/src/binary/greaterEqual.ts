// y = [a ≥ b] ; ā = b̄ = 0 (a comparison has no useful derivative)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { zeroCotangents } from '../core/zeroCotangents'
import { operands } from '../internal/operands'
import { compareOnnx } from '../staging/onnx/rules'

/** The `greaterEqual` op. @since 0.1.0 */
export const greaterEqualOp = defineOp<'greaterEqual', [Tensor, Tensor]>({
  name: 'greaterEqual',
  forward: ([a, b]) => T.greaterEqual(a, b),
  abstract: ([a, b]) => T.binaryOutput('greaterEqual', a, b),
  vjp: zeroCotangents,
  batch: batchElementwise,
  onnx: compareOnnx('GreaterOrEqual'),
})

/**
 * Elementwise comparison a ≥ b, as an int32 mask (1 where true, 0 where false). Broadcasts like NumPy; dtypes promote (a plain number takes the other operand's dtype).
 * Not differentiable: its VJP is explicitly zero for both operands.
 * @example
 * greaterEqual(tensor([1, 2, 3]), 2) // [0, 1, 1] (int32)
 * @throws ShapeError when the shapes do not broadcast.
 * @since 0.1.0
 */
export const greaterEqual = (a: Tensor | number, b: Tensor | number): Tensor =>
  applyOp(greaterEqualOp, operands(a, b), undefined)
