// y = Σ_axes x ; x̄ = broadcast(ȳ)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import {
  batchReduction,
  reduceParams,
  reductionAval,
  type ReduceOptions,
  type ReduceParams,
} from '../internal/reduceParams'
import { spreadCotangent } from '../internal/reduceCotangent'
import { reduceOnnx } from '../staging/onnx/rules'

/** The sum reduction op. @since 0.1.0 */
export const sumOp = defineOp<'sum', [Tensor], ReduceParams>({
  name: 'sum',
  forward: ([x], p) => T.sum(x, p),
  vjp: (ct, [x], _y, p) => [spreadCotangent(ct, x.shape, p.axes)],
  batch: batchReduction,
  abstract: reductionAval('sum'),
  onnx: reduceOnnx('ReduceSum'),
})

/**
 * Sum over `axis`, one axis or several (default all), keeping them as size-1 axes with `keepDims`.
 * Keeps the dtype. Summing over no axis (`axis: []`) returns the elements unchanged.
 * @example
 * sum(tensor([[1, 2], [3, 4]]))                // 10
 * sum(tensor([[1, 2], [3, 4]]), { axis: 0 })   // [4, 6]
 * sum(tensor([[1, 2], [3, 4]]), { axis: -1, keepDims: true }) // [[3], [7]]
 * @since 0.1.0
 */
export const sum = (x: Tensor, opts?: ReduceOptions): Tensor =>
  applyOp(sumOp, [x], reduceParams('sum', x, opts))
