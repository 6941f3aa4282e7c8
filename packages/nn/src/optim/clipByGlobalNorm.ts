import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { leaves, map } from '../tree'
import type { EmptyState } from './identity'
import { requireInRange } from './leafwise'
import type { GradientTransformation } from './transform'

/**
 * The L2 norm of a whole tree, as if all its tensors were one vector: `√(Σ_leaves Σ x²)`, a scalar
 * tensor (float64 if any leaf is float64). Zero for a tree without tensors.
 * @example
 * globalNorm({ a: tensor([3]), b: tensor([4]) }) // 5
 * @since 0.1.0
 */
export const globalNorm = (tree: unknown): Tensor => {
  let total: Tensor | undefined
  for (const x of leaves(tree)) {
    const squares = O.sum(O.square(x))
    total = total === undefined ? squares : O.add(total, squares)
  }
  return total === undefined ? T.scalar(0) : O.sqrt(total)
}

/**
 * Rescales the updates so their global norm is at most `maxNorm` (optax's `clip_by_global_norm`,
 * PyTorch's `clip_grad_norm_`): `g · maxNorm / ‖g‖` when `‖g‖ ≥ maxNorm`, unchanged otherwise. The
 * direction is kept; one norm over ALL parameters, not one per tensor.
 * @example
 * const optimizer = chain({ clip: clipByGlobalNorm(1), adam: adam(1e-3) })
 * @since 0.1.0
 */
export const clipByGlobalNorm = (maxNorm: number): GradientTransformation<EmptyState> => {
  requireInRange('clipByGlobalNorm', 'maxNorm', maxNorm, 0, Infinity, { minExclusive: true })
  return {
    init: () => ({}),
    update: (grads) => {
      const norm = globalNorm(grads)
      const withinBound = O.less(norm, maxNorm)
      const clipped = map(grads, (g) => {
        // The norm may be float64 while this leaf is float32; the leaf keeps its dtype.
        const normAsLeaf = O.astype(norm, g.dtype)
        return O.where(withinBound, g, O.mul(O.div(g, normAsLeaf), maxNorm))
      })
      return [clipped, {}]
    },
  }
}
