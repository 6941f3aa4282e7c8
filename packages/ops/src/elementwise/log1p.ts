// y = ln(1 + x) ; x̄ = ȳ / (1 + x)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { add } from '../binary/add'
import { div } from '../binary/div'
import { log1pOnnx } from '../staging/onnx/rules'

/** The `log1p` op. @since 0.1.0 */
export const log1pOp = defineOp<'log1p', [Tensor]>({
  name: 'log1p',
  forward: ([x]) => T.log1p(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('log1p', x.dtype) }),
  vjp: (ct, [x]) => [div(ct, add(x, 1))],
  batch: batchElementwise,
  onnx: (b, [x], _p, { inputs: [ax], output }) =>
    log1pOnnx(b, b.cast(x, ax.dtype, output.dtype), output.dtype),
})

/**
 * ln(1 + x), elementwise, accurate near 0. int32 input gives float32.
 * @example
 * log1p(tensor([1e-10])) // [1e-10]
 * @since 0.1.0
 */
export const log1p = (x: Tensor): Tensor => applyOp(log1pOp, [x], undefined)
