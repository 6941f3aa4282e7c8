import * as O from '@backfold/ops'
import type { Tensor } from '@backfold/tensor'
import { PENALTY_OPTIONS, sumOverSelected, type PenaltyOptions } from './l2Penalty'
import { requireNonNegative } from './validate'
import { weightsOnly } from './weightsOnly'

/**
 * The L1 (lasso) regulariser `λ Σ_w Σ |w|` over the selected parameters, a scalar tensor to add to the
 * loss; its (sub)gradient adds `λ sign(w)` (0 at w = 0). By default only layer weights are included
 * (see `weightsOnly`: names ending in `'weight'`, rank ≥ 2): no biases, no normalisation scales.
 * @example
 * const objective = add(loss, l1Penalty(params, 1e-5)) // loss: the data term, a scalar tensor
 * @since 0.1.0
 */
export const l1Penalty = (params: unknown, lambda: number, opts: PenaltyOptions = {}): Tensor => {
  requireNonNegative('l1Penalty', lambda, 'lambda')
  O.checkOptions('l1Penalty', opts, PENALTY_OPTIONS)
  return O.mul(
    sumOverSelected(params, opts.include ?? weightsOnly, (w) => O.sum(O.abs(w))),
    lambda,
  )
}
