import { flatten, type Tensor } from '@backfold/tensor'
import { add } from '../binary/add'
import { mul } from '../binary/mul'
import { sum } from '../reduce/sum'
import { grad } from './grad'
import { TraceError } from '../core/trace'

/**
 * Hessian-vector product `H v` of a scalar function of several arguments, by reverse-over-reverse:
 * the gradient of `⟨∇f(x), v⟩`. Costs about two gradient evaluations, never forms `H`.
 * @example
 * import { hvp, sum, mul } from '@backfold/ops'
 * import { tensor } from '@backfold/tensor'
 * const f = (x: Tensor) => sum(mul(mul(x, x), x)) // Σ x³, H = diag(6x)
 * hvp(f)([tensor([1, 2])], [tensor([1, 1])]) // [[6, 12]]
 * @since 0.1.0
 */
export const hvp =
  <Args extends ReadonlyArray<unknown>>(f: (...args: Args) => Tensor) =>
  (
    primals: Args,
    vectors: { readonly [K in keyof Args]: Args[K] },
  ): { -readonly [K in keyof Args]: Args[K] } => {
    const all = primals.map((_, i) => i)
    const gradient = grad(f, { argnums: all })
    const directional = (...args: Args): Tensor => {
      const g = flatten(gradient(...args)).leaves
      const v = flatten(vectors).leaves
      if (g.length === 0 || g.length !== v.length)
        throw new TraceError('hvp', `the vectors hold ${v.length} tensors but the arguments hold ${g.length}`)
      let total = sum(mul(g[0]!, v[0]!))
      for (let i = 1; i < g.length; i++) total = add(total, sum(mul(g[i]!, v[i]!)))
      return total
    }
    // grad with a list of argnums returns one tree per argument, typed like the arguments.
    return grad(directional, { argnums: all })(...primals) as { -readonly [K in keyof Args]: Args[K] }
  }
