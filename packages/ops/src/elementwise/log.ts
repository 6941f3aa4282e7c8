// y = ln x ; x̄ = ȳ / x
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { div } from '../binary/div'
import { unaryOnnx } from '../staging/onnx/rules'

/** The `log` op. @since 0.1.0 */
export const logOp = defineOp<'log', [Tensor]>({
  name: 'log',
  forward: ([x]) => T.log(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('log', x.dtype) }),
  vjp: (ct, [x]) => [div(ct, x)],
  batch: batchElementwise,
  onnx: unaryOnnx('Log'),
})

/**
 * Natural logarithm, elementwise (NaN below 0, −∞ at 0). int32 input gives float32.
 * @example
 * log(tensor([1, Math.E])) // [0, 1]
 * @since 0.1.0
 */
export const log = (x: Tensor): Tensor => applyOp(logOp, [x], undefined)
