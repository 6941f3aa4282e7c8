import { flatten, mapTree, sizeOf, unflatten, zeros, type Tensor } from '@backfold/tensor'
import { checkOptions } from '../core/options'
import { reshape } from '../shape/reshape'
import { resolveArgnums, type Argnums, type GradOf } from './args'
import { linearize } from './jvp'
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
 * The Jacobian by forward mode, for the transforms that build on it (`hessian`): `f` is linearized
 * once (`v ↦ J v`), then for each differentiated leaf that map is applied under `vmap` to the
 * standard basis of the leaf, so every column comes from one batched JVP, not a loop.
 * @internal
 */
export const jacfwdOf =
  (transform: string, f: (...args: ReadonlyArray<unknown>) => unknown, argnums: Argnums) =>
  (...args: ReadonlyArray<unknown>): unknown => {
    const nums = resolveArgnums(transform, argnums, args.length)
    const inputs = flattenArgs(args, nums)
    checkJacobian(
      transform,
      [],
      inputs.flatMap((a) => a.leaves),
    )
    // f of the differentiated arguments alone; the others are fixed data.
    const ofDiff = (...diff: ReadonlyArray<unknown>): unknown =>
      f(...args.map((arg, n) => (nums.includes(n) ? diff[nums.indexOf(n)] : arg)))
    const primals = nums.map((n) => args[n])
    const [out, push] = linearize(transform, ofDiff, primals)
    const { leaves: outLeaves, def: outDef } = flatten(out)
    checkJacobian(
      transform,
      outLeaves,
      inputs.flatMap((a) => a.leaves),
    )
    // columns[a][i][j]: the block of output leaf j for leaf i of differentiated argument a.
    const columns = inputs.map(({ leaves }, a) =>
      leaves.map((x, i): Tensor[] => {
        if (sizeOf(x.shape) === 0) return outLeaves.map((y) => zeros([...y.shape, ...x.shape], y.dtype))
        // Column k is J applied to the tangent that is 1 at entry k of this leaf and 0 elsewhere.
        const pushColumn = (e: Tensor): unknown =>
          push(
            primals.map((p, b) =>
              mapTree(p, (leaf, m) => (b === a && m === i ? e : zeros(leaf.shape, leaf.dtype))),
            ),
          )
        // Columns last, so each output leaf reads [...outShape, n] and reshapes to [...outShape, ...inShape].
        const cols = flatten(vmap(pushColumn, { outAxes: -1 })(basisOf(x))).leaves
        return cols.map((c, j) => reshape(c, [...outLeaves[j]!.shape, ...x.shape]))
      }),
    )
    const blocks = outLeaves.map((_, j) => {
      const perArg = inputs.map(({ def }, a) =>
        unflatten(
          def,
          columns[a]!.map((column) => column[j]!),
        ),
      )
      return typeof argnums === 'number' ? perArg[0] : perArg
    })
    return buildTree(outDef, blocks)
  }

/**
 * The Jacobian of `f` by forward mode: the same result as `jacrev` (the output's tree, each tensor
 * replaced by a block shaped like the differentiated argument(s), leaves of shape
 * `[...outLeafShape, ...inLeafShape]`). `f` runs once; each differentiated leaf costs one JVP
 * batched by `vmap` over its standard basis. Best when the input is smaller than the output.
 * @example
 * import { jacfwd, sin, tensor } from '@backfold/ops'
 * jacfwd(sin)(tensor([0, 1])) // [[1, 0], [0, cos 1]]
 * @throws TraceError for an int32 output or differentiated leaf, or a Jacobian of more than 2²⁴
 *   entries (use `vjp`, `jvp` or `hvp`).
 * @since 0.2.0
 */
export function jacfwd<Args extends ReadonlyArray<unknown>, Out>(
  f: (...args: Args) => Out,
  opts?: JacobianOptions<Argnums> & { readonly argnums?: undefined },
): (...args: Args) => JacobianOf<Out, Args[0]>
export function jacfwd<Args extends ReadonlyArray<unknown>, Out, const N extends Argnums>(
  f: (...args: Args) => Out,
  opts: JacobianOptions<N> & { readonly argnums: N },
): (...args: Args) => JacobianOf<Out, GradOf<Args, N>>
export function jacfwd(
  f: (...args: ReadonlyArray<unknown>) => unknown,
  opts: { readonly argnums?: Argnums | undefined } = {},
): (...args: ReadonlyArray<unknown>) => unknown {
  checkOptions('jacfwd', opts, JACOBIAN_OPTIONS)
  return jacfwdOf('jacfwd', f, opts.argnums ?? 0)
}
