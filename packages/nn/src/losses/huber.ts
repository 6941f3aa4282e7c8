import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { requireFloat, requireSameShape } from './validate'

/** Options of `huber`. @since 0.1.0 */
export interface HuberOptions {
  /** Where the loss turns from quadratic to linear (default 1, must be > 0). */
  readonly delta?: number
}

const HUBER_OPTIONS = O.optionSchema({ delta: O.option.number })

/**
 * Huber loss averaged over all elements (PyTorch's `HuberLoss`, optax's `huber_loss`): for
 * `d = pred − target`, `½ d²` where `|d| ≤ δ` and `δ (|d| − ½ δ)` beyond. Quadratic near zero,
 * linear for outliers; its gradient is `clip(d, −δ, δ) / size`.
 * @example
 * import { tensor } from '@backfold/tensor'
 * import { huber } from '@backfold/nn'
 * huber(tensor([0.5, 3]), tensor([0, 0])) // (0.125 + 2.5) / 2
 * @since 0.1.0
 */
export const huber = (pred: Tensor, target: Tensor, opts: HuberOptions = {}): Tensor => {
  O.checkOptions('huber', opts, HUBER_OPTIONS)
  const delta = opts.delta ?? 1
  if (!(Number.isFinite(delta) && delta > 0))
    throw new T.ValueError('huber', `delta must be a finite number > 0, got ${delta}`)
  requireFloat('huber', pred, 'pred')
  requireSameShape('huber', pred, target, 'pred', 'target')
  const diff = O.sub(pred, target)
  const absDiff = O.abs(diff)
  const quadratic = O.mul(O.square(diff), 0.5)
  const linear = O.mul(O.sub(absDiff, 0.5 * delta), delta)
  return O.mean(O.where(O.lessEqual(absDiff, delta), quadratic, linear))
}
