// y = min_axes x ; x̄ = ȳ ⊙ [x = y] / #{x = y} (ties share the cotangent evenly)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { div } from '../binary/div'
import { equal } from '../binary/equal'
import { mul } from '../binary/mul'
import {
  batchReduction,
  reduceParams,
  reductionAval,
  type ReduceOptions,
  type ReduceParams,
} from '../internal/reduceParams'
import { keepDims } from '../internal/reduceCotangent'
import { sum } from './sum'
import { reduceOnnx } from '../staging/onnx/rules'

/** The min reduction op. @since 0.1.0 */
export const minOp = defineOp<'min', [Tensor], ReduceParams>({
  name: 'min',
  forward: ([x], p) => T.min(x, p),
  vjp: (ct, [x], y, p) => {
    const inShape = x.shape
    const isExtreme = equal(x, keepDims(y, inShape, p.axes))
    const ties = sum(isExtreme, { axis: p.axes, keepDims: true })
    return [div(mul(keepDims(ct, inShape, p.axes), isExtreme), ties)]
  },
  batch: batchReduction,
  abstract: reductionAval('min'),
  onnx: reduceOnnx('ReduceMin'),
})

/**
 * Minimum over `axis` (default all). Keeps the dtype; NaN propagates; an empty axis is a ValueError.
 * Gradient convention (PyTorch's): tied minima share the cotangent evenly, so `min([1, 1])` sends
 * 0.5 to each. A NaN in a reduced set makes that set's gradient NaN.
 * @example
 * min(tensor([[1, 5], [7, 2]]), { axis: 1 }) // [1, 2]
 * @since 0.1.0
 */
export const min = (x: Tensor, opts?: ReduceOptions): Tensor =>
  applyOp(minOp, [x], reduceParams('min', x, opts))
