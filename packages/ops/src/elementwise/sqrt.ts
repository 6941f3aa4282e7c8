// y = √x ; x̄ = ȳ / (2y)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { div } from '../binary/div'
import { mul } from '../binary/mul'
import { unaryOnnx } from '../staging/onnx/rules'

/** The `sqrt` op. @since 0.1.0 */
export const sqrtOp = defineOp<'sqrt', [Tensor]>({
  name: 'sqrt',
  forward: ([x]) => T.sqrt(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('sqrt', x.dtype) }),
  vjp: (ct, _xs, y) => [div(ct, mul(y, 2))],
  batch: batchElementwise,
  onnx: unaryOnnx('Sqrt'),
})

/**
 * Square root, elementwise. int32 input gives float32.
 * The gradient at 0 is +∞ (as in PyTorch and JAX).
 * @example
 * sqrt(tensor([4, 9])) // [2, 3]
 * @since 0.1.0
 */
export const sqrt = (x: Tensor): Tensor => applyOp(sqrtOp, [x], undefined)
