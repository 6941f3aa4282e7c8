import * as T from '@backfold/tensor'
import type { GradientTransformation } from './transform'

/**
 * Composes transformations given as a NAMED record, applied in key order; the state is the record of
 * their states under the same names, so it reads `state.adam.mu`, never `state[1][0]`.
 * @example
 * import { chain, clipByGlobalNorm, adam } from '@backfold/nn'
 * const optimizer = chain({ clip: clipByGlobalNorm(1), adam: adam(1e-3) })
 * let optState = optimizer.init(params)
 * optState.adam.mu // a tree shaped like params
 * const [updates, next] = optimizer.update(grads, optState, params)
 * @since 0.1.0
 */
export const chain = <S extends Readonly<Record<string, unknown>>>(transformations: {
  readonly [K in keyof S]: GradientTransformation<S[K]>
}): GradientTransformation<S> => {
  if (typeof transformations !== 'object' || transformations === null || Array.isArray(transformations))
    throw new T.ValueError(
      'chain',
      'expected a record of named transformations, e.g. chain({ clip: clipByGlobalNorm(1), adam: adam(1e-3) })',
    )
  // A member that is not a transformation (clipByGlobalNorm not called, say) would fail at the first step.
  const members: Readonly<Record<string, unknown>> = transformations
  for (const [name, member] of Object.entries(members)) {
    const ok =
      typeof member === 'object' &&
      member !== null &&
      'init' in member &&
      typeof member.init === 'function' &&
      'update' in member &&
      typeof member.update === 'function'
    if (!ok)
      throw new T.ValueError(
        'chain',
        `member '${name}' is not a gradient transformation ({ init, update }), got ${
          typeof member === 'function' ? 'a function (call it: e.g. clipByGlobalNorm(1))' : String(member)
        }`,
      )
  }
  // Object.keys of this record lists exactly the keys of S (string keys; TS types it string[]).
  const names = Object.keys(transformations) as ReadonlyArray<keyof S>
  const lastName = names.at(-1)
  const last = lastName === undefined ? undefined : transformations[lastName]
  return {
    init: (params) => {
      const state: Partial<S> = {}
      for (const name of names) state[name] = transformations[name].init(params)
      // Every key of S was filled by the loop above.
      return state as S
    },
    update: (grads, state, params) => {
      let updates = grads
      const next: Partial<S> = {}
      for (const name of names) {
        const [transformed, substate] = transformations[name].update(updates, state[name], params)
        updates = transformed
        next[name] = substate
      }
      // Every key of S was filled by the loop above.
      return [updates, next as S]
    },
    // When the last member can update and apply in one pass, the chain can too.
    ...(last?.apply === undefined
      ? {}
      : {
          apply: <P>(grads: P, state: S, params: P): readonly [P, S] => {
            let updates = grads
            const next: Partial<S> = {}
            names.forEach((name, i) => {
              if (i < names.length - 1) {
                const [transformed, substate] = transformations[name].update(updates, state[name], params)
                updates = transformed
                next[name] = substate
              }
            })
            const [nextParams, lastState] = last.apply!(updates, state[lastName!], params)
            next[lastName!] = lastState
            // Every key of S was filled above.
            return [nextParams, next as S]
          },
        }),
  }
}
