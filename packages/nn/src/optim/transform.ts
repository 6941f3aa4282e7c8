import type { Tensor } from '@backfold/tensor'

/**
 * An optax-style gradient transformation: a pair of pure functions.
 * `init(params)` makes the state; `update(grads, state, params)` turns gradients into updates
 * (to be added to the parameters with `applyUpdates`) and returns the next state.
 *
 * State is a typed, named record (`state.adam.mu`, never `state[0]`); tree-shaped parts of it have the
 * parameters' structure. Nothing is mutated.
 * @since 0.1.0
 */
export interface GradientTransformation<S> {
  /** The initial state for parameters `params` (e.g. Adam's zero moments). */
  readonly init: <P>(params: P) => S
  /** The updates to add to `params` for gradients `grads`, and the new state. */
  readonly update: <P>(grads: P, state: S, params: P) => readonly [P, S]
  /**
   * Optional fast path: `update` and `applyUpdates` in one pass per parameter, returning the new
   * parameters and state. Equal to `applyUpdates(params, update(grads, state, params)[0])` except
   * that each new parameter is rounded once instead of twice. Call it through `applyGradients`,
   * which falls back to `update` + `applyUpdates` for transformations without it.
   */
  readonly apply?: <P>(grads: P, state: S, params: P) => readonly [P, S]
}

/** The state type of a transformation. @since 0.1.0 */
export type StateOfTransformation<T> = T extends GradientTransformation<infer S> ? S : never

/** A learning rate: fixed, or a schedule of the step count (0-based). @since 0.1.0 */
export type LearningRate = number | Schedule

/**
 * A schedule maps the step count (0-based: the number of updates already applied) to a value.
 * Optimizers call it with the count as a float64 scalar tensor and expect a scalar tensor back,
 * so a schedule computes with ops (`O.mul`, `O.cos`, `O.where`, ...): the optimizer update is then
 * staged by `jit` with the rest of a training step, the count being data rather than a fixed number.
 * The library's schedules (`cosineDecay`, ...) are `NumericSchedule`s: they also take a plain number.
 * @example
 * import * as O from '@backfold/ops'
 * import type { Schedule } from '@backfold/nn'
 * // halve the rate every 100 steps
 * const halving: Schedule = (step) => O.mul(0.1, O.pow(0.5, O.floor(O.div(step, 100))))
 * @since 0.1.0
 */
export type Schedule = (step: Tensor) => Tensor

/**
 * A schedule that also maps a plain step number to a plain number (for plots and checks), with the
 * same formula: what the library's schedules return.
 * @example
 * const lr = cosineDecay({ init: 0.1, decaySteps: 1000 })
 * lr(500) // 0.05
 * @since 0.2.0
 */
export interface NumericSchedule extends Schedule {
  (step: number): number
}

/** A scalar tensor or number, for typing helpers. @internal */
export type Scalarish = Tensor | number
