import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { flattenNamed } from '../tree'

/**
 * Combines a tree typed `P` (gradients, updates) leaf by leaf with trees held in optimizer state,
 * whose static type is `unknown` because `GradientTransformation.init` is generic in the params.
 * The state trees are checked at run time instead: same structure, same shape at every leaf (state
 * initialised for other parameters must fail loudly, not broadcast). `f` returns `outputs` tensors
 * per leaf; the result is `outputs` trees with `like`'s type (a fused update rule computes several
 * new state tensors in one pass).
 * @internal
 */
export const zipWithStates = <P>(
  where: string,
  like: P,
  states: ReadonlyArray<readonly [tree: unknown, name: string]>,
  outputs: number,
  f: (x: Tensor, s: ReadonlyArray<Tensor>) => ReadonlyArray<Tensor>,
): P[] => {
  const { leaves, def } = T.flatten(like)
  // Leaf names only serve the error message: built then, not on every optimizer step.
  const nameOf = (i: number): string => flattenNamed(like)[i]![0]
  const stateLeaves = states.map(([tree, stateName]) => {
    const state = T.flatten(tree)
    // The parameters themselves (a fused update-and-apply) must simply match; state must come from init.
    const hint =
      stateName === 'params'
        ? 'pass the parameters the gradients were taken of'
        : 'initialise the optimizer state with init(params) for the parameters you update'
    if (!T.sameStructure(def, state.def))
      throw new T.ValueError(where, `${stateName} does not have the structure of the gradients; ${hint}`)
    state.leaves.forEach((s, i) => {
      const x = leaves[i]!
      if (!T.shapesEqual(x.shape, s.shape))
        throw new T.ShapeError(
          where,
          `${stateName} at '${nameOf(i)}' has shape ${T.fmtShape(s.shape)} but the gradient has shape ` +
            `${T.fmtShape(x.shape)}; ${hint}`,
        )
    })
    return state.leaves
  })
  const results = leaves.map((x, i) =>
    f(
      x,
      stateLeaves.map((ls) => ls[i]!),
    ),
  )
  return Array.from({ length: outputs }, (_, k) =>
    T.unflatten<P>(
      def,
      results.map((r) => r[k]!),
    ),
  )
}

/** `zipWithStates` with one state tree and one output tree. @internal */
export const zipWithState = <P>(
  where: string,
  like: P,
  stateTree: unknown,
  stateName: string,
  f: (x: Tensor, s: Tensor) => Tensor,
): P => zipWithStates(where, like, [[stateTree, stateName]], 1, (x, [s]) => [f(x, s!)])[0]!

/**
 * Checks an optimizer's options record: unknown keys and values that are not numbers throw a
 * `ValueError` naming the optimizer and the accepted keys. @internal
 */
export const checkOptimizerOptions = (where: string, options: unknown, schema: O.OptionSchema): void =>
  O.checkOptions(where, options, schema)

/**
 * Rejects a learning rate that is not a finite number > 0 or a schedule (a function of the step),
 * at construction: `adam(-1)` or `sgd(0)` would silently climb the loss or do nothing. @internal
 */
export const requireLearningRate = (where: string, lr: unknown): void => {
  if (typeof lr === 'function') return
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0)
    throw new T.ValueError(
      where,
      `the learning rate must be a finite number > 0 or a schedule (a function of the step), got ${
        typeof lr === 'number' ? lr : typeof lr === 'object' && lr !== null ? 'an object' : String(lr)
      }`,
    )
}

/** Rejects a hyperparameter that is not a finite number in `[min, max]` (bounds inclusive unless stated). @internal */
export const requireInRange = (
  where: string,
  name: string,
  value: number,
  min: number,
  max: number,
  { minExclusive = false, maxExclusive = false }: { minExclusive?: boolean; maxExclusive?: boolean } = {},
): void => {
  const aboveMin = minExclusive ? value > min : value >= min
  const belowMax = maxExclusive ? value < max : value <= max
  if (!(Number.isFinite(value) && aboveMin && belowMax))
    throw new T.ValueError(
      where,
      `${name} must be a finite number in ${minExclusive ? '(' : '['}${min}, ${max}${maxExclusive ? ')' : ']'}, got ${value}`,
    )
}
