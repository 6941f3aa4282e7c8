import * as O from '@backfold/ops'
import { map2 } from '../tree'
import * as S from './scalar'
import type { GradientTransformation } from './transform'

/**
 * `params + updates`, leaf by leaf (optax's `apply_updates`); each result keeps its parameter's dtype.
 * The two trees must have the same structure (a `ValueError` otherwise).
 * @example
 * const [updates, nextOptState] = optimizer.update(grads, optState, params)
 * const nextParams = applyUpdates(params, updates)
 * @since 0.1.0
 */
export const applyUpdates = <P>(params: P, updates: P): P =>
  map2(params, updates, (p, u) => O.astype(O.add(p, u), p.dtype))

/**
 * One optimizer step on the parameters: the optimizer's `apply` when it has one (`adam`, `sgd`,
 * `momentum`, `adamw` and chains ending in them: the update and its application in one expression
 * per parameter, rounded once), else `update` then `applyUpdates`. Returns the new parameters and optimizer state.
 * @example
 * const [nextParams, nextOptState] = applyGradients(optimizer, grads, optState, params)
 * @since 0.1.0
 */
export const applyGradients = <P, S>(
  optimizer: GradientTransformation<S>,
  grads: P,
  state: S,
  params: P,
): readonly [P, S] => {
  if (optimizer.apply !== undefined) return optimizer.apply(grads, state, params)
  const [updates, next] = optimizer.update(grads, state, params)
  return [applyUpdates(params, updates), next]
}

/**
 * `params + scale · updates` leaf by leaf, with ops (staged and fused by `jit`), each result in
 * its parameter's dtype. The last link of an optimizer's `apply`.
 * @internal
 */
export const applyScaled = <P>(params: P, updates: P, scale: S.Scalar): P =>
  map2(params, updates, (p, u) =>
    O.astype(O.add(p, scale === 1 ? u : O.mul(u, S.inDType(scale, u.dtype))), p.dtype),
  )
