// y = eˣ / Σ eˣ (along axis) ; x̄ = y ⊙ (ȳ − Σ ȳ ⊙ y)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp, type BatchAxes, type Batched } from '../core/op'
import { AXIS_OPTIONS, checkOptions, type AxisOptions } from '../core/options'
import { mul } from '../binary/mul'
import { sub } from '../binary/sub'
import { sum } from '../reduce/sum'

/** Parameters of the `softmax` and `logSoftmax` ops: one non-negative axis. @since 0.1.0 */
export interface SoftmaxParams {
  readonly axis: number
}

/**
 * The batching rule of `softmax` and `logSoftmax`: the examples' axis stays where it is and the
 * normalised axis is renumbered around it (no transpose). @internal
 */
export const batchAlongAxis = <In extends readonly [Tensor]>(
  xs: In,
  [batchAxis]: BatchAxes<In>,
  p: SoftmaxParams,
  self: (xs: In, p: SoftmaxParams) => Tensor,
): Batched => {
  // One input, so it is the mapped one.
  const b = batchAxis ?? 0
  return [self(xs, { axis: p.axis >= b ? p.axis + 1 : p.axis }), b]
}

/** The `softmax` op. @since 0.1.0 */
export const softmaxOp = defineOp<'softmax', [Tensor], SoftmaxParams>({
  name: 'softmax',
  forward: ([x], { axis }) => {
    // An empty axis has no maximum to shift by, and nothing to normalise: the result is empty too.
    if (x.shape[axis] === 0) return T.zeros(x.shape, T.toFloat(x.dtype))
    // Shifting by the maximum keeps every exponent <= 0: no overflow at any magnitude.
    const shifted = T.exp(T.sub(x, T.max(x, { axes: axis, keepDims: true })))
    return T.div(shifted, T.sum(shifted, { axes: axis, keepDims: true }))
  },
  // The forward's kernels step by step, through their shape functions (so a bad axis is theirs to name).
  abstract: ([x], { axis }) => {
    if (x.shape[axis] === 0) return { shape: x.shape, dtype: T.toFloat(x.dtype) }
    const keep = { axes: axis, keepDims: true }
    const shifted = T.binaryOutput('sub', x, {
      shape: T.reduceShape('max', x.shape, keep),
      dtype: T.reduceDType('max', x.dtype),
    })
    const exps = { shape: shifted.shape, dtype: T.unaryDType('exp', shifted.dtype) }
    return T.binaryOutput('div', exps, {
      shape: T.reduceShape('sum', exps.shape, keep),
      dtype: T.reduceDType('sum', exps.dtype),
    })
  },
  // The Jacobian diag(y) − y yᵀ applied without forming it.
  vjp: (ct, _xs, y, { axis }) => [mul(y, sub(ct, sum(mul(ct, y), { axis, keepDims: true })))],
  batch: batchAlongAxis,
  // Softmax (opset 13) normalises one axis; a size-0 axis gives zeros (its output is empty anyway).
  onnx: (b, [x], { axis }, { inputs: [ax], output }) =>
    b.node('Softmax', [b.cast(x, ax.dtype, output.dtype)], { axis }),
})

/**
 * Softmax along `axis` (default the last): `exp(x) / sum(exp(x))`, computed stably (shifted by the
 * maximum), so softmax([1000, 0, -1000]) is [1, 0, 0] rather than NaN. A slice that is entirely −∞
 * gives NaN, as in NumPy, JAX and PyTorch; an empty axis gives an empty result. int32 input gives
 * float32.
 * @example
 * softmax(tensor([[1, 2, 3]]))              // [[0.0900, 0.2447, 0.6652]]
 * softmax(tensor([[1, 2], [3, 4]]), { axis: 0 })
 * @throws ValueError for an unknown option or an out-of-range `axis` (a scalar has no axis).
 * @since 0.1.0
 */
export const softmax = (x: Tensor, opts?: AxisOptions): Tensor => {
  checkOptions('softmax', opts, AXIS_OPTIONS)
  return applyOp(softmaxOp, [x], { axis: T.normalizeAxis('softmax', opts?.axis ?? -1, x.shape.length) })
}
