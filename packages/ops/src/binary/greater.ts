// y = [a > b] ; ā = b̄ = 0 (a comparison has no useful derivative)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { zeroCotangents } from '../core/zeroCotangents'
import { operands } from '../internal/operands'
import { compareOnnx } from '../staging/onnx/rules'

/** The `greater` op. @since 0.1.0 */
export const greaterOp = defineOp<'greater', [Tensor, Tensor]>({
  name: 'greater',
  forward: ([a, b]) => T.greater(a, b),
  abstract: ([a, b]) => T.binaryOutput('greater', a, b),
  vjp: zeroCotangents,
  batch: batchElementwise,
  onnx: compareOnnx('Greater'),
})

/**
 * Elementwise comparison a > b, as an int32 mask (1 where true, 0 where false). Broadcasts like NumPy; dtypes promote (a plain number takes the other operand's dtype).
 * Not differentiable: its VJP is explicitly zero for both operands.
 * @example
 * greater(tensor([1, 2, 3]), 2) // [0, 0, 1] (int32)
 * @throws ShapeError when the shapes do not broadcast.
 * @since 0.1.0
 */
export const greater = (a: Tensor | number, b: Tensor | number): Tensor =>
  applyOp(greaterOp, operands(a, b), undefined)
