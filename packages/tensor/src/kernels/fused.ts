/**
 * Fused elementwise kernels: what would otherwise be two or three passes (and as many fresh
 * buffers) over the same tensors, in one. They exist for the hot paths of training: the backward
 * pass of ReLU layers and the optimizer updates. Same-shape float operands only; no broadcasting.
 * @since 0.1.0
 */
import { getBackend } from '../backend'
import { ValueError } from '../errors'
import type { Tensor } from '../tensor'
import { requireSameFloat } from './sameFloat'

/**
 * `alpha · x + y` in one pass (BLAS `axpy`), computed in float64 and rounded once to the dtype.
 * `x` and `y` share a float dtype and a shape.
 * @example
 * axpy(0.9, trace, grad) // momentum: t ← g + 0.9 t
 * @throws DTypeError / ShapeError for mismatched operands; ValueError for a non-finite alpha.
 * @since 0.1.0
 */
export const axpy = (alpha: number, x: Tensor, y: Tensor): Tensor => {
  if (!Number.isFinite(alpha)) throw new ValueError('axpy', `alpha must be a finite number, got ${alpha}`)
  requireSameFloat('axpy', ['x', 'y'], [x, y])
  return getBackend().axpy(alpha, x, y)
}

/**
 * ReLU's backward pass: `y > 0 ? ct : 0`, with `y` the ReLU's output (or input: the sign is the
 * same). One pass, where `where(greater(y, 0), ct, 0)` takes two and an int32 mask; NaN in `y`
 * gives 0 (NaN > 0 is false), as the unfused form.
 * @example
 * reluGrad(upstream, activations)
 * @throws DTypeError / ShapeError for mismatched operands.
 * @since 0.1.0
 */
export const reluGrad = (ct: Tensor, y: Tensor): Tensor => {
  requireSameFloat('reluGrad', ['ct', 'y'], [ct, y])
  return getBackend().reluGrad(ct, y)
}
