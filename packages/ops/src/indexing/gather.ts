// y = take(x, indices, axis) ; x̄ = scatterAdd(ȳ, indices) (repeated indices accumulate), indices: zero
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { moveAxis } from '../core/batching'
import { offsetIndices } from '../internal/indexBatching'
import { reshape } from '../shape/reshape'
import { AXIS_OPTIONS, checkOptions, type AxisOptions } from '../core/options'
import { scatterAdd } from './scatterAdd'
import { rejectNegative } from '../internal/onnxLowering'

/** Parameters of the gather-style ops: the (non-negative) axis. @since 0.1.0 */
export interface AxisParams {
  readonly axis: number
}

/** The gather op (NumPy `take`). @since 0.1.0 */
export const gatherOp = defineOp<'gather', [Tensor, Tensor], AxisParams>({
  name: 'gather',
  forward: ([x, indices], p) => T.gather(x, indices, p.axis),
  // Index values are checked by the kernel when the graph runs: a rule has no data.
  abstract: ([x, indices], p) => ({
    shape: T.gatherShape(x.shape, indices.shape, indices.dtype, p.axis),
    dtype: x.dtype,
  }),
  vjp: (ct, [x, indices], _y, p, needed) => [
    needed[0] ? scatterAdd(ct, indices, x.shape, { axis: p.axis }) : undefined,
    needed[1] ? T.zeros(indices.shape, 'int32') : undefined,
  ],
  onnx: (b, [x, indices], p, { inputs: [ax] }) =>
    b.node('Gather', [x, rejectNegative(b, indices, ax.shape[p.axis] ?? 0)], { axis: p.axis }),
  batch: ([x, indices], [xAxis, indexAxis], p, self) => {
    if (indexAxis === undefined) {
      // Shared indices: gather the same positions from every example. The examples' axis sits
      // before the gathered one, or among the trailing axes, which the index axes shift along.
      const b = xAxis ?? 0
      if (b <= p.axis) return [self([x, indices], { axis: p.axis + 1 }), b]
      return [self([x, indices], p), b + indices.shape.length - 1]
    }
    // Shared x: the output holds the indices' axes (examples included) in place of the gathered axis.
    if (xAxis === undefined) return [self([x, indices], p), p.axis + indexAxis]
    // Both mapped: x's examples go just before the gathered axis and merge with it into one axis
    // of size × dim, and each example's indices are offset into its own block of that axis. One
    // gather serves all; the output has the examples where the merged axis was.
    const size = x.shape[xAxis] ?? 0
    const before = moveAxis(x, xAxis, p.axis) // [...pre, size, dim, ...post]
    const dim = before.shape[p.axis + 1] ?? 0
    const merged = reshape(before, [
      ...before.shape.slice(0, p.axis),
      size * dim,
      ...before.shape.slice(p.axis + 2),
    ])
    const exampleRank = indices.shape.length - 1
    const offset = offsetIndices(moveAxis(indices, indexAxis, 0), dim, exampleRank)
    return [self([merged, offset], p), p.axis]
  },
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
