// y = [a < b] ; ā = b̄ = 0 (a comparison has no useful derivative)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { zeroCotangents } from '../core/zeroCotangents'
import { operands } from '../internal/operands'
import { compareOnnx } from '../staging/onnx/rules'

/** The `less` op. @since 0.1.0 */
export const lessOp = defineOp<'less', [Tensor, Tensor]>({
  name: 'less',
  forward: ([a, b]) => T.less(a, b),
  abstract: ([a, b]) => T.binaryOutput('less', a, b),
  vjp: zeroCotangents,
  batch: batchElementwise,
  onnx: compareOnnx('Less'),
})

/**
 * Elementwise comparison a < b, as an int32 mask (1 where true, 0 where false). Broadcasts like NumPy; dtypes promote (a plain number takes the other operand's dtype).
 * Not differentiable: its VJP is explicitly zero for both operands.
 * @example
 * less(tensor([1, 2, 3]), 2) // [1, 0, 0] (int32)
 * @throws ShapeError when the shapes do not broadcast.
 * @since 0.1.0
 */
export const less = (a: Tensor | number, b: Tensor | number): Tensor =>
  applyOp(lessOp, operands(a, b), undefined)
