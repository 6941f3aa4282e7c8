// y = take(x, indices, axis) ; x̄ = scatterAdd(ȳ, indices) (repeated indices accumulate), indices: zero
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { AXIS_OPTIONS, checkOptions, type AxisOptions } from '../core/options'
import { scatterAdd } from './scatterAdd'

/** Parameters of the gather-style ops: the (non-negative) axis. @since 0.1.0 */
export interface AxisParams {
  readonly axis: number
}

/** The gather op (NumPy `take`). @since 0.1.0 */
export const gatherOp = defineOp<AxisParams>({
  name: 'gather',
  forward: ([x, indices], p) => T.gather(x!, indices!, p.axis),
  vjp: (ct, [x, indices], _y, p) => [
    scatterAdd(ct, indices!, x!.shape, { axis: p.axis }),
    T.zeros(indices!.shape, 'int32'),
  ],
})

/**
 * NumPy `take` along `axis`: the result has shape `x.shape[:axis] + indices.shape + x.shape[axis+1:]`.
 * `indices` is int32 and in range (no negative indices). The gradient adds the cotangent back at
 * the gathered positions, so a repeated index receives the sum of its cotangents.
 * @example
 * gather(tensor([10, 20, 30]), tensor([2, 0, 2], 'int32'))  // [30, 10, 30]
 * gather(embeddings, tokenIds)                                // rows of an embedding table
 * gather(x, tensor([1, 0], 'int32'), { axis: 1 })              // columns 1 and 0
 * @throws DTypeError for non-int32 indices; ValueError for an unknown option or an out-of-range index or axis.
 * @since 0.1.0
 */
export const gather = (x: Tensor, indices: Tensor, opts?: AxisOptions): Tensor => {
  checkOptions('gather', opts, AXIS_OPTIONS)
  return applyOp(gatherOp, [x, indices], { axis: T.normalizeAxis('gather', opts?.axis ?? 0, x.shape.length) })
}
