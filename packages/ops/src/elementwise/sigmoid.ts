// y = 1 / (1 + e⁻ˣ) ; x̄ = ȳ y (1 − y)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { mul } from '../binary/mul'
import { sub } from '../binary/sub'
import { unaryOnnx } from '../staging/onnx/rules'

/** The `sigmoid` op. @since 0.1.0 */
export const sigmoidOp = defineOp<'sigmoid', [Tensor]>({
  name: 'sigmoid',
  forward: ([x]) => T.sigmoid(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('sigmoid', x.dtype) }),
  vjp: (ct, _xs, y) => [mul(ct, mul(y, sub(1, y)))],
  batch: batchElementwise,
  onnx: unaryOnnx('Sigmoid'),
})

/**
 * Logistic sigmoid, elementwise; stable at any magnitude (sigmoid(±1000) is 1 or 0, never NaN). int32 input gives float32.
 * @example
 * sigmoid(tensor([0, 1000, -1000])) // [0.5, 1, 0]
 * @since 0.1.0
 */
export const sigmoid = (x: Tensor): Tensor => applyOp(sigmoidOp, [x], undefined)
