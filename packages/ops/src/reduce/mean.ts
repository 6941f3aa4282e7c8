// y = Σ_axes x / n ; x̄ = broadcast(ȳ) / n
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { div } from '../binary/div'
import {
  batchReduction,
  reductionAval,
  reduceParams,
  reducedCount,
  type ReduceOptions,
  type ReduceParams,
} from '../internal/reduceParams'
import { spreadCotangent } from '../internal/reduceCotangent'
import { reduceOnnx } from '../staging/onnx/rules'

/** The mean reduction op. @since 0.1.0 */
export const meanOp = defineOp<'mean', [Tensor], ReduceParams>({
  name: 'mean',
  forward: ([x], p) => T.mean(x, p),
  vjp: (ct, [x], _y, p) => [div(spreadCotangent(ct, x.shape, p.axes), reducedCount(x.shape, p.axes))],
  batch: batchReduction,
  abstract: reductionAval('mean'),
  onnx: reduceOnnx('ReduceMean'),
})

/**
 * Arithmetic mean over `axis` (default all). The result is floating point (int32 gives float32);
 * the mean over an empty axis is NaN.
 * @example
 * mean(tensor([[1, 2], [3, 4]]), { axis: 1 }) // [1.5, 3.5]
 * @since 0.1.0
 */
export const mean = (x: Tensor, opts?: ReduceOptions): Tensor =>
  applyOp(meanOp, [x], reduceParams('mean', x, opts))
