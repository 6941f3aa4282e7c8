import { flatten, mapTree, zeros } from '@backfold/tensor'
import { refuseInt32Outputs } from './jacobianCommon'
import { vjp } from './vjp'

/** The tangents of `jvp`: one tree per argument, shaped like it. @since 0.2.0 */
export type Tangents<Args extends ReadonlyArray<unknown>> = { readonly [K in keyof Args]: Args[K] }

/**
 * `f` evaluated at `primals`, and the linear map `v ↦ J v` at that point, reusable for many
 * tangents: `f` runs once. `jvp` applies it once; `jacfwd` maps it with `vmap` over a basis.
 *
 * The map is the VJP of the pullback: the pullback `u ↦ uᵀ J` is linear in `u`, so its own VJP
 * applied to `v` is `J v` (the "double VJP" construction), and no op needs a forward-mode rule.
 * @internal
 */
export const linearize = <Args extends ReadonlyArray<unknown>, Out>(
  transform: string,
  f: (...args: Args) => Out,
  primals: Args,
): readonly [Out, (tangents: Tangents<Args>) => Out] => {
  const [out, pullback] = vjp(f)(...primals)
  refuseInt32Outputs(transform, flatten(out).leaves)
  // The point at which the pullback is differentiated does not matter (it is linear): zeros.
  const zeroCotangent = mapTree(out, (y) => zeros(y.shape, y.dtype))
  const [, pullbackOfPullback] = vjp((u: Out): Tangents<Args> => pullback(u))(zeroCotangent)
  return [out, (tangents) => pullbackOfPullback(tangents)[0]] as const
}

/**
 * Forward mode: the output of `f` and its directional derivative `J v` along `tangents`
 * (one tangent tree per argument, shaped like it).
 *
 * Derived from the VJPs alone, with no per-op forward rules: the pullback `u ↦ uᵀ J` is linear
 * in `u`, so its own VJP applied to `v` is `J v` (the "double VJP" construction).
 * @example
 * import { jvp, sin } from '@backfold/ops'
 * import { tensor } from '@backfold/tensor'
 * const [y, dy] = jvp(sin)([tensor([0, 1])], [tensor([1, 1])]) // sin x, cos x
 * @since 0.1.0
 */
export const jvp =
  <Args extends ReadonlyArray<unknown>, Out>(f: (...args: Args) => Out) =>
  (primals: Args, tangents: Tangents<Args>): readonly [Out, Out] => {
    const [out, push] = linearize('jvp', f, primals)
    return [out, push(tangents)] as const
  }
