import type { Tensor } from '@backfold/tensor'
import { mapTensors } from '../core/op'
import {
  BatchTrace,
  BatchTracer,
  GraphTrace,
  TraceError,
  Tracer,
  topTrace,
  primalOf,
  substitute,
  substituting,
} from '../core/trace'
import { checkOptions, option, optionSchema } from '../core/options'

const RULE = optionSchema({
  forward: option.required(option.function),
  backward: option.required(option.function),
})

/** The rule given to `customVjp`. @since 0.1.0 */
export interface CustomVjpRule<Args extends ReadonlyArray<Tensor>, Residuals> {
  /** Computes the output and whatever the backward rule needs (the residuals). */
  readonly forward: (...args: Args) => readonly [Tensor, Residuals]
  /** Maps the output cotangent to one cotangent per argument, written with differentiable ops. */
  readonly backward: (residuals: Residuals, cotangent: Tensor) => { readonly [K in keyof Args]: Tensor }
}

/**
 * Gives a whole function a derivative of your choosing: a numerically stable formula, or a
 * memory-saving one that keeps only what backward needs. Outside any transformation the plain `f`
 * runs. Inside, the innermost transformation uses `backward`; because `backward` is written with
 * ops, differentiating through it (second order) works too.
 * @example
 * import { customVjp, log1p, exp, mul, sigmoid, type Tensor } from '@backfold/ops'
 * // softplus with the stable derivative σ(x)
 * const softplus = customVjp((x: Tensor) => log1p(exp(x)), {
 *   forward: (x) => [log1p(exp(x)), x],
 *   backward: (x, ct) => [mul(ct, sigmoid(x))],
 * })
 * @since 0.1.0
 */
export const customVjp = <Args extends ReadonlyArray<Tensor>, Residuals>(
  f: (...args: Args) => Tensor,
  rule: CustomVjpRule<Args, Residuals>,
): ((...args: Args) => Tensor) => {
  checkOptions('customVjp', rule, RULE, 'rule')
  return (...given: Args): Tensor => {
    // Inside scan/remat, closed-over values passed here are replaced like an op's inputs.
    const args = substituting() ? mapTensors(given, substitute) : given
    const trace = topTrace(args, 'customVjp')
    if (trace === undefined) return f(...args)
    if (trace instanceof GraphTrace)
      throw new TraceError(
        'customVjp',
        'a customVjp function cannot be staged by jit or makeGraph yet (the graph would drop its rule); ' +
          'call it outside the jitted function, or jit the parts around it',
      )
    if (trace instanceof BatchTrace) {
      // Mapped with nothing differentiated below: the rule has nothing to do, f's ops batch themselves.
      if (!args.some(isDifferentiated)) return f(...args)
      throw new TraceError(
        'customVjp',
        'a customVjp function is mapped by vmap inside a differentiation (grad of vmap), which would ' +
          'lose its rule; put vmap outside: vmap(grad(f)) runs the rule on each example',
      )
    }
    // Enclosing (lower) transformations see the forward computation as ordinary ops.
    const primals = mapTensors(args, (a) => primalOf(a, trace))
    const [y, residuals] = rule.forward(...primals)
    return new Tracer(trace, y, {
      op: { name: 'customVjp' },
      inputs: args,
      params: undefined,
      vjp: (cotangent) => rule.backward(residuals, cotangent),
    })
  }
}

/** Whether some transformation below the innermost `vmap` differentiates `x`. */
const isDifferentiated = (x: Tensor): boolean => {
  let v: Tensor = x
  for (;;) {
    if (v instanceof Tracer) return true
    if (!(v instanceof BatchTracer)) return false
    v = v.value
  }
}
