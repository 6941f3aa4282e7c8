import { checkOptions } from '../core/options'
import type { Argnums, GradOf } from './args'
import { jacfwdOf } from './jacfwd'
import { jacrevOf } from './jacrev'
import { JACOBIAN_OPTIONS, type JacobianOf, type JacobianOptions } from './jacobianCommon'

/**
 * The Hessian of a scalar function (any output is accepted, as in JAX): `jacfwd(jacrev(f))`,
 * forward over reverse, both with the same `argnums` (default 0). For one tensor argument `x` of
 * shape S the result has shape [...S, ...S]; for a tree argument it is a tree of trees, block
 * `H[a][b]` of shape `[...a.shape, ...b.shape]`. Forms the whole matrix: for a product with a
 * vector use `hvp`.
 * @example
 * import { hessian, sum, mul, tensor, type Tensor } from '@backfold/ops'
 * const f = (x: Tensor) => sum(mul(mul(x, x), x)) // Σ x³
 * hessian(f)(tensor([1, 2])) // [[6, 0], [0, 12]]
 * @throws TraceError for int32 values or a Hessian of more than 2²⁴ entries (use `hvp`).
 * @since 0.2.0
 */
export function hessian<Args extends ReadonlyArray<unknown>, Out>(
  f: (...args: Args) => Out,
  opts?: JacobianOptions<Argnums> & { readonly argnums?: undefined },
): (...args: Args) => JacobianOf<JacobianOf<Out, Args[0]>, Args[0]>
export function hessian<Args extends ReadonlyArray<unknown>, Out, const N extends Argnums>(
  f: (...args: Args) => Out,
  opts: JacobianOptions<N> & { readonly argnums: N },
): (...args: Args) => JacobianOf<JacobianOf<Out, GradOf<Args, N>>, GradOf<Args, N>>
export function hessian(
  f: (...args: ReadonlyArray<unknown>) => unknown,
  opts: { readonly argnums?: Argnums | undefined } = {},
): (...args: ReadonlyArray<unknown>) => unknown {
  checkOptions('hessian', opts, JACOBIAN_OPTIONS)
  const argnums = opts.argnums ?? 0
  return jacfwdOf('hessian', jacrevOf('hessian', f, argnums), argnums)
}
