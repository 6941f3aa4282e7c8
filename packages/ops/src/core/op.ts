import type { Tensor } from '@backfold/tensor'
import { Tracer, topTrace, type Node } from './trace'

/**
 * A differentiable operation: a pure forward function paired with its vector-Jacobian product.
 *
 * - `forward(xs, p)` receives concrete tensors and computes with the kernels of `@backfold/tensor`.
 * - `vjp(ct, xs, y, p, needed)` receives the output cotangent `ct` (shaped like `y`), the inputs `xs`
 *   and the output `y`, and returns one cotangent per input, shaped like that input. It is written
 *   with differentiable ops, never kernels, so the backward pass can itself be differentiated
 *   (`grad(grad(f))`): under an enclosing transformation its arguments are traced values, which
 *   kernels refuse with a `TraceError`.
 *   `needed[i]` is false when input `i` is a constant of the transformation (data, labels, a frozen
 *   weight): its cotangent is discarded, so a VJP may skip computing it and return `undefined` in
 *   that place (a dense layer's input gradient for the data is a whole matmul). Ignoring `needed`
 *   is always correct.
 * - Fixed, non-differentiable parameters (axes, shapes, strides) travel in `p`, never as tensors.
 *
 * @since 0.1.0
 */
export interface Op<P = void> {
  readonly name: string
  readonly forward: (xs: ReadonlyArray<Tensor>, p: P) => Tensor
  readonly vjp: (
    ct: Tensor,
    xs: ReadonlyArray<Tensor>,
    y: Tensor,
    p: P,
    needed: ReadonlyArray<boolean>,
  ) => ReadonlyArray<Tensor | undefined>
}

/**
 * Defines an op. Built-in ops and user ops are made the same way; test a new op with `checkVjp`.
 *
 * The rule: **forward uses kernels, the VJP uses ops.** `forward` receives concrete tensors and
 * computes with the kernels of `@backfold/tensor`. `vjp` receives values that may be traced (when
 * the gradient is itself differentiated: `grad(grad(f))`, `hvp`, `jvp`), so it computes with the
 * ops of `@backfold/ops`. A kernel in a VJP gives a right first derivative, then throws a
 * `TraceError` naming the kernel as soon as the VJP is differentiated; `checkVjp` differentiates
 * it by default (its second-order check) so the mistake shows up in the op's test, not later.
 * @example
 * import { defineOp, applyOp, mul, cos, checkVjp } from '@backfold/ops'
 * import * as T from '@backfold/tensor'
 * // y = sin x ; x̄ = ȳ cos x
 * const sinOp = defineOp({
 *   name: 'mySin',
 *   forward: ([x]) => T.sin(x!),
 *   vjp: (ct, [x]) => [mul(ct, cos(x!))],
 * })
 * const mySin = (x: T.Tensor) => applyOp(sinOp, [x], undefined)
 * checkVjp(mySin, [T.tensor([0.1, 0.2])]).ok // true
 * @since 0.1.0
 */
export const defineOp = <P = void>(spec: Op<P>): Op<P> => Object.freeze({ ...spec })

/**
 * Applies `op` to `xs`. Outside any transformation this is just `op.forward(xs, p)` (no tracing cost).
 * Inside `vjp`/`grad`, the innermost transformation that sees one of `xs` records a node
 * (op, inputs, params) on the result; lower transformations record theirs recursively through
 * the primal computation, which is what keeps nested transformations apart.
 * @since 0.1.0
 */
export const applyOp = <P>(op: Op<P>, xs: ReadonlyArray<Tensor>, p: P): Tensor => {
  const trace = topTrace(xs, op.name)
  if (trace === undefined) return op.forward(xs, p)
  const primals = xs.map((x) => (x instanceof Tracer && x.trace === trace ? x.primal : x))
  const y = applyOp(op, primals, p)
  // The node keeps the traced inputs so the fold can walk back.
  const node: Node = { op, inputs: xs, params: p }
  return new Tracer(trace, y, node)
}
