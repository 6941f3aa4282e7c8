// y = √(Σ_axes x²) ; x̄ = ȳ ⊙ x / y (0 where y = 0)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { div } from '../binary/div'
import { equal } from '../binary/equal'
import { mul } from '../binary/mul'
import { where } from '../binary/where'
import { batchReduction, reduceParams, type ReduceOptions, type ReduceParams } from '../internal/reduceParams'
import { keepDims } from '../internal/reduceCotangent'
import { reduceOnnx } from '../staging/onnx/rules'

/** The L2 norm op. @since 0.1.0 */
export const normOp = defineOp<'norm', [Tensor], ReduceParams>({
  name: 'norm',
  forward: ([x], p) => T.sqrt(T.sum(T.square(x), p)),
  vjp: (ct, [x], y, p) => {
    const norms = keepDims(y, x.shape, p.axes)
    // A zero norm means x is all zeros there; dividing by 1 instead gives the subgradient 0.
    const safeNorms = where(equal(norms, 0), 1, norms)
    return [mul(keepDims(ct, x.shape, p.axes), div(x, safeNorms))]
  },
  batch: batchReduction,
  // forward's kernels in turn: square, sum, sqrt (floating point for int32).
  abstract: ([x], p) => ({
    shape: T.reduceShape('sum', x.shape, p),
    dtype: T.unaryDType('sqrt', T.reduceDType('sum', T.unaryDType('square', x.dtype))),
  }),
  onnx: reduceOnnx('ReduceL2'),
})

/**
 * Euclidean (L2) norm over `axis` (default all: the Frobenius norm of a matrix). The result is
 * floating point. Convention: the gradient at 0 is 0 (the minimum-norm subgradient), never NaN,
 * so `norm` is safe in penalties and gradient clipping.
 * @example
 * norm(tensor([3, 4]))                           // 5
 * norm(tensor([[3, 4], [0, 0]]), { axis: 1 })    // [5, 0]
 * @since 0.1.0
 */
export const norm = (x: Tensor, opts?: ReduceOptions): Tensor =>
  applyOp(normOp, [x], reduceParams('norm', x, opts))
