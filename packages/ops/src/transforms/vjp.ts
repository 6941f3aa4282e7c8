import { flatten, fmtShape, isTensor, sameStructure, shapesEqual, type Tensor } from '@backfold/tensor'
import { backward } from '../core/fold'
import { openTrace, TraceError } from '../core/trace'
import { checkOptions, optionSchema } from '../core/options'
import { regroup, resolveArgnums, unwrapTree, wrapArgs, type Argnums } from './args'

/** Options of `vjp`. @since 0.1.0 */
export interface VjpOptions<N extends Argnums> {
  /** Arguments to differentiate (default: all). Others may be any value and are passed through. */
  readonly argnums?: N
}

/** The pullback of `vjp`: maps an output cotangent (same tree, shapes and dtypes as the output) to argument cotangents. @since 0.1.0 */
export type Pullback<Out, Cts> = (cotangent: Out) => Cts

const VJP_OPTIONS = optionSchema({
  argnums: {
    expected: 'an argument index or an array of them',
    check: (v: unknown) => typeof v === 'number' || Array.isArray(v),
  },
})

/**
 * Reverse mode in its general form: evaluates `f` and returns its output with the pullback
 * `ct ↦ ctᵀ J`, one cotangent tree per differentiated argument (a tuple, in argnums order).
 * @example
 * import { vjp, mul, sin } from '@backfold/ops'
 * import { tensor } from '@backfold/tensor'
 * const [y, pullback] = vjp((x: Tensor) => mul(sin(x), 2))(tensor([0, 1]))
 * const [dx] = pullback(tensor([1, 1])) // 2 cos x
 * @since 0.1.0
 */
export function vjp<Args extends ReadonlyArray<unknown>, Out>(
  f: (...args: Args) => Out,
  opts?: VjpOptions<Argnums>,
): (...args: Args) => readonly [Out, Pullback<Out, unknown[]>]
export function vjp<Args extends ReadonlyArray<unknown>, Out>(
  f: (...args: Args) => Out,
  opts: VjpOptions<Argnums> = {},
): (...args: Args) => readonly [Out, Pullback<Out, unknown[]>] {
  checkOptions('vjp', opts, VJP_OPTIONS)
  return (...args: Args) => {
    const argnums = resolveArgnums('vjp', opts.argnums ?? args.map((_, i) => i), args.length)
    const trace = openTrace()
    let out: Out
    let wrapped: ReturnType<typeof wrapArgs>
    try {
      wrapped = wrapArgs('vjp', trace, args, argnums)
      // The wrapped argument list has the caller's types with tensors replaced by tracers, which are tensors.
      out = f(...(wrapped.args as unknown as Args))
    } finally {
      trace.close()
    }
    const { leaves: outLeaves, def: outDef } = flatten(out)
    const inputs = wrapped.inputs.flatMap((a) => a.tracers)
    const pullback = (cotangent: Out): unknown[] => {
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
