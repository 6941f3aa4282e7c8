import * as O from '@backfold/ops'
import { map } from '../tree'
import type { EmptyState } from './identity'
import { requireInRange } from './leafwise'
import type { GradientTransformation } from './transform'

/**
 * Clips every update element to `[−max, max]` (optax's `clip`, PyTorch's `clip_grad_value_`).
 * Unlike `clipByGlobalNorm` this changes the direction of the step.
 * @since 0.1.0
 */
export const clipByValue = (max: number): GradientTransformation<EmptyState> => {
  // max = 0 zeroes every gradient: training would silently stop.
  requireInRange('clipByValue', 'max', max, 0, Infinity, { minExclusive: true })
  return {
    init: () => ({}),
    update: (grads) => [map(grads, (g) => O.clip(g, -max, max)), {}],
  }
}
