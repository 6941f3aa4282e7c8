import { flatten, unflatten, zeros } from '@backfold/tensor'
import { vjp } from './vjp'

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
  (primals: Args, tangents: { readonly [K in keyof Args]: Args[K] }): readonly [Out, Out] => {
    const [out, pullback] = vjp(f)(...primals)
    const { leaves, def } = flatten(out)
    const zeroCotangent = unflatten<Out>(
      def,
      leaves.map((y) => zeros(y.shape, y.dtype)),
    )
    const [, pullbackOfPullback] = vjp((u: Out) => pullback(u))(zeroCotangent)
    // The tangents tuple has the structure of the pullback's result (one tree per argument).
    const [tangentOut] = pullbackOfPullback(tangents as unknown as unknown[])
    // The inner pullback's cotangent has the output's type, so its VJP's result does too.
    return [out, tangentOut as Out] as const
  }
