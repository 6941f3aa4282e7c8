// y = zeros(shape) with updates added at indices along axis ; ū = gather(ȳ, indices), indices: zero
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { gather } from './gather'

/** Parameters of the scatter ops: the (non-negative) axis and the result shape. @since 0.1.0 */
export interface ScatterParams {
  readonly axis: number
  readonly shape: ReadonlyArray<number>
}

/** The scatterAdd op (adjoint of gather). @since 0.1.0 */
export const scatterAddOp = defineOp<ScatterParams>({
  name: 'scatterAdd',
  forward: ([updates, indices], p) => T.scatterAdd(updates!, indices!, p.axis, p.shape),
  vjp: (ct, [, indices], _y, p) => [gather(ct, indices!, p.axis), T.zeros(indices!.shape, 'int32')],
})

/**
 * The adjoint of `gather`: a tensor of `shape`, zero except that `updates` are added at the
 * positions `gather(·, indices, axis)` would read (duplicates accumulate). `updates` has the
 * shape of that gather's output.
 * @example
 * scatterAdd(tensor([1, 2, 3]), tensor([0, 2, 0], 'int32'), 0, [3]) // [4, 0, 2]
 * @throws ShapeError when `updates` does not have the gather output shape; ValueError for an out-of-range index or axis.
 * @since 0.1.0
 */
export const scatterAdd = (
  updates: Tensor,
  indices: Tensor,
  axis: number,
  shape: ReadonlyArray<number>,
): Tensor =>
  applyOp(scatterAddOp, [updates, indices], {
    axis: T.normalizeAxis('scatterAdd', axis, shape.length),
    shape: [...shape],
  })
