// y = ⌈x⌉ ; x̄ = 0 (piecewise constant)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { wholeNumberOnnx } from '../internal/onnxLowering'
import { zeroCotangents } from '../core/zeroCotangents'

/** The `ceil` op. @since 0.1.0 */
export const ceilOp = defineOp<'ceil', [Tensor]>({
  name: 'ceil',
  forward: ([x]) => T.ceil(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('ceil', x.dtype) }),
  vjp: zeroCotangents,
  batch: batchElementwise,
  onnx: wholeNumberOnnx('Ceil'),
})

/**
 * Ceiling, elementwise. int32 stays int32.
 * Piecewise constant: its VJP is explicitly zero.
 * @example
 * ceil(tensor([-1.5, 1.5])) // [-1, 2]
 * @since 0.1.0
 */
export const ceil = (x: Tensor): Tensor => applyOp(ceilOp, [x], undefined)
