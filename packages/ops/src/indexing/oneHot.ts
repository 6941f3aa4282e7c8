// y[..., k] = [indices = k] ; no derivative (indices are integers): zero VJP
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { zeroCotangents } from '../core/zeroCotangents'
import { rejectNegative } from '../internal/onnxLowering'

/** Parameters of the oneHot op. @since 0.1.0 */
export interface OneHotParams {
  readonly depth: number
  readonly dtype: DType
}

/** The oneHot op (zero VJP). @since 0.1.0 */
export const oneHotOp = defineOp<'oneHot', [Tensor], OneHotParams>({
  name: 'oneHot',
  forward: ([indices], p) => T.oneHot(indices, p.depth, p.dtype),
  abstract: ([indices], p) => ({
    shape: T.oneHotShape(indices.shape, indices.dtype, p.depth, p.dtype),
    dtype: p.dtype,
  }),
  vjp: zeroCotangents,
  // The new axis is last, so the examples stay where they are in the indices.
  // [index = j] for j < depth, plus (to reject what backfold rejects) a Gather of zeros at each
  // index, which fails in ONNX Runtime for an index outside [0, depth) and otherwise adds 0.
  onnx: (b, [indices], p) => {
    const positions = b.constant(
      Array.from({ length: p.depth }, (_, j) => j),
      'int32',
    )
    const hot = b.cast(
      b.node('Equal', [b.node('Unsqueeze', [indices, b.int64s([-1])]), positions]),
      'bool',
      p.dtype,
    )
    const zeros = b.constant(new Array<number>(p.depth).fill(0), p.dtype)
    const check = b.node('Gather', [zeros, rejectNegative(b, indices, p.depth)], { axis: 0 })
    return b.node('Add', [hot, b.node('Unsqueeze', [check, b.int64s([-1])])])
  },
  batch: ([indices], [axis], p, self) => [self([indices], p), axis ?? 0],
})

/**
 * One-hot encoding: shape `indices.shape + [depth]`, 1 at each index and 0 elsewhere. Not
 * differentiable in `indices` (its VJP is zero).
 * @example
 * oneHot(tensor([0, 2], 'int32'), 3) // [[1, 0, 0], [0, 0, 1]]
 * @throws DTypeError for non-int32 indices; ValueError for an index outside [0, depth).
 * @since 0.1.0
 */
export const oneHot = (indices: Tensor, depth: number, dtype: DType = 'float32'): Tensor =>
  applyOp(oneHotOp, [indices], { depth, dtype })
