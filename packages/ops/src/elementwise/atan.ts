// y = atan x ; x̄ = ȳ / (1 + x²)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { float32OnlyUnaryOnnx } from '../internal/onnxLowering'
import { div } from '../binary/div'
import { add } from '../binary/add'
import { square } from './square'

/** The `atan` op. @since 0.2.0 */
export const atanOp = defineOp<'atan', [Tensor]>({
  name: 'atan',
  forward: ([x]) => T.atan(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('atan', x.dtype) }),
  vjp: (ct, [x]) => [div(ct, add(1, square(x)))],
  batch: batchElementwise,
  onnx: float32OnlyUnaryOnnx('Atan'),
})

/**
 * Inverse tangent, elementwise, in (-π/2, π/2). int32 input gives float32.
 * @example
 * atan(tensor([0, 1])) // [0, 0.7854]
 * @since 0.2.0
 */
export const atan = (x: Tensor): Tensor => applyOp(atanOp, [x], undefined)
