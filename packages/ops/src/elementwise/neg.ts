// y = −x ; x̄ = −ȳ
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { unaryOnnx } from '../staging/onnx/rules'

/** The `neg` op. @since 0.1.0 */
export const negOp = defineOp<'neg', [Tensor]>({
  name: 'neg',
  forward: ([x]) => T.neg(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('neg', x.dtype) }),
  vjp: (ct) => [neg(ct)],
  batch: batchElementwise,
  onnx: unaryOnnx('Neg'),
})

/**
 * Negation, elementwise. int32 stays int32.
 * @example
 * neg(tensor([1, -2])) // [-1, 2]
 * @since 0.1.0
 */
export const neg = (x: Tensor): Tensor => applyOp(negOp, [x], undefined)
