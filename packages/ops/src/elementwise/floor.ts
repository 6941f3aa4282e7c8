// y = ⌊x⌋ ; x̄ = 0 (piecewise constant)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { wholeNumberOnnx } from '../internal/onnxLowering'
import { zeroCotangents } from '../core/zeroCotangents'

/** The `floor` op. @since 0.1.0 */
export const floorOp = defineOp<'floor', [Tensor]>({
  name: 'floor',
  forward: ([x]) => T.floor(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('floor', x.dtype) }),
  vjp: zeroCotangents,
  batch: batchElementwise,
  onnx: wholeNumberOnnx('Floor'),
})

/**
 * Floor, elementwise. int32 stays int32.
 * Piecewise constant: its VJP is explicitly zero.
 * @example
 * floor(tensor([-1.5, 1.5])) // [-2, 1]
 * @since 0.1.0
 */
export const floor = (x: Tensor): Tensor => applyOp(floorOp, [x], undefined)
