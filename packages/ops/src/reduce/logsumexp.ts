// y = log Σ_axes exp x ; x̄ = ȳ ⊙ exp(x − y)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { mul } from '../binary/mul'
import { sub } from '../binary/sub'
import { exp } from '../elementwise/exp'
import {
  batchReduction,
  reduceParams,
  reductionAval,
  type ReduceOptions,
  type ReduceParams,
} from '../internal/reduceParams'
import { keepDims } from '../internal/reduceCotangent'
import { logSumExp } from '../staging/onnx/rules'

/** The logsumexp reduction op. @since 0.1.0 */
export const logsumexpOp = defineOp<'logsumexp', [Tensor], ReduceParams>({
  name: 'logsumexp',
  forward: ([x], p) => T.logsumexp(x, p),
  // exp(x − y) is the softmax over the reduced axes: at most 1, so it never overflows.
  vjp: (ct, [x], y, p) => [mul(keepDims(ct, x.shape, p.axes), exp(sub(x, keepDims(y, x.shape, p.axes))))],
  batch: batchReduction,
  abstract: reductionAval('logsumexp'),
  onnx: (b, [x], p, { inputs: [ax], output }) =>
    p.axes.length === 0
      ? b.cast(x, ax.dtype, output.dtype)
      : b.node('Reshape', [
          logSumExp(b, b.cast(x, ax.dtype, output.dtype), p.axes, output.dtype),
          b.int64s(output.shape),
        ]),
})

/**
 * `log(Σ exp(x))` over `axis` (default all), computed stably (shifted by the maximum), so
 * `logsumexp([1000, 1000])` is `1000 + log 2`, not Infinity. The result is floating point.
 * Its gradient is the softmax of `x` over `axis`.
 * @example
 * logsumexp(tensor([0, 0]))          // log 2 ≈ 0.6931
 * logsumexp(tensor([[1, 2], [3, 4]]), { axis: 1 })
 * @since 0.1.0
 */
export const logsumexp = (x: Tensor, opts?: ReduceOptions): Tensor =>
  applyOp(logsumexpOp, [x], reduceParams('logsumexp', x, opts))
