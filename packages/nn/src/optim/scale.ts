import * as O from '@backfold/ops'
import { map } from '../tree'
import type { EmptyState } from './identity'
import { requireInRange } from './leafwise'
import type { GradientTransformation } from './transform'

/**
 * Multiplies every update by a fixed `factor` (optax's `scale`). `scale(-0.1)` after `identity()` is
 * plain SGD with rate 0.1; prefer `scaleByLearningRate`, which flips the sign and takes schedules.
 * @since 0.1.0
 */
export const scale = (factor: number): GradientTransformation<EmptyState> => {
  requireInRange('scale', 'factor', factor, -Infinity, Infinity)
  return {
    init: () => ({}),
    update: (grads) => [map(grads, (g) => O.mul(g, factor)), {}],
  }
}
