import { fmtShape, ones, type Tensor } from '@backfold/tensor'
import { backward } from '../core/fold'
import { openTrace, Tracer, TraceError } from '../core/trace'
import { checkOptions, option, optionSchema } from '../core/options'
import { regroup, resolveArgnums, unwrapTree, wrapArgs, type Argnums, type GradOf } from './args'

/** Options of `grad` and `valueAndGrad`. @since 0.1.0 */
export interface GradOptions<N extends Argnums> {
  /** Arguments to differentiate: an index (result is that argument's type) or a list (result is a tuple). Default 0. */
  readonly argnums?: N
}

/** `GradOptions` for a function returning `[loss, aux]`. @since 0.1.0 */
export interface GradAuxOptions<N extends Argnums> extends GradOptions<N> {
  readonly hasAux: true
}

const ARGNUMS = {
  expected: 'an argument index or an array of them',
  check: (v: unknown) => typeof v === 'number' || Array.isArray(v),
}
// One spelling across the transformations: `argnum` (the old jacobian's) is refused, naming `argnums`.
const GRAD_OPTIONS = optionSchema({ argnums: ARGNUMS, hasAux: option.boolean }, { argnum: 'argnums' })

const run = (
  transform: string,
  f: (...args: ReadonlyArray<unknown>) => unknown,
  args: ReadonlyArray<unknown>,
  argnums: Argnums,
  hasAux: boolean,
): [Tensor, unknown, unknown] => {
  const nums = resolveArgnums(transform, argnums, args.length)
  const trace = openTrace()
  try {
    const { args: wrapped, inputs } = wrapArgs(transform, trace, args, nums)
    const result = f(...wrapped)
    let loss: unknown = result
    let aux: unknown = undefined
    if (hasAux) {
      if (!Array.isArray(result) || result.length !== 2)
        throw new TraceError(transform, 'with hasAux: true the function must return [loss, aux]')
      ;[loss, aux] = result as [unknown, unknown]
    }
    const out = loss as Tensor
    if (typeof out !== 'object' || out === null || !('shape' in out))
      throw new TraceError(transform, 'the function must return a scalar tensor (the loss)')
    if (out.shape.length !== 0)
      throw new TraceError(
        transform,
        `the function returned shape ${fmtShape(out.shape)}; grad needs a scalar (shape []): reduce it with sum or mean, or use vjp`,
      )
    const flatGrads = backward(
      trace,
      [out],
      [ones([], out.dtype)],
      inputs.flatMap((a) => a.tracers),
    )
    const grads = regroup(inputs, flatGrads)
    const value = out instanceof Tracer && out.trace === trace ? out.primal : out
    return [value, typeof argnums === 'number' ? grads[0] : grads, unwrapTree(aux, trace)]
  } finally {
    trace.close()
  }
}

/**
 * Evaluates a scalar function and its gradient in one pass.
 * @example
 * import { valueAndGrad, sum, square, type Tensor } from '@backfold/ops'
 * import { tensor } from '@backfold/tensor'
 * const [value, dx] = valueAndGrad((x: Tensor) => sum(square(x)))(tensor([1, 2])) // 5, [2, 4]
 * @since 0.1.0
 */
export function valueAndGrad<Args extends ReadonlyArray<unknown>>(
  f: (...args: Args) => Tensor,
): (...args: Args) => [Tensor, Args[0]]
export function valueAndGrad<Args extends ReadonlyArray<unknown>, Aux>(
  f: (...args: Args) => readonly [Tensor, Aux],
  opts: { readonly hasAux: true; readonly argnums?: undefined },
): (...args: Args) => [Tensor, Args[0], Aux]
export function valueAndGrad<Args extends ReadonlyArray<unknown>, Aux, const N extends Argnums>(
  f: (...args: Args) => readonly [Tensor, Aux],
  opts: GradAuxOptions<N> & { readonly argnums: N },
): (...args: Args) => [Tensor, GradOf<Args, N>, Aux]
export function valueAndGrad<Args extends ReadonlyArray<unknown>, const N extends Argnums>(
  f: (...args: Args) => Tensor,
  opts: GradOptions<N> & { readonly argnums: N; readonly hasAux?: false },
): (...args: Args) => [Tensor, GradOf<Args, N>]
export function valueAndGrad(
  f: (...args: ReadonlyArray<unknown>) => unknown,
  opts: { readonly argnums?: Argnums | undefined; readonly hasAux?: boolean | undefined } = {},
): (...args: ReadonlyArray<unknown>) => unknown[] {
  checkOptions('valueAndGrad', opts, GRAD_OPTIONS)
  return (...args) => {
    const [value, grads, aux] = run('valueAndGrad', f, args, opts.argnums ?? 0, opts.hasAux === true)
    return opts.hasAux === true ? [value, grads, aux] : [value, grads]
  }
}

/**
 * The gradient of a scalar function with respect to argument 0 (or `argnums`). The gradient has
 * the argument's type: a params record gives a params record.
 * @example
 * import { grad, mul, type Tensor } from '@backfold/ops'
 * import { scalar } from '@backfold/tensor'
 * const f = (x: Tensor) => mul(mul(x, x), x) // x³
 * grad(f)(scalar(2))            // 12
 * grad(grad(f))(scalar(2))      // 12 (6x)
 * @since 0.1.0
 */
export function grad<Args extends ReadonlyArray<unknown>>(
  f: (...args: Args) => Tensor,
): (...args: Args) => Args[0]
export function grad<Args extends ReadonlyArray<unknown>, Aux>(
  f: (...args: Args) => readonly [Tensor, Aux],
  opts: { readonly hasAux: true; readonly argnums?: undefined },
): (...args: Args) => [Args[0], Aux]
export function grad<Args extends ReadonlyArray<unknown>, Aux, const N extends Argnums>(
  f: (...args: Args) => readonly [Tensor, Aux],
  opts: GradAuxOptions<N> & { readonly argnums: N },
): (...args: Args) => [GradOf<Args, N>, Aux]
export function grad<Args extends ReadonlyArray<unknown>, const N extends Argnums>(
  f: (...args: Args) => Tensor,
  opts: GradOptions<N> & { readonly argnums: N; readonly hasAux?: false },
): (...args: Args) => GradOf<Args, N>
export function grad(
  f: (...args: ReadonlyArray<unknown>) => unknown,
  opts: { readonly argnums?: Argnums | undefined; readonly hasAux?: boolean | undefined } = {},
): (...args: ReadonlyArray<unknown>) => unknown {
  checkOptions('grad', opts, GRAD_OPTIONS)
  return (...args) => {
    const [, grads, aux] = run('grad', f, args, opts.argnums ?? 0, opts.hasAux === true)
    return opts.hasAux === true ? [grads, aux] : grads
  }
}
