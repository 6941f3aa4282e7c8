// y = zeros(shape) with updates added at indices along axis ; ū = gather(ȳ, indices), indices: zero
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { moveAxis } from '../core/batching'
import { batchAt, insertAt, offsetIndices } from '../internal/indexBatching'
import { reshape } from '../shape/reshape'
import { AXIS_OPTIONS, checkOptions, type AxisOptions } from '../core/options'
import { gather } from './gather'
import { rejectNegative } from '../internal/onnxLowering'

/** Parameters of the scatter ops: the (non-negative) axis and the result shape. @since 0.1.0 */
export interface ScatterParams {
  readonly axis: number
  readonly shape: ReadonlyArray<number>
}

/** The scatterAdd op (adjoint of gather). @since 0.1.0 */
export const scatterAddOp = defineOp<'scatterAdd', [Tensor, Tensor], ScatterParams>({
  name: 'scatterAdd',
  forward: ([updates, indices], p) => T.scatterAdd(updates, indices, p.axis, p.shape),
  abstract: ([updates, indices], p) => ({
    shape: T.scatterAddShape(updates.shape, indices.shape, indices.dtype, p.axis, p.shape),
    dtype: updates.dtype,
  }),
  vjp: (ct, [, indices], _y, p, needed) => [
    needed[0] ? gather(ct, indices, { axis: p.axis }) : undefined,
    needed[1] ? T.zeros(indices.shape, 'int32') : undefined,
  ],
  // The adjoint of gather's rule. updates (one example) has axes [...pre, ...index axes, ...post]
  // and the result [...pre, dim, ...post], with pre of length p.axis.
  // ScatterElements along `axis` of the updates viewed as [...pre, n, ...post] (n the number of
  // indices), with the flattened indices expanded to that shape; repeated indices add up.
  onnx: (b, [updates, indices], p, { inputs: [au, ai], output }) => {
    const pre = au.shape.slice(0, p.axis)
    const post = au.shape.slice(p.axis + ai.shape.length)
    const n = ai.shape.reduce((a, d) => a * d, 1)
    const flat = [...pre, n, ...post]
    const where = b.node('Expand', [
      b.node(
        'Reshape',
        [
          rejectNegative(b, indices, output.shape[p.axis] ?? 0),
          b.int64s([...pre.map(() => 1), n, ...post.map(() => 1)]),
        ],
        { allowzero: 1 },
      ),
      b.int64s(flat),
    ])
    return b.node(
      'ScatterElements',
      [
        b.node('Expand', [b.scalar(0, output.dtype), b.int64s(output.shape)]),
        where,
        b.node('Reshape', [updates, b.int64s(flat)], { allowzero: 1 }),
      ],
      { axis: p.axis, reduction: 'add' },
    )
  },
  batch: ([updates, indices], [updateAxis, indexAxis], p, self) => {
    if (indexAxis === undefined) {
      // Shared indices: scatter every example at the same positions.
      const b = updateAxis ?? 0
      const size = updates.shape[b] ?? 0
      const indexRank = indices.shape.length
      // Examples among pre: one more leading axis.
      if (b <= p.axis)
        return [self([updates, indices], { axis: p.axis + 1, shape: insertAt(p.shape, b, size) }), b]
      // Among post: the index axes collapse into one, so the examples land indexRank - 1 axes earlier.
      if (b >= p.axis + indexRank) {
        const out = b - indexRank + 1
        return [self([updates, indices], { ...p, shape: insertAt(p.shape, out, size) }), out]
      }
      // Among the index axes: moved just before them, then as among pre.
      return [
        self([moveAxis(updates, b, p.axis), indices], {
          axis: p.axis + 1,
          shape: insertAt(p.shape, p.axis, size),
        }),
        p.axis,
      ]
    }
    // Mapped indices: each example scatters into its own block of one merged axis of size × dim
    // (the updates' examples placed just before their index axes, broadcast there if shared),
    // which is then split into the examples' axis and the scattered one.
    const size = indices.shape[indexAxis] ?? 0
    const dim = p.shape[p.axis] ?? 0
    const pre = p.shape.slice(0, p.axis)
    const post = p.shape.slice(p.axis + 1)
    const placed = batchAt(updates, updateAxis, p.axis, size)
    const offset = offsetIndices(moveAxis(indices, indexAxis, 0), dim, indices.shape.length - 1)
    const merged = self([placed, offset], { axis: p.axis, shape: [...pre, size * dim, ...post] })
    return [reshape(merged, [...pre, size, dim, ...post]), p.axis]
  },
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
