// y = take_along_axis(x, indices, axis) ; x̄ = scatterAddAlongAxis(ȳ, indices), indices: zero
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchSize } from '../core/batching'
import { batchAt } from '../internal/indexBatching'
import { REQUIRED_AXIS_OPTIONS, checkOptions } from '../core/options'
import type { AxisParams } from './gather'
import { scatterAddAlongAxis } from './scatterAddAlongAxis'
import { rejectNegative } from '../internal/onnxLowering'

/** The takeAlongAxis op (NumPy `take_along_axis`). @since 0.1.0 */
export const takeAlongAxisOp = defineOp<'takeAlongAxis', [Tensor, Tensor], AxisParams>({
  name: 'takeAlongAxis',
  forward: ([x, indices], p) => T.takeAlongAxis(x, indices, p.axis),
  abstract: ([x, indices], p) => ({
    shape: T.takeAlongAxisShape(x.shape, indices.shape, indices.dtype, p.axis),
    dtype: x.dtype,
  }),
  vjp: (ct, [x, indices], _y, p, needed) => [
    needed[0] ? scatterAddAlongAxis(ct, indices, x.shape, { axis: p.axis }) : undefined,
    needed[1] ? T.zeros(indices.shape, 'int32') : undefined,
  ],
  // x and indices match on every axis but the taken one, so the examples' axis is one more such
  // axis: put both inputs' examples where the first mapped one has them (an unmapped input is
  // broadcast there: the kernel does not broadcast) and take along the renumbered axis.
  onnx: (b, [x, indices], p, { inputs: [ax] }) =>
    b.node('GatherElements', [x, rejectNegative(b, indices, ax.shape[p.axis] ?? 0)], { axis: p.axis }),
  batch: ([x, indices], [xAxis, indexAxis], p, self) => {
    const at = xAxis ?? indexAxis ?? 0
    const size = batchSize([x, indices], [xAxis, indexAxis])
    const xs: [Tensor, Tensor] = [batchAt(x, xAxis, at, size), batchAt(indices, indexAxis, at, size)]
    return [self(xs, { axis: p.axis >= at ? p.axis + 1 : p.axis }), at]
  },
})

/**
 * NumPy `take_along_axis`: `indices` has x's rank and matches x on every axis but `axis`; the
 * result has `indices.shape`, with `out[..., j, ...] = x[..., indices[..., j, ...], ...]` along `axis`.
 * Picks one logit per example: `takeAlongAxis(logits, labels[:, None], { axis: 1 })`. `axis` is required.
 * @example
 * takeAlongAxis(tensor([[1, 2], [3, 4]]), tensor([[1], [0]], 'int32'), { axis: 1 }) // [[2], [3]]
 * @throws DTypeError for non-int32 indices; ShapeError for mismatched shapes; ValueError for a
 * missing or unknown option or an out-of-range index or axis.
 * @since 0.1.0
 */
export const takeAlongAxis = (x: Tensor, indices: Tensor, opts: { readonly axis: number }): Tensor => {
  checkOptions('takeAlongAxis', opts, REQUIRED_AXIS_OPTIONS)
  return applyOp(takeAlongAxisOp, [x, indices], {
    axis: T.normalizeAxis('takeAlongAxis', opts.axis, x.shape.length),
  })
}
