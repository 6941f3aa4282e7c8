// (a ⊗ b)_ij = a_i b_j, a composite of reshape and a broadcasting mul
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { mul } from '../binary/mul'
import { reshape } from '../shape/reshape'

/**
 * Outer product of two 1-D tensors: shape `[a.length, b.length]`.
 * @example
 * outer(tensor([1, 2]), tensor([3, 4, 5])) // [[3, 4, 5], [6, 8, 10]]
 * @throws ShapeError unless both are 1-D.
 * @since 0.1.0
 */
export const outer = (a: Tensor, b: Tensor): Tensor => {
  if (a.shape.length !== 1 || b.shape.length !== 1)
    throw new T.ShapeError(
      'outer',
      `expected two 1-D tensors, got a of shape ${T.fmtShape(a.shape)} and b of shape ${T.fmtShape(b.shape)}; ` +
        `ravel them first for NumPy's flattening behaviour`,
    )
  return mul(reshape(a, [-1, 1]), reshape(b, [1, -1]))
}
