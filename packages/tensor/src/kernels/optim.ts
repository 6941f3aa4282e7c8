/**
 * Optimizer kernels: a whole per-element update rule in one pass over the parameters' state, where
 * composing elementwise ops would take a dozen passes and as many fresh buffers. `@backfold/nn`'s
 * optimizers use them outside transformations (they fall back to ops when differentiated).
 * @since 0.1.0
 */
import { getBackend } from '../backend'
import { ValueError } from '../errors'
import type { Tensor } from '../tensor'
import { requireSameFloat } from './sameFloat'

/**
 * Adam's hyperparameters for one step. `muCorrection` and `nuCorrection` are the bias corrections
 * `1 − β₁ᵗ` and `1 − β₂ᵗ` of step `t` (from 1).
 * @since 0.1.0
 */
export interface AdamHyperparameters {
  readonly b1: number
  readonly b2: number
  readonly eps: number
  readonly epsRoot: number
  readonly muCorrection: number
  readonly nuCorrection: number
  /** Multiplies the update (default 1): `−lr` folds the learning rate into the same pass. */
  readonly scale?: number
}

/** The new moments and the update of one Adam step. @since 0.1.0 */
export interface AdamMoments {
  readonly mu: Tensor
  readonly nu: Tensor
  readonly update: Tensor
}

/**
 * One step of Adam's rescaling (optax's `scale_by_adam`) in one pass:
 * `m ← β₁ m + (1 − β₁) g`, `v ← β₂ v + (1 − β₂) g²`,
 * `update = scale · (m / muCorrection) / (√(v / nuCorrection + epsRoot) + eps)`.
 * Each element is computed in float64 from the inputs and rounded once; the update is computed
 * from the rounded moments (the ones kept in the optimizer state). `g`, `m`, `v` share a float
 * dtype and a shape.
 * @example
 * const t = count + 1
 * const { mu, nu, update } = adamUpdate(g, m, v, {
 *   b1: 0.9, b2: 0.999, eps: 1e-8, epsRoot: 0, muCorrection: 1 - 0.9 ** t, nuCorrection: 1 - 0.999 ** t,
 * })
 * @throws DTypeError / ShapeError for mismatched operands; ValueError for non-finite hyperparameters
 * or a correction outside (0, 1].
 * @since 0.1.0
 */
export const adamUpdate = (g: Tensor, m: Tensor, v: Tensor, hyper: AdamHyperparameters): AdamMoments => {
  checkAdam('adamUpdate', hyper, [g, m, v])
  const [mu, nu, update] = getBackend().adamUpdate(g, m, v, hyper)
  return { mu, nu, update }
}

/** The parameters and moments after one Adam step. @since 0.1.0 */
export interface AdamApplied {
  readonly params: Tensor
  readonly mu: Tensor
  readonly nu: Tensor
}

/**
 * `adamUpdate` and the parameter update in one pass: `params + update` with the update of
 * `adamUpdate` (pass `scale: −lr`), rounded once. `p`, `g`, `m`, `v` share a float dtype and a shape.
 * @example
 * const hyper = { b1: 0.9, b2: 0.999, eps: 1e-8, epsRoot: 0, muCorrection: 0.1, nuCorrection: 0.001 } // step 1
 * const { params, mu, nu } = adamApply(p, g, m, v, { ...hyper, scale: -1e-3 })
 * @throws as `adamUpdate`.
 * @since 0.1.0
 */
export const adamApply = (
  p: Tensor,
  g: Tensor,
  m: Tensor,
  v: Tensor,
  hyper: AdamHyperparameters,
): AdamApplied => {
  checkAdam('adamApply', hyper, [g, m, v, p])
  const [mu, nu, params] = getBackend().adamUpdate(g, m, v, hyper, p)
  return { params, mu, nu }
}

const checkAdam = (op: string, hyper: AdamHyperparameters, tensors: ReadonlyArray<Tensor>): void => {
  for (const name of ['b1', 'b2', 'eps', 'epsRoot', 'muCorrection', 'nuCorrection', 'scale'] as const) {
    const value = hyper[name] ?? 1
    if (!Number.isFinite(value)) throw new ValueError(op, `${name} must be a finite number, got ${value}`)
  }
  for (const name of ['muCorrection', 'nuCorrection'] as const) {
    const value = hyper[name]
    if (!(value > 0 && value <= 1)) throw new ValueError(op, `${name} must be in (0, 1], got ${value}`)
  }
  requireSameFloat(op, ['g', 'm', 'v', 'p'], tensors)
}
