// y = max_axes x ; x̄ = ȳ ⊙ [x = y] / #{x = y} (ties share the cotangent evenly)
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

/** The max reduction op. @since 0.1.0 */
export const maxOp = defineOp<'max', [Tensor], ReduceParams>({
  name: 'max',
  forward: ([x], p) => T.max(x, p),
  vjp: (ct, [x], y, p) => {
    const inShape = x.shape
    const isExtreme = equal(x, keepDims(y, inShape, p.axes))
    const ties = sum(isExtreme, { axis: p.axes, keepDims: true })
    return [div(mul(keepDims(ct, inShape, p.axes), isExtreme), ties)]
  },
  batch: batchReduction,
  abstract: reductionAval('max'),
  onnx: reduceOnnx('ReduceMax'),
})

/**
 * Maximum over `axis` (default all). Keeps the dtype; NaN propagates; an empty axis is a ValueError.
 * Gradient convention (PyTorch's): tied maxima share the cotangent evenly, so `max([1, 1])` sends
 * 0.5 to each. A NaN in a reduced set makes that set's gradient NaN.
 * @example
 * max(tensor([[1, 5], [7, 2]]), { axis: 1 }) // [5, 7]
 * @since 0.1.0
 */
export const max = (x: Tensor, opts?: ReduceOptions): Tensor =>
  applyOp(maxOp, [x], reduceParams('max', x, opts))
