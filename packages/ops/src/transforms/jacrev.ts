import { flatten, mapTree, sizeOf, unflatten, zeros, type Tensor } from '@backfold/tensor'
import { checkOptions } from '../core/options'
import { reshape } from '../shape/reshape'
import { resolveArgnums, type Argnums, type GradOf } from './args'
import { vjp } from './vjp'
import { vmap } from './vmap'
import {
  basisOf,
  buildTree,
  checkJacobian,
  flattenArgs,
  JACOBIAN_OPTIONS,
  type JacobianOf,
  type JacobianOptions,
} from './jacobianCommon'

/**
 * The Jacobian by reverse mode, for the transforms that build on it (`hessian`): `f` runs once
 * under `vjp`, then for each output leaf the pullback is mapped with `vmap` over the standard basis
 * of that leaf, so every row of the Jacobian comes from one batched pullback, not a loop.
 * @internal
 */
export const jacrevOf =
  (transform: string, f: (...args: ReadonlyArray<unknown>) => unknown, argnums: Argnums) =>
  (...args: ReadonlyArray<unknown>): unknown => {
    const nums = resolveArgnums(transform, argnums, args.length)
    const inputs = flattenArgs(args, nums)
    checkJacobian(
      transform,
      [],
      inputs.flatMap((a) => a.leaves),
    )
    const [out, pullback] = vjp(f, { argnums: nums })(...args)
    const { leaves: outLeaves, def: outDef } = flatten(out)
    checkJacobian(
      transform,
      outLeaves,
      inputs.flatMap((a) => a.leaves),
    )
    const blocks = outLeaves.map((y, j) => {
      // Row k of this block is the pullback of the cotangent that is 1 at entry k of leaf j and 0
      // everywhere else.
      const pullRow = (e: Tensor): unknown[] =>
        pullback(
          unflatten(
            outDef,
            outLeaves.map((other, m) => (m === j ? e : zeros(other.shape, other.dtype))),
          ),
        )
      const perArg: unknown[] =
        sizeOf(y.shape) === 0
          ? inputs.map(({ leaves, def }) =>
              unflatten(
                def,
                leaves.map((x) => zeros([...y.shape, ...x.shape], x.dtype)),
              ),
            )
          : vmap(pullRow)(basisOf(y)).map((rows) =>
              mapTree(rows, (r) => reshape(r, [...y.shape, ...r.shape.slice(1)])),
            )
      return typeof argnums === 'number' ? perArg[0] : perArg
    })
    return buildTree(outDef, blocks)
  }

/**
 * The Jacobian of `f` by reverse mode: the output's tree, each tensor replaced by a block shaped
 * like the differentiated argument(s) (`argnums`, as in `grad`; default 0) whose leaves have shape
 * `[...outLeafShape, ...inLeafShape]` (as in JAX). `f` runs once; each output leaf costs one
 * pullback batched by `vmap` over its standard basis. Best when the output is smaller than the
 * input; `jacfwd` computes the same when it is larger.
 * @example
 * import { jacrev, mul, sum, tensor, type Tensor } from '@backfold/ops'
 * jacrev((x: Tensor) => mul(x, x))(tensor([1, 2])) // [[2, 0], [0, 4]]
 * // two arguments, a tree output: J.s is [dJ/dw, dJ/dx], each of shape [...s.shape, 2]
 * const J = jacrev((w: Tensor, x: Tensor) => ({ s: sum(mul(w, x)), p: mul(w, x) }), { argnums: [0, 1] })(
 *   tensor([1, 2]), tensor([3, 4]))
 * @throws TraceError for an int32 output or differentiated leaf, or a Jacobian of more than 2²⁴
 *   entries (use `vjp`, `jvp` or `hvp`).
 * @since 0.2.0
 */
export function jacrev<Args extends ReadonlyArray<unknown>, Out>(
  f: (...args: Args) => Out,
  opts?: JacobianOptions<Argnums> & { readonly argnums?: undefined },
): (...args: Args) => JacobianOf<Out, Args[0]>
export function jacrev<Args extends ReadonlyArray<unknown>, Out, const N extends Argnums>(
  f: (...args: Args) => Out,
  opts: JacobianOptions<N> & { readonly argnums: N },
): (...args: Args) => JacobianOf<Out, GradOf<Args, N>>
export function jacrev(
  f: (...args: ReadonlyArray<unknown>) => unknown,
  opts: { readonly argnums?: Argnums | undefined } = {},
): (...args: ReadonlyArray<unknown>) => unknown {
  checkOptions('jacrev', opts, JACOBIAN_OPTIONS)
  return jacrevOf('jacrev', f, opts.argnums ?? 0)
}
