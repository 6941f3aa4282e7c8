// y = x − log Σ eˣ (along axis) ; x̄ = ȳ − eʸ Σ ȳ
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { AXIS_OPTIONS, checkOptions, type AxisOptions } from '../core/options'
import { mul } from '../binary/mul'
import { sub } from '../binary/sub'
import { exp } from '../elementwise/exp'
import { sum } from '../reduce/sum'
import { batchAlongAxis, type SoftmaxParams } from './softmax'

/** The `logSoftmax` op. @since 0.1.0 */
export const logSoftmaxOp = defineOp<'logSoftmax', [Tensor], SoftmaxParams>({
  name: 'logSoftmax',
  forward: ([x], { axis }) => T.sub(x, T.logsumexp(x, { axes: axis, keepDims: true })),
  abstract: ([x], { axis }) =>
    T.binaryOutput('sub', x, {
      shape: T.reduceShape('logsumexp', x.shape, { axes: axis, keepDims: true }),
      dtype: T.reduceDType('logsumexp', x.dtype),
    }),
  // eʸ is the softmax of x, recovered from the output rather than recomputed from x.
  vjp: (ct, _xs, y, { axis }) => [sub(ct, mul(exp(y), sum(ct, { axis, keepDims: true })))],
  batch: batchAlongAxis,
  onnx: (b, [x], { axis }, { inputs: [ax], output }) =>
    b.node('LogSoftmax', [b.cast(x, ax.dtype, output.dtype)], { axis }),
})

/**
 * Log-softmax along `axis` (default the last): `x − logsumexp(x)`, stable at any magnitude
 * (logSoftmax([1000, 0, -1000]) is [0, −1000, −2000]). Prefer it to `log(softmax(x))`, which
 * underflows to −∞. int32 input gives float32.
 * @example
 * logSoftmax(tensor([0, 0]))                       // [-0.6931, -0.6931]
 * logSoftmax(tensor([[0, 0], [0, 0]]), { axis: 0 })
 * @throws ValueError for an unknown option or an out-of-range `axis` (a scalar has no axis).
 * @since 0.1.0
 */
export const logSoftmax = (x: Tensor, opts?: AxisOptions): Tensor => {
  checkOptions('logSoftmax', opts, AXIS_OPTIONS)
  return applyOp(logSoftmaxOp, [x], { axis: T.normalizeAxis('logSoftmax', opts?.axis ?? -1, x.shape.length) })
}
