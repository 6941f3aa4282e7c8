// y = zeros(shape) with updates added at indices along axis ; ū = gather(ȳ, indices), indices: zero
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { AXIS_OPTIONS, checkOptions, type AxisOptions } from '../core/options'
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
  vjp: (ct, [, indices], _y, p) => [gather(ct, indices!, { axis: p.axis }), T.zeros(indices!.shape, 'int32')],
})

/** Throws a `ValueError` naming `op` unless `shape` is an array of non-negative integers. @internal */
export const checkShapeArgument = (op: string, shape: unknown): void => {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new T.ValueError(
      op,
      `shape must be an array of non-negative integers (the shape of the result), got ${String(shape)}`,
    )
}

/**
 * The adjoint of `gather`: a tensor of `shape`, zero except that `updates` are added at the
 * positions `gather(·, indices, { axis })` would read (duplicates accumulate). `updates` has the
 * shape of that gather's output. `axis` defaults to 0, as `gather`'s.
 * @example
 * scatterAdd(tensor([1, 2, 3]), tensor([0, 2, 0], 'int32'), [3]) // [4, 0, 2]
 * scatterAdd(tensor([[1], [2]]), tensor([1], 'int32'), [2, 3], { axis: 1 }) // [[0, 1, 0], [0, 2, 0]]
 * @throws ShapeError when `updates` does not have the gather output shape; ValueError for an
 * unknown option, a malformed `shape` or an out-of-range index or axis.
 * @since 0.1.0
 */
export const scatterAdd = (
  updates: Tensor,
  indices: Tensor,
  shape: ReadonlyArray<number>,
  opts?: AxisOptions,
): Tensor => {
  checkOptions('scatterAdd', opts, AXIS_OPTIONS)
  checkShapeArgument('scatterAdd', shape)
  return applyOp(scatterAddOp, [updates, indices], {
    axis: T.normalizeAxis('scatterAdd', opts?.axis ?? 0, shape.length),
    shape: [...shape],
  })
}
