import { flatten, unflatten, ValueError, type Tensor } from '@backfold/tensor'
import { backward } from '../core/fold'
import {
  BatchTrace,
  currentSubstitutions,
  GraphTrace,
  openTrace,
  substitute,
  topTrace,
  TraceError,
  Tracer,
  withSubstitutions,
} from '../core/trace'
import { closedOverValues, multiOutputNode, primalsOf } from './closure'

/**
 * Rematerialisation (JAX's `jax.checkpoint`): `remat(f)` computes what `f` computes, but under
 * `grad`/`vjp` it records **one** node for the whole call instead of one per op of `f`, so the tape
 * keeps only `f`'s inputs (its arguments and the traced values it closed over) and outputs, not its
 * intermediates. The backward pass runs `f` again under a fresh trace to rebuild them and folds that
 * back: memory traded for one more forward pass of `f`. Works on trees of tensors in and out; nests
 * (a `remat` body of `scan`, `remat` inside `remat`) and is differentiable again (second order).
 * Inside `vmap` or `jit` (as the innermost transformation) and outside any transformation it is just
 * `f`. `f` must be a pure function: it runs once more as a probe that finds the values it closed over.
 * @example
 * import * as T from '@backfold/tensor'
 * import type { Tensor } from '@backfold/tensor'
 * import { remat, grad, tanh, matmul, sum } from '@backfold/ops'
 * const [x0, w2] = [T.ones([2, 4]), T.ones([4, 4])]
 * const block = remat((x: Tensor, w1: Tensor) => tanh(matmul(tanh(matmul(x, w1)), w2)))
 * const g = grad((w1: Tensor) => sum(block(x0, w1)))(T.ones([4, 4])) // keeps the inputs and output, not the inner tanh
 * @throws ValueError when `f` is not a function.
 * @since 0.2.0
 */
export const remat = <Args extends ReadonlyArray<unknown>, Out>(
  f: (...args: Args) => Out,
): ((...args: Args) => Out) => {
  if (typeof f !== 'function') throw new ValueError('remat', 'expected a function to rematerialise')
  const rematerialised = (...args: Args): Out => {
    const { leaves, def } = flatten(args)
    const call = (xs: ReadonlyArray<Tensor>): Out => f(...unflatten<Args>(def, xs))
    const closed = closedOverValues(leaves, call)
    const trace = topTrace([...leaves, ...closed], 'remat')
    if (trace === undefined || trace instanceof BatchTrace || trace instanceof GraphTrace) return f(...args)
    const own = closed.filter((w) => w instanceof Tracer && w.trace === trace)
    const pLeaves = primalsOf(leaves, trace)
    const pOwn = primalsOf(own, trace)
    const context = currentSubstitutions()
    // The forward pass one level down, itself rematerialised there (for second order).
    const out = withSubstitutions(new Map(own.map((w, i) => [w, pOwn[i]!])), () =>
      rematerialised(...unflatten<Args>(def, pLeaves)),
    )
    const { leaves: outLeaves, def: outDef } = flatten(out)
    const primalOut = outLeaves.map(substitute)
    if (primalOut.some((o) => o instanceof Tracer && o.trace === trace))
      throw new TraceError(
        'remat',
        'the function used a value being differentiated that its probe run did not use',
      )
    // Closed-over values of other traces are inputs too (constants here, no cotangent), so that an
    // enclosing scan's or remat's probe, walking this node, still finds them.
    const others = closed.filter((w) => !own.includes(w))
    const traced = multiOutputNode('remat', trace, [...leaves, ...own, ...others], primalOut, (cts) => {
      const inner = openTrace()
      const wrap = (v: Tensor): Tracer => new Tracer(inner, v, undefined)
      const [xB, wB] = [pLeaves.map(wrap), pOwn.map(wrap)]
      let again: Tensor[]
      try {
        const substitutions = new Map([...context, ...own.map((w, i) => [w, wB[i]!] as const)])
        again = withSubstitutions(substitutions, () => flatten(call(xB)).leaves.map(substitute))
      } finally {
        inner.close()
      }
      return [...backward(inner, again, cts, [...xB, ...wB]), ...others.map(() => undefined)]
    })
    return unflatten<Out>(outDef, traced)
  }
  return rematerialised
}
