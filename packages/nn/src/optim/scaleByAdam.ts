import * as O from '@backfold/ops'
import type { DType, Tensor } from '@backfold/tensor'
import { zerosLike } from '../tree'
import { checkOptimizerOptions, requireInRange, requireLearningRate, zipWithStates } from './leafwise'
import * as S from './scalar'
import { learningRateAt } from './scaleByLearningRate'
import type { GradientTransformation, LearningRate } from './transform'

/** State of `scaleByAdam` (and of `adam`/`adamw`). @since 0.1.0 */
export interface ScaleByAdamState {
  /**
   * Number of updates already applied, an int32 scalar tensor (data, so `jit` stages the update
   * once); the bias correction uses `count + 1`.
   */
  readonly count: Tensor
  /** First moment `m = β₁ m + (1 − β₁) g`, a tree with the params' structure. */
  readonly mu: unknown
  /** Second moment `v = β₂ v + (1 − β₂) g²`, a tree with the params' structure. */
  readonly nu: unknown
}

/** Options of `scaleByAdam`. @since 0.1.0 */
export interface ScaleByAdamOptions {
  /** Decay of the first moment (default 0.9). */
  readonly b1?: number
  /** Decay of the second moment (default 0.999). */
  readonly b2?: number
  /** Added to `√v̂` in the denominator (default 1e-8). */
  readonly eps?: number
  /** Added to `v̂` inside the square root (default 0), as optax's `eps_root`. */
  readonly epsRoot?: number
}

/** The accepted keys of `ScaleByAdamOptions`. @internal */
export const ADAM_OPTION_SPECS = {
  b1: O.option.number,
  b2: O.option.number,
  eps: O.option.number,
  epsRoot: O.option.number,
} as const

const ADAM_OPTIONS = O.optionSchema(ADAM_OPTION_SPECS)

/**
 * Adam's rescaling (Kingma & Ba 2015, Algorithm 1; optax's `scale_by_adam`): with `t = count + 1`,
 * `m ← β₁ m + (1 − β₁) g`, `v ← β₂ v + (1 − β₂) g²`, `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)`,
 * update `m̂ / (√(v̂ + eps_root) + eps)`. Follow it with `scaleByLearningRate` (that is `adam`).
 * @throws ValueError for an unknown option, b1 or b2 outside [0, 1), eps <= 0 or epsRoot < 0.
 * @since 0.1.0
 */
export const scaleByAdam = (opts: ScaleByAdamOptions = {}): GradientTransformation<ScaleByAdamState> =>
  adamRule('scaleByAdam', opts, undefined)

/**
 * Adam's rule with, when `lr` is given, the learning rate folded into the same per-leaf pass
 * (`adam(lr)` is `scaleByAdam` then `scaleByLearningRate(lr)`, one pass instead of two).
 * @internal
 */
