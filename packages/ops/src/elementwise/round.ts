// y = round x (half to even) ; x̄ = 0 (piecewise constant)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { wholeNumberOnnx } from '../internal/onnxLowering'
import { zeroCotangents } from '../core/zeroCotangents'

/** The `round` op. @since 0.1.0 */
export const roundOp = defineOp<'round', [Tensor]>({
  name: 'round',
  forward: ([x]) => T.round(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('round', x.dtype) }),
  vjp: zeroCotangents,
  batch: batchElementwise,
  // ONNX Round is half to even, as backfold's; int32 is already whole.
  onnx: wholeNumberOnnx('Round'),
})

/**
 * Rounds to the nearest integer, halves to even (like NumPy and PyTorch). int32 stays int32.
 * Piecewise constant: its VJP is explicitly zero.
 * @example
 * round(tensor([0.5, 1.5, 2.4])) // [0, 2, 2]
 * @since 0.1.0
 */
export const round = (x: Tensor): Tensor => applyOp(roundOp, [x], undefined)
