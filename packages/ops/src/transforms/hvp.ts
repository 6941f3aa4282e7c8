import { flatten, fmtShape, shapesEqual, type Tensor } from '@backfold/tensor'
import { add } from '../binary/add'
import { mul } from '../binary/mul'
import { sum } from '../reduce/sum'
import { grad } from './grad'
import { TraceError } from '../core/trace'
import { checkOptions, optionSchema } from '../core/options'
import { resolveArgnums, type Argnums, type ArgTrees, type GradOf } from './args'
import type { Tangents } from './jvp'

/** Options of `hvp`. @since 0.2.0 */
export interface HvpOptions<N extends Argnums> {
  /**
   * Arguments to differentiate (default: all, vectors and result one tree per argument). An index
   * makes the vector and the result that argument's type; a list, a tuple of them (as in `grad`).
   */
  readonly argnums?: N
}

const HVP_OPTIONS = optionSchema(
  {
    argnums: {
      expected: 'an argument index or an array of them',
      check: (v: unknown) => typeof v === 'number' || Array.isArray(v),
    },
  },
  { argnum: 'argnums' },
)

/**
 * Hessian-vector product `H v` of a scalar function, by reverse-over-reverse: the gradient of
 * `⟨∇f(x), v⟩`. Costs about two gradient evaluations, never forms `H` (for the whole matrix of a
 * small problem use `hessian`).
 * @example
 * import { hvp, sum, mul, type Tensor } from '@backfold/ops'
 * import { tensor } from '@backfold/tensor'
 * const f = (x: Tensor) => sum(mul(mul(x, x), x)) // Σ x³, H = diag(6x)
 * hvp(f)([tensor([1, 2])], [tensor([1, 1])]) // [[6, 12]]
 * hvp((w: Tensor, x: Tensor) => sum(mul(mul(w, w), x)), { argnums: 0 })([tensor([1]), tensor([3])], tensor([1])) // [6]
 * @throws TraceError when the vectors do not have the differentiated arguments' leaves and shapes.
 * @since 0.1.0
 */
export function hvp<Args extends ReadonlyArray<unknown>>(
  f: (...args: Args) => Tensor,
  opts?: HvpOptions<Argnums> & { readonly argnums?: undefined },
): (primals: Args, vectors: Tangents<Args>) => ArgTrees<Args>
export function hvp<Args extends ReadonlyArray<unknown>, const N extends Argnums>(
  f: (...args: Args) => Tensor,
  opts: HvpOptions<N> & { readonly argnums: N },
): (primals: Args, vectors: GradOf<Args, N>) => GradOf<Args, N>
export function hvp(
  f: (...args: ReadonlyArray<unknown>) => Tensor,
  opts: { readonly argnums?: Argnums | undefined } = {},
): (primals: ReadonlyArray<unknown>, vectors: never) => unknown {
  checkOptions('hvp', opts, HVP_OPTIONS)
  return (primals: ReadonlyArray<unknown>, vectors: unknown): unknown => {
    const nums = resolveArgnums('hvp', opts.argnums ?? primals.map((_, i) => i), primals.length)
    const gradient = grad(f, { argnums: nums })
    const v = flatten(vectors).leaves
    const directional = (...args: ReadonlyArray<unknown>): Tensor => {
      const g = flatten(gradient(...args)).leaves
      if (g.length === 0 || g.length !== v.length)
        throw new TraceError('hvp', `the vectors hold ${v.length} tensors but the arguments hold ${g.length}`)
      // A vector of another shape would broadcast in mul and give a silently wrong product.
      g.forEach((gi, i) => {
        if (!shapesEqual(gi.shape, v[i]!.shape))
          throw new TraceError(
            'hvp',
            `vector leaf ${i} has shape ${fmtShape(v[i]!.shape)} but its argument has shape ${fmtShape(gi.shape)}; they must match`,
          )
      })
      return g.map((gi, i) => sum(mul(gi, v[i]!))).reduce((total, term) => add(total, term))
    }
    const result = grad(directional, { argnums: nums })(...primals)
    return typeof opts.argnums === 'number' ? result[0] : result
  }
}