export const adamRule = (
  where: string,
  opts: ScaleByAdamOptions,
  lr: LearningRate | undefined,
  schema: O.OptionSchema = ADAM_OPTIONS,
): GradientTransformation<ScaleByAdamState> => {
  if (lr !== undefined) requireLearningRate(where, lr)
  checkOptimizerOptions(where, opts, schema)
  const { b1 = 0.9, b2 = 0.999, eps = 1e-8, epsRoot = 0 } = opts
  requireInRange(where, 'b1', b1, 0, 1, { maxExclusive: true })
  requireInRange(where, 'b2', b2, 0, 1, { maxExclusive: true })
  // eps = 0 divides 0 by 0 where a gradient has been 0 so far.
  requireInRange(where, 'eps', eps, 0, Infinity, { minExclusive: true, maxExclusive: true })
  requireInRange(where, 'epsRoot', epsRoot, 0, Infinity, { maxExclusive: true })
  /**
   * One step on every leaf: the new moments and either the update or, given params, the updated
   * params, composed of ops (a staged step fuses each leaf's chain into one kernel). The bias
   * corrections and the learning rate are scalars computed from the count in float64, then taken
   * to each leaf's dtype.
   */
  const step = <P>(
    grads: P,
    state: ScaleByAdamState,
    params: P | undefined,
  ): readonly [P, ScaleByAdamState] => {
    const count = S.countTensor(where, state.count)
    const t = S.stepOf(S.nextCount(count))
    const rate = lr === undefined ? undefined : S.mul(learningRateAt(lr, count), -1)
    const muCorrection = S.sub(1, S.pow(b1, t))
    const nuCorrection = S.sub(1, S.pow(b2, t))
    // The scalars in each dtype met (one cast per dtype, not per leaf).
    const cache = new Map<DType, readonly [S.Scalar, S.Scalar, S.Scalar | undefined]>()
    const scalarsIn = (dtype: DType): readonly [S.Scalar, S.Scalar, S.Scalar | undefined] => {
      const known = cache.get(dtype)
      if (known !== undefined) return known
      const made = [
        S.inDType(muCorrection, dtype),
        S.inDType(nuCorrection, dtype),
        rate === undefined ? undefined : S.inDType(rate, dtype),
      ] as const
      cache.set(dtype, made)
      return made
    }
    const states = [
      [state.mu, 'state.mu'],
      [state.nu, 'state.nu'],
      ...(params === undefined ? [] : [[params, 'params'] as const]),
    ] as const
    const trees = zipWithStates(where, grads, states, 3, (g, [m, v, p]) => {
      const [muHatDivisor, nuHatDivisor, scale] = scalarsIn(g.dtype)
      const nextM = O.add(O.mul(m!, b1), O.mul(g, 1 - b1))
      const nextV = O.add(O.mul(v!, b2), O.mul(O.square(g), 1 - b2))
      const nuHat = O.div(nextV, nuHatDivisor)
      const root = O.sqrt(epsRoot === 0 ? nuHat : O.add(nuHat, epsRoot))
      const update = O.div(O.div(nextM, muHatDivisor), O.add(root, eps))
      const scaled = scale === undefined ? update : O.mul(update, scale)
      return [nextM, nextV, p === undefined ? scaled : O.astype(O.add(p, scaled), p.dtype)]
    })
    const [mu, nu, out] = [trees[0]!, trees[1]!, trees[2]!]
    return [out, { count: S.nextCount(count), mu, nu }]
  }
  // Run op by op, the rule dispatches a dozen small ops per parameter; staged with `jit` (once per
  // parameter signature) it runs as a few fused elementwise kernels per parameter. Explicitly
  // staged here, so that eager training (`makeTrainStep({ jit: false })`) stays fast; under an
  // enclosing `jit`, `grad` or `vmap` a jitted function composes like any other.
  const adamUpdate = O.jit((grads: unknown, state: ScaleByAdamState) => step(grads, state, undefined))
  const adamApply = O.jit((grads: unknown, state: ScaleByAdamState, params: unknown) =>
    step(grads, state, params),
  )
  // A count saved as a number (0.2) becomes a tensor before it reaches jit's signature.
  const withCount = (state: ScaleByAdamState): ScaleByAdamState => ({
    ...state,
    count: S.countTensor(where, state.count),
  })
  return {
    init: (params) => ({ count: S.initialCount(), mu: zerosLike(params), nu: zerosLike(params) }),
    // jit's type is the staged function's, here over trees of unknown type: the updates and new
    // parameters are trees shaped like the gradients (checked leaf by leaf by zipWithStates).
    update: <P>(grads: P, state: ScaleByAdamState) =>
      adamUpdate(grads, withCount(state)) as readonly [P, ScaleByAdamState],
    apply: <P>(grads: P, state: ScaleByAdamState, params: P) =>
      adamApply(grads, withCount(state), params) as readonly [P, ScaleByAdamState],
  }
}
