import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { requireFloat, requireSameShape } from './validate'

/**
 * The quadratic cost of the classic backpropagation derivation:
 * `C = 1/(2n) Σ_x ||y(x) − a(x)||²`, where `n = a.shape[0]` is the number of examples in the batch
 * (NOT the number of elements: that is `meanSquaredError`, which is `2/k` times this for `k` outputs).
 * The ½ makes the output error exactly `∇_a C = (a − y) / n`.
 *
 * `a` (the network's output activations) and `y` (the targets) have the same shape `[n, ...]`.
 * @example
 * import { tensor } from '@backfold/tensor'
 * import { quadraticCost } from '@backfold/nn'
 * quadraticCost(tensor([[1, 2], [3, 4]]), tensor([[1, 0], [3, 5]])) // (4 + 1) / (2 · 2) = 1.25
 * @since 0.1.0
 */
export const quadraticCost = (a: Tensor, y: Tensor): Tensor => {
  requireFloat('quadraticCost', a, 'a')
  requireSameShape('quadraticCost', a, y, 'a', 'y')
  const n = a.shape[0]
  if (n === undefined)
    throw new T.ShapeError(
      'quadraticCost',
      'a is a scalar (shape []); expected a batch [n, ...] with examples on axis 0',
    )
  if (n === 0)
    throw new T.ValueError('quadraticCost', `a has shape ${T.fmtShape(a.shape)}: the batch is empty`)
  return O.div(O.sum(O.square(O.sub(y, a))), 2 * n)
}
