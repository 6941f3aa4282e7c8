/**
 * Learning-rate schedules: functions from the 0-based step count (the number of updates already
 * applied) to a value, with optax's definitions. Pass one anywhere a learning rate is accepted.
 * Each formula is written once over `scalar.ts`'s helpers, so it runs on a plain number (plain
 * arithmetic) and on the optimizer's count tensor (ops, which `jit` stages) alike.
 * @since 0.1.0
 */
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { checkOptimizerOptions, requireInRange } from './leafwise'
import * as S from './scalar'
import type { NumericSchedule } from './transform'

/** A schedule from one formula over numbers or scalar tensors. */
const schedule = (formula: (step: S.Scalar) => S.Scalar): NumericSchedule => {
  function evaluate(step: number): number
  function evaluate(step: Tensor): Tensor
  function evaluate(step: number | Tensor): number | Tensor {
    const value = formula(step)
    // A formula that ignores the step (a constant) returns a number for a tensor step too.
    return typeof step === 'number' || typeof value !== 'number' ? value : T.scalar(value, step.dtype)
  }
  return evaluate
}

const { number: num, boolean: bool, required } = O.option
const PIECEWISE_CONSTANT_OPTIONS = O.optionSchema({
  init: required(num),
  boundariesAndScales: required(O.option.anything),
})
const EXPONENTIAL_DECAY_OPTIONS = O.optionSchema({
  init: required(num),
  decayRate: required(num),
  transitionSteps: required(num),
  staircase: bool,
  transitionBegin: num,
  endValue: num,
})
const COSINE_DECAY_OPTIONS = O.optionSchema({ init: required(num), decaySteps: required(num), alpha: num })
const WARMUP_COSINE_DECAY_OPTIONS = O.optionSchema({
  init: required(num),
  peak: required(num),
  warmupSteps: required(num),
  decaySteps: required(num),
  end: num,
})

/**
 * The same value at every step.
 * @example
 * constant(0.1)(1000) // 0.1
 * @since 0.1.0
 */
export const constant = (value: number): NumericSchedule => {
  requireInRange('constant', 'value', value, -Infinity, Infinity)
  return schedule(() => value)
}

/** Options of `piecewiseConstant`. @since 0.1.0 */
export interface PiecewiseConstantOptions {
  /** The value before the first boundary. */
  readonly init: number
  /** Step boundary → factor: from that step on, the value is multiplied by the factor (factors accumulate). */
  readonly boundariesAndScales: Readonly<Record<number, number>>
}

/**
 * optax's `piecewise_constant_schedule`: starts at `init`; at each boundary step `b` (in increasing
 * order) the value is multiplied by its scale, for all steps `≥ b`.
 * @example
 * const lr = piecewiseConstant({ init: 0.1, boundariesAndScales: { 100: 0.1, 200: 0.1 } })
 * lr(99) // 0.1 ; lr(100) // 0.01 ; lr(250) // 0.001
 * @since 0.1.0
 */
export const piecewiseConstant = (opts: PiecewiseConstantOptions): NumericSchedule => {
  checkOptimizerOptions('piecewiseConstant', opts, PIECEWISE_CONSTANT_OPTIONS)
  if (typeof opts.boundariesAndScales !== 'object' || opts.boundariesAndScales === null)
    throw new T.ValueError(
      'piecewiseConstant',
      `boundariesAndScales must be a record from step to factor, e.g. { 100: 0.1 }, got ${String(opts.boundariesAndScales)}`,
    )
  requireInRange('piecewiseConstant', 'init', opts.init, -Infinity, Infinity)
  const steps = Object.entries(opts.boundariesAndScales)
    .map(([boundary, factor]) => {
      const step = Number(boundary)
      if (!Number.isInteger(step) || step < 0)
        throw new T.ValueError(
          'piecewiseConstant',
          `boundary '${boundary}' is not a non-negative integer step`,
        )
      requireInRange('piecewiseConstant', `the scale at boundary ${boundary}`, factor, 0, Infinity)
      return [step, factor] as const
    })
    .sort((a, b) => a[0] - b[0])
  return schedule((step) => {
    // Factors in boundary order, each applied from its step on (as a product over steps >= boundary).
    let value: S.Scalar = opts.init
    for (const [boundary, factor] of steps) value = S.mul(value, S.ifLess(step, boundary, 1, factor))
    return value
  })
}

/** Options of `exponentialDecay`. @since 0.1.0 */
export interface ExponentialDecayOptions {
  readonly init: number
  /** Factor applied per `transitionSteps` steps (e.g. 0.96). */
  readonly decayRate: number
  /** Number of steps over which the value is multiplied by `decayRate` once (> 0). */
  readonly transitionSteps: number
  /** Decay in discrete jumps every `transitionSteps` (default false: smoothly). */
  readonly staircase?: boolean
  /** Steps to hold `init` before decaying starts (default 0). */
  readonly transitionBegin?: number
  /** A floor (when decaying) or ceiling (when `decayRate > 1`) for the value. */
  readonly endValue?: number
}

/**
 * optax's `exponential_decay`: `init · decayRate^((step − transitionBegin) / transitionSteps)`, the
 * exponent floored with `staircase`; `init` for `step ≤ transitionBegin`; bounded by `endValue` if given.
 * @example
 * const lr = exponentialDecay({ init: 0.1, decayRate: 0.5, transitionSteps: 100, staircase: true })
 * lr(99) // 0.1 ; lr(100) // 0.05
 * @since 0.1.0
 */
