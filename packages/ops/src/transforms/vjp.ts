import { flatten, fmtShape, isTensor, sameStructure, shapesEqual, type Tensor } from '@backfold/tensor'
import { backward } from '../core/fold'
import { openTrace, TraceError } from '../core/trace'
import { checkOptions, optionSchema } from '../core/options'
import {
  regroup,
  resolveArgnums,
  unwrapTree,
  wrapArgs,
  type Argnums,
  type ArgTrees,
  type CotangentsOf,
} from './args'

/** Options of `vjp`. @since 0.1.0 */
export interface VjpOptions<N extends Argnums> {
  /** Arguments to differentiate (default: all). Others may be any value and are passed through. */
  readonly argnums?: N
}

/** The pullback of `vjp`: maps an output cotangent (same tree, shapes and dtypes as the output) to argument cotangents. @since 0.1.0 */
export type Pullback<Out, Cts> = (cotangent: Out) => Cts

const VJP_OPTIONS = optionSchema(
  {
    argnums: {
      expected: 'an argument index or an array of them',
      check: (v: unknown) => typeof v === 'number' || Array.isArray(v),
    },
  },
  { argnum: 'argnums' },
)

/**
 * Reverse mode in its general form: evaluates `f` and returns its output with the pullback
 * `ct ↦ ctᵀ J`, one cotangent tree per differentiated argument (a tuple, in argnums order), each
 * typed like its argument.
 * @example
 * import { vjp, mul, sin, type Tensor } from '@backfold/ops'
 * import { tensor } from '@backfold/tensor'
 * const [y, pullback] = vjp((x: Tensor) => mul(sin(x), 2))(tensor([0, 1]))
 * const [dx] = pullback(tensor([1, 1])) // 2 cos x
 * const [, pb] = vjp((w: Tensor, x: Tensor) => mul(w, x), { argnums: 1 })(tensor([2]), tensor([3]))
 * const [dxOnly] = pb(tensor([1])) // [2]
 * @since 0.1.0
 */
export function vjp<Args extends ReadonlyArray<unknown>, Out>(
  f: (...args: Args) => Out,
  opts?: VjpOptions<Argnums> & { readonly argnums?: undefined },
): (...args: Args) => readonly [Out, Pullback<Out, ArgTrees<Args>>]
export function vjp<Args extends ReadonlyArray<unknown>, Out, const N extends Argnums>(
  f: (...args: Args) => Out,
  opts: VjpOptions<N> & { readonly argnums: N },
): (...args: Args) => readonly [Out, Pullback<Out, CotangentsOf<Args, N>>]
export function vjp(
  f: (...args: ReadonlyArray<unknown>) => unknown,
  opts: { readonly argnums?: Argnums | undefined } = {},
): (...args: ReadonlyArray<unknown>) => readonly [unknown, Pullback<unknown, unknown[]>] {
  checkOptions('vjp', opts, VJP_OPTIONS)
  return (...args) => {
    const argnums = resolveArgnums('vjp', opts.argnums ?? args.map((_, i) => i), args.length)
    const trace = openTrace()
    let out: unknown
    let wrapped: ReturnType<typeof wrapArgs>
    try {
      wrapped = wrapArgs('vjp', trace, args, argnums)
      out = f(...wrapped.args)
    } finally {
      trace.close()
    }
    const { leaves: outLeaves, def: outDef } = flatten(out)
    const inputs = wrapped.inputs.flatMap((a) => a.tracers)
    const pullback = (cotangent: unknown): unknown[] => {
      const { leaves: cts, def } = flatten(cotangent)
      if (!sameStructure(def, outDef))
        throw new TraceError(
          'vjp',
          'the cotangent passed to the pullback does not have the structure of the output',
        )
      cts.forEach((ct, i) => checkCotangent(ct, outLeaves[i]!, i))
      return regroup(wrapped.inputs, backward(trace, outLeaves, cts, inputs))
    }
    return [unwrapTree(out, trace), pullback] as const
  }
}

const checkCotangent = (ct: Tensor, out: Tensor, index: number): void => {
  if (!isTensor(ct)) throw new TraceError('vjp', `cotangent leaf ${index} is not a tensor`)
  if (!shapesEqual(ct.shape, out.shape))
    throw new TraceError(
      'vjp',
      `cotangent ${index} has shape ${fmtShape(ct.shape)} but the output has shape ${fmtShape(out.shape)}; they must match`,
    )
  if (ct.dtype !== out.dtype)
    throw new TraceError(
      'vjp',
      `cotangent ${index} has dtype ${ct.dtype} but the output has dtype ${out.dtype}; they must match`,
    )
}
