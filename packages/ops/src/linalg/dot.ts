// ⟨a, b⟩ = Σ a_i b_i, a composite of matmul
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { matmul } from './matmul'

/**
 * Inner product of two 1-D tensors of equal length (a scalar).
 * @example
 * dot(tensor([1, 2, 3]), tensor([4, 5, 6])) // 32
 * @throws ShapeError unless both are 1-D of the same length.
 * @since 0.1.0
 */
export const dot = (a: Tensor, b: Tensor): Tensor => {
  if (a.shape.length !== 1 || b.shape.length !== 1 || a.shape[0] !== b.shape[0])
    throw new T.ShapeError(
      'dot',
      `expected two 1-D tensors of equal length, got a of shape ${T.fmtShape(a.shape)} and b of shape ` +
        `${T.fmtShape(b.shape)}; use matmul for matrices`,
    )
  return matmul(a, b)
}
