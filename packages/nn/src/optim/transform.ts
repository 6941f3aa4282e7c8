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

/** A learning rate: fixed, or a schedule from step count (0-based) to rate. @since 0.1.0 */
export type LearningRate = number | Schedule

/** A schedule maps the step count (0-based) to a value. @since 0.1.0 */
export type Schedule = (step: number) => number

/** A scalar tensor or number, for typing helpers. @internal */
export type Scalarish = Tensor | number
