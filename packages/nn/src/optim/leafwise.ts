import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { flattenNamed } from '../tree'

/**
 * Combines a tree typed `P` (gradients, updates) leaf by leaf with a tree held in optimizer state,
 * whose static type is `unknown` because `GradientTransformation.init` is generic in the params.
 * The state tree is checked at run time instead: same structure, same shape at every leaf (state
 * initialised for other parameters must fail loudly, not broadcast). The result has `like`'s type.
 * @internal
 */
export const zipWithState = <P>(
  where: string,
  like: P,
  stateTree: unknown,
  stateName: string,
  f: (x: Tensor, s: Tensor, name: string) => Tensor,
): P => {
  const { leaves, def } = T.flatten(like)
  const state = T.flatten(stateTree)
  if (!T.sameStructure(def, state.def))
    throw new T.ValueError(
      where,
      `${stateName} does not have the structure of the gradients; ` +
        'initialise the optimizer state with init(params) for the parameters you update',
    )
  const names = flattenNamed(like).map(([name]) => name)
  return T.unflatten<P>(
    def,
    leaves.map((x, i) => {
      const s = state.leaves[i]!
      if (!T.shapesEqual(x.shape, s.shape))
        throw new T.ShapeError(
          where,
          `${stateName} at '${names[i]}' has shape ${T.fmtShape(s.shape)} but the gradient has shape ` +
            `${T.fmtShape(x.shape)}; initialise the optimizer state with init(params) for these parameters`,
        )
      return f(x, s, names[i]!)
    }),
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
