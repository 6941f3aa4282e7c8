// y = eˣ ; x̄ = ȳ y
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { mul } from '../binary/mul'
import { batchElementwise } from '../core/batching'
import { unaryOnnx } from '../staging/onnx/rules'

/** The `exp` op. @since 0.1.0 */
export const expOp = defineOp<'exp', [Tensor]>({
  name: 'exp',
  forward: ([x]) => T.exp(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('exp', x.dtype) }),
  vjp: (ct, _xs, y) => [mul(ct, y)],
  batch: batchElementwise,
  onnx: unaryOnnx('Exp'),
})

/**
 * Exponential, elementwise. int32 input gives float32.
 * @example
 * exp(tensor([0, 1])) // [1, 2.7183]
 * @since 0.1.0
 */
export const exp = (x: Tensor): Tensor => applyOp(expOp, [x], undefined)