export const exponentialDecay = (opts: ExponentialDecayOptions): NumericSchedule => {
  checkOptimizerOptions('exponentialDecay', opts, EXPONENTIAL_DECAY_OPTIONS)
  const { init, decayRate, transitionSteps, staircase = false, transitionBegin = 0, endValue } = opts
  requireInRange('exponentialDecay', 'init', init, -Infinity, Infinity)
  requireInRange('exponentialDecay', 'decayRate', decayRate, 0, Infinity, { minExclusive: true })
  requireInRange('exponentialDecay', 'transitionSteps', transitionSteps, 0, Infinity, { minExclusive: true })
  requireInRange('exponentialDecay', 'transitionBegin', transitionBegin, 0, Infinity)
  if (endValue !== undefined) requireInRange('exponentialDecay', 'endValue', endValue, -Infinity, Infinity)
  return schedule((step) => {
    const elapsed = S.sub(step, transitionBegin)
    const ratio = S.div(elapsed, transitionSteps)
    const exponent = staircase ? S.floor(ratio) : ratio
    const decayed = S.mul(init, S.pow(decayRate, exponent))
    const value =
      endValue === undefined ? decayed : decayRate < 1 ? S.max(decayed, endValue) : S.min(decayed, endValue)
    // Until transitionBegin (elapsed <= 0) the value is init itself.
    return S.ifLess(0, elapsed, value, init)
  })
}

/** Options of `cosineDecay`. @since 0.1.0 */
export interface CosineDecayOptions {
  readonly init: number
  /** Steps over which to decay (> 0); the value stays at `alpha · init` afterwards. */
  readonly decaySteps: number
  /** The final value as a fraction of `init` (default 0). */
  readonly alpha?: number
}

/**
 * optax's `cosine_decay_schedule` (Loshchilov & Hutter's SGDR without restarts): with
 * `s = min(step, decaySteps)`, `init · ((1 − alpha) · ½ (1 + cos(π s / decaySteps)) + alpha)`.
 * @example
 * const lr = cosineDecay({ init: 0.1, decaySteps: 1000 })
 * lr(0) // 0.1 ; lr(500) // 0.05 ; lr(1000) // 0
 * @since 0.1.0
 */
export const cosineDecay = (opts: CosineDecayOptions): NumericSchedule => {
  checkOptimizerOptions('cosineDecay', opts, COSINE_DECAY_OPTIONS)
  const { init, decaySteps, alpha = 0 } = opts
  requireInRange('cosineDecay', 'init', init, -Infinity, Infinity)
  requireInRange('cosineDecay', 'decaySteps', decaySteps, 0, Infinity, { minExclusive: true })
  requireInRange('cosineDecay', 'alpha', alpha, -Infinity, Infinity)
  return schedule((step) => {
    const progress = S.div(S.min(S.max(step, 0), decaySteps), decaySteps)
    const cosine = S.mul(0.5, S.add(1, S.cos(S.mul(Math.PI, progress))))
    return S.mul(init, S.add(S.mul(1 - alpha, cosine), alpha))
  })
}

/** Options of `warmupCosineDecay`. @since 0.1.0 */
export interface WarmupCosineDecayOptions {
  /** The value at step 0. */
  readonly init: number
  /** The value reached at the end of the warm-up. */
  readonly peak: number
  /** Length of the linear warm-up from `init` to `peak`. */
  readonly warmupSteps: number
  /** TOTAL length, warm-up included (as optax); must exceed `warmupSteps`. */
  readonly decaySteps: number
  /** The value after `decaySteps` (default 0). */
  readonly end?: number
}

/**
 * optax's `warmup_cosine_decay_schedule`: linear from `init` to `peak` over `warmupSteps`, then a
 * cosine decay from `peak` to `end` over the remaining `decaySteps − warmupSteps` steps, then `end`.
 * @example
 * const lr = warmupCosineDecay({ init: 0, peak: 1e-3, warmupSteps: 100, decaySteps: 1000 })
 * lr(50) // 5e-4 ; lr(100) // 1e-3 ; lr(1000) // 0
 * @since 0.1.0
 */
export const warmupCosineDecay = (opts: WarmupCosineDecayOptions): NumericSchedule => {
  checkOptimizerOptions('warmupCosineDecay', opts, WARMUP_COSINE_DECAY_OPTIONS)
  const { init, peak, warmupSteps, decaySteps, end = 0 } = opts
  requireInRange('warmupCosineDecay', 'init', init, -Infinity, Infinity)
  requireInRange('warmupCosineDecay', 'peak', peak, -Infinity, Infinity)
  requireInRange('warmupCosineDecay', 'end', end, -Infinity, Infinity)
  requireInRange('warmupCosineDecay', 'warmupSteps', warmupSteps, 0, Infinity)
  if (!(decaySteps > warmupSteps))
    throw new T.ValueError(
      'warmupCosineDecay',
      `decaySteps (${decaySteps}) must exceed warmupSteps (${warmupSteps}): decaySteps is the total length, warm-up included`,
    )
  // optax: alpha = end / peak, so the cosine part ends exactly at `end` (peak 0 leaves nothing to decay).
  const decay = cosineDecay({
    init: peak,
    decaySteps: decaySteps - warmupSteps,
    alpha: peak === 0 ? 0 : end / peak,
  })
  return schedule((step) => {
    // warmupSteps may be 0: then the warm-up branch is never taken, and its 0/0 is discarded.
    const warm = S.add(init, S.mul(peak - init, S.div(S.max(step, 0), warmupSteps === 0 ? 1 : warmupSteps)))
    const rest = S.sub(step, warmupSteps)
    return S.ifLess(step, warmupSteps, warm, typeof rest === 'number' ? decay(rest) : decay(rest))
  })
}
