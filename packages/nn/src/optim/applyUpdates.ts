import * as O from '@backfold/ops'
import { map2 } from '../tree'

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
