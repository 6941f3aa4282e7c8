import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { flattenNamed } from '../tree'
import { requireNonNegative } from './validate'
import { weightsOnly, type ParamFilter } from './weightsOnly'

/** The accepted keys of `PenaltyOptions`. @internal */
export const PENALTY_OPTIONS = O.optionSchema({ include: O.option.function })

/** Options of `l2Penalty` and `l1Penalty`. @since 0.1.0 */
export interface PenaltyOptions {
  /** Which parameters to penalise; default `weightsOnly` (rank ≥ 2 tensors named `...weight`). */
  readonly include?: ParamFilter
}

/**
 * The L2 (weight-decay) regulariser `λ/2 Σ_w ||w||²` over the selected parameters, a scalar tensor
 * to add to the loss: its gradient adds `λ w` to every selected parameter's gradient. By default only
 * layer weights are included (see `weightsOnly`: names ending in `'weight'`, rank ≥ 2), so biases and
 * normalisation scales are not penalised.
 * @example
 * import { grad, add } from '@backfold/ops'
 * import { l2Penalty } from '@backfold/nn'
 * const objective = add(loss, l2Penalty(params, 1e-4)) // loss: the data term; grad(objective) adds λ w
 * @since 0.1.0
 */
export const l2Penalty = (params: unknown, lambda: number, opts: PenaltyOptions = {}): Tensor => {
  requireNonNegative('l2Penalty', lambda, 'lambda')
  O.checkOptions('l2Penalty', opts, PENALTY_OPTIONS)
  return O.mul(
    sumOverSelected(params, opts.include ?? weightsOnly, (w) => O.sum(O.square(w))),
    lambda / 2,
  )
}

/**
 * Σ of `perTensor(w)` over the selected leaves; a float32 zero when nothing is selected.
 * @internal
 */
export const sumOverSelected = (
  params: unknown,
  include: ParamFilter,
  perTensor: (w: Tensor) => Tensor,
): Tensor => {
  let total: Tensor | undefined
  for (const [name, w] of flattenNamed(params)) {
    if (!include(name, w)) continue
    const term = perTensor(w)
    total = total === undefined ? term : O.add(total, term)
  }
  return total ?? T.scalar(0)
}
