// y = zeros(shape) with updates added along axis at indices ; ū = takeAlongAxis(ȳ, indices), indices: zero
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchSize } from '../core/batching'
import { batchAt, insertAt } from '../internal/indexBatching'
import { REQUIRED_AXIS_OPTIONS, checkOptions } from '../core/options'
import { checkShapeArgument, type ScatterParams } from './scatterAdd'
import { takeAlongAxis } from './takeAlongAxis'
import { rejectNegative } from '../internal/onnxLowering'

/** The scatterAddAlongAxis op (adjoint of takeAlongAxis). @since 0.1.0 */
export const scatterAddAlongAxisOp = defineOp<'scatterAddAlongAxis', [Tensor, Tensor], ScatterParams>({
  name: 'scatterAddAlongAxis',
  forward: ([updates, indices], p) => T.scatterAddAlongAxis(updates, indices, p.axis, p.shape),
  abstract: ([updates, indices], p) => ({
    shape: T.scatterAddAlongAxisShape(updates.shape, indices.shape, indices.dtype, p.axis, p.shape),
    dtype: updates.dtype,
  }),
  vjp: (ct, [, indices], _y, p, needed) => [
    needed[0] ? takeAlongAxis(ct, indices, { axis: p.axis }) : undefined,
    needed[1] ? T.zeros(indices.shape, 'int32') : undefined,
  ],
  // As takeAlongAxis's rule: updates, indices and the result match on every axis but the scattered
  // one, so the examples' axis is one more such axis (a shared input is broadcast to it).
  // Added into zeros of the result's shape; repeated indices add up (reduction 'add').
  onnx: (b, [updates, indices], p, { output }) =>
    b.node(
      'ScatterElements',
      [
        b.node('Expand', [b.scalar(0, output.dtype), b.int64s(output.shape)]),
        rejectNegative(b, indices, output.shape[p.axis] ?? 0),
        updates,
      ],
      { axis: p.axis, reduction: 'add' },
    ),
  batch: ([updates, indices], [updateAxis, indexAxis], p, self) => {
    const at = updateAxis ?? indexAxis ?? 0
    const size = batchSize([updates, indices], [updateAxis, indexAxis])
    const xs: [Tensor, Tensor] = [
      batchAt(updates, updateAxis, at, size),
      batchAt(indices, indexAxis, at, size),
    ]
    const q: ScatterParams = { axis: p.axis >= at ? p.axis + 1 : p.axis, shape: insertAt(p.shape, at, size) }
    return [self(xs, q), at]
  },
})

/**
 * The adjoint of `takeAlongAxis`: a tensor of `shape`, zero except that each `updates` element is
 * added at the position along `axis` named by `indices` (same shape as `updates`; duplicates accumulate).
 * @example
 * scatterAddAlongAxis(tensor([[5], [7]]), tensor([[1], [0]], 'int32'), [2, 2], { axis: 1 }) // [[0, 5], [7, 0]]
 * @throws ShapeError for mismatched shapes; ValueError for a missing or unknown option, a malformed
 * `shape` or an out-of-range index or axis.
 * @since 0.1.0
 */
export const scatterAddAlongAxis = (
  updates: Tensor,
  indices: Tensor,
  shape: ReadonlyArray<number>,
  opts: { readonly axis: number },
): Tensor => {
  checkOptions('scatterAddAlongAxis', opts, REQUIRED_AXIS_OPTIONS)
  checkShapeArgument('scatterAddAlongAxis', shape)
  return applyOp(scatterAddAlongAxisOp, [updates, indices], {
    axis: T.normalizeAxis('scatterAddAlongAxis', opts.axis, shape.length),
    shape: [...shape],
  })
}
