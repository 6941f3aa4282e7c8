import type { GradientTransformation } from './transform'

/**
 * `first` then `second`, with ONE flat state `{ ...firstState, ...secondState }`. The named optimizers
 * use it so that `adam(lr)`'s state is `{ count, mu, nu }` (`chain({ adam: adam(lr) })` then reads
 * `state.adam.mu`). A key both states hold must mean the same thing: here only `count`, the number of
 * updates applied, which both advance in lockstep. Each member receives the whole flat state and must
 * return ONLY its own keys (stateless transformations return a fresh `{}`, never the state they were
 * given, which here would put the stale values of the other member back).
 * @internal
 */
export const fuse = <A extends object, B extends object>(
  first: GradientTransformation<A>,
  second: GradientTransformation<B>,
): GradientTransformation<A & B> => ({
  init: (params) => ({ ...first.init(params), ...second.init(params) }),
  update: (grads, state, params) => {
    const [intermediate, firstState] = first.update(grads, state, params)
    const [updates, secondState] = second.update(intermediate, state, params)
    return [updates, { ...state, ...firstState, ...secondState }]
  },
  // The fused step of the last member, if it has one (see GradientTransformation.apply).
  ...(second.apply === undefined
    ? {}
    : {
        apply: <P>(grads: P, state: A & B, params: P): readonly [P, A & B] => {
          const [intermediate, firstState] = first.update(grads, state, params)
          const [next, secondState] = second.apply!(intermediate, state, params)
          return [next, { ...state, ...firstState, ...secondState }]
        },
      }),
})
