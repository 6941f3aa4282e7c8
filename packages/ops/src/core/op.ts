import { fmtShape, isAbstract, type DType, type Shape, type Tensor } from '@backfold/tensor'
import {
  BatchTrace,
  BatchTracer,
  GraphTrace,
  GraphVar,
  TraceError,
  Tracer,
  substitute,
  substituting,
  topTrace,
  type Node,
} from './trace'
import type { OnnxLowering } from '../staging/onnx/builder'

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
export interface Op<Name extends string, In extends ReadonlyArray<Tensor>, P> {
  readonly name: Name
  /** Computes the output from concrete inputs with the kernels of `@backfold/tensor`. */
  readonly forward: (xs: In, p: P) => Tensor
  /** The cotangents of the inputs from the output's cotangent `ct`, computed with ops (so it is differentiable). */
  readonly vjp: (ct: Tensor, xs: In, y: Tensor, p: P, needed: Needed<In>) => Cotangents<In>
  /**
   * The batching rule, for `vmap`: `xs` are whole batches (values one level down), `axes[i]` says
   * where input `i` holds its examples (`undefined`: not mapped, the same for every example). It
   * returns the batched output and the axis of its examples (`undefined` when the output is the same
   * for every example). It computes with ops (`self` applies this op), so it composes with every
   * other transformation.
   */
  readonly batch: (xs: In, axes: BatchAxes<In>, p: P, self: (xs: In, p: P) => Tensor) => Batched
  /**
   * The shape and dtype rule, for abstract evaluation (`makeGraph`, `jit`): the output's shape and
   * dtype from the inputs' (which may be abstract: read only `.shape` and `.dtype`). It throws the
   * errors `forward` would, so a mis-shaped program fails while it is staged, naming the op.
   */
  readonly abstract: (xs: In, p: P) => Aval
  /** How `show` prints this op's parameters (default: their JSON), for parameters JSON reads badly. */
  readonly formatParams?: (p: P) => string
  /**
   * The ONNX lowering, for `jit(f, { executor: 'onnxruntime' })`: adds the ONNX nodes computing the
   * output from the inputs' value names and returns the output's name (see `OnnxBuilder`).
   * Every built-in op has one (the registry checks it at compile time); `unsupportedOnnx('why')`
   * marks an op ONNX cannot express. A user op without one runs its graph on the wasm executor.
   */
  readonly onnx?: OnnxLowering<In, P>
}

/**
 * An op whose record has an ONNX lowering (`defineOp` returns this type when the spec has `onnx`),
 * which is what the registry requires of every built-in op.
 * @since 0.2.0
 */
export type LoweredOp<Name extends string, In extends ReadonlyArray<Tensor>, P> = Op<Name, In, P> & {
  readonly onnx: OnnxLowering<In, P>
}

/** An abstract value: a shape and a dtype, no data. What staging computes with. @since 0.2.0 */
export interface Aval {
  readonly shape: Shape
  readonly dtype: DType
}

/** One cotangent per input, `undefined` where the input is not differentiated. @since 0.2.0 */
export type Cotangents<In extends ReadonlyArray<Tensor>> = { readonly [K in keyof In]: Tensor | undefined }

/** Whether each input is differentiated (false: a constant whose cotangent may be skipped). @since 0.2.0 */
export type Needed<In extends ReadonlyArray<Tensor>> = { readonly [K in keyof In]: boolean }

/** The axis along which each input holds its examples under `vmap`, `undefined` for an unmapped input. @since 0.2.0 */
export type BatchAxes<In extends ReadonlyArray<Tensor>> = { readonly [K in keyof In]: number | undefined }

/** A batching rule's result: the batched output and the axis of its examples (`undefined`: unmapped). @since 0.2.0 */
export type Batched = readonly [Tensor, number | undefined]

/**
 * Any op, its input and parameter types erased (every `Op<Name, In, P>` is assignable to it): what
 * the registry and the recorded nodes hold.
 * @since 0.2.0
 */
export interface AnyOp {
  readonly name: string
  /** `Op.forward`, with its input types erased. */
  readonly forward: (xs: never, p: never) => Tensor
  /** `Op.vjp`, with its input types erased. */
  readonly vjp: (
    ct: Tensor,
    xs: never,
    y: Tensor,
    p: never,
    needed: never,
  ) => ReadonlyArray<Tensor | undefined>
  /** `Op.batch`, with its input types erased. */
  readonly batch: (xs: never, axes: never, p: never, self: never) => Batched
  /** `Op.abstract`, with its input types erased. */
  readonly abstract: (xs: never, p: never) => Aval
  /** `Op.formatParams`, with its input types erased. */
  readonly formatParams?: (p: never) => string
  /** `Op.onnx`, with its input types erased. */
  readonly onnx?: (b: never, inputs: never, p: never, avals: never) => string
}

/**
 * Maps a tuple element by element, keeping its length in the type (TypeScript types
 * `Array.prototype.map` on a tuple as a plain array, though it preserves the length).
 * @internal
 */
export const mapTuple = <In extends ReadonlyArray<unknown>, R>(
  xs: In,
  f: (x: In[number], index: number) => R,
): { readonly [K in keyof In]: R } => xs.map(f) as unknown as { readonly [K in keyof In]: R }

/** `mapTuple` for tensors to tensors: the result has the input tuple's type. @internal */
export const mapTensors = <In extends ReadonlyArray<Tensor>>(
  xs: In,
  f: (x: Tensor, index: number) => Tensor,
): In => xs.map(f) as unknown as In

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
 * import { defineOp, applyOp, batchElementwise, sameAsInput, mul, cos, checkVjp, type Tensor } from '@backfold/ops'
 * import * as T from '@backfold/tensor'
 * // y = sin x ; x̄ = ȳ cos x
 * const sinOp = defineOp<'mySin', [Tensor]>({
 *   name: 'mySin',
 *   forward: ([x]) => T.sin(x),
 *   vjp: (ct, [x]) => [mul(ct, cos(x))],
 *   batch: batchElementwise, // elementwise: the op applied to the whole batch
 *   abstract: sameAsInput, // the output is shaped and typed like the input
 * })
 * const mySin = (x: T.Tensor) => applyOp(sinOp, [x], undefined)
 * checkVjp(mySin, [T.tensor([0.1, 0.2])]).ok // true
 * @since 0.1.0
 */
// Marked free of side effects so that a bundler drops every top-level `defineOp(...)` whose op the
// program never uses. A function declaration, not an arrow: esbuild honours the annotation on
// declarations and on `const`, but the bundled dist turns a top-level `const` into `var`.
// Two signatures: a spec with `onnx` gives a `LoweredOp` (which the registry demands of built-in
// ops), one without a plain `Op`. The annotation sits on the implementation, which is what remains
// once the overload signatures are erased.
export function defineOp<const Name extends string, In extends ReadonlyArray<Tensor>, P = void>(
  spec: LoweredOp<Name, In, P>,
): LoweredOp<Name, In, P>
export function defineOp<const Name extends string, In extends ReadonlyArray<Tensor>, P = void>(
  spec: Op<Name, In, P>,
): Op<Name, In, P>
/* @__NO_SIDE_EFFECTS__ */
export function defineOp<const Name extends string, In extends ReadonlyArray<Tensor>, P = void>(
  spec: Op<Name, In, P>,
): Op<Name, In, P> {
  return Object.freeze({ ...spec })
}

/**
 * Applies `op` to `xs`. Outside any transformation this is just `op.forward(xs, p)` (no tracing cost).
 * Inside `vjp`/`grad`, the innermost transformation that sees one of `xs` records a node
 * (op, inputs, params) on the result; lower transformations record theirs recursively through
 * the primal computation, which is what keeps nested transformations apart. Inside `vmap`, the
 * innermost one runs the op's batching rule on the whole batches instead.
 * @since 0.1.0
 */
export const applyOp = <Name extends string, In extends ReadonlyArray<Tensor>, P>(
  op: Op<Name, In, P>,
  // The op alone decides the types: `[x]` is then checked as the op's input tuple, not widened.
  xs: NoInfer<In>,
  p: NoInfer<P>,
): Tensor => {
  // Inside scan/remat, values a body closed over are replaced by their stand-ins (see withSubstitutions).
  if (substituting()) xs = mapTensors(xs, substitute)
  const trace = topTrace(xs, op.name)
  if (trace === undefined) return op.forward(xs, p)
  if (trace instanceof BatchTrace) return applyBatched(op, trace, xs, p)
  if (trace instanceof GraphTrace) return applyStaged(op, trace, xs, p)
  const primals = mapTensors(xs, (x) => (x instanceof Tracer && x.trace === trace ? x.primal : x))
  const y = applyOp(op, primals, p)
  // The node keeps the traced inputs so the fold can walk back, and the VJP bound to the primals.
  const node: Node = {
    op,
    inputs: xs,
    params: p,
    vjp: (ct, out, needed) => op.vjp(ct, primals, out, p, mapTuple(xs, needed)),
  }
  return new Tracer(trace, y, node)
}

/** Appends `op` to the graph of `trace`: its output is a new variable, shaped by the op's rule. */
const applyStaged = <Name extends string, In extends ReadonlyArray<Tensor>, P>(
  op: Op<Name, In, P>,
  trace: GraphTrace,
  xs: In,
  p: P,
): Tensor => {
  const inputs = xs.map((x) => {
    if (x instanceof GraphVar && x.trace === trace) return x.variable
    if (isAbstract(x))
      throw new TraceError(
        op.name,
        'a staged function (makeGraph, jit) used a value traced by a transformation outside it, ' +
          'from a closure; pass that value to the staged function as an argument instead',
      )
    return trace.constant(x)
  })
  const output = trace.newVar(op.abstract(xs, p))
  trace.equations.push({ op, inputs, params: p, output })
  return new GraphVar(trace, output)
}

/** Runs `op`'s batching rule on the batches of `trace` among `xs`. */
const applyBatched = <Name extends string, In extends ReadonlyArray<Tensor>, P>(
  op: Op<Name, In, P>,
  trace: BatchTrace,
  xs: In,
  p: P,
): Tensor => {
  const ours = (x: Tensor): x is BatchTracer => x instanceof BatchTracer && x.trace === trace
  const values = mapTensors(xs, (x) => (ours(x) ? x.value : x))
  const axes = mapTuple(xs, (x) => (ours(x) ? x.axis : undefined))
  const [out, axis] = op.batch(values, axes, p, (ys, q) => applyOp(op, ys, q))
  if (axis === undefined) return out
  if (!Number.isInteger(axis) || axis < 0 || axis >= out.shape.length || out.shape[axis] !== trace.axisSize)
    throw new TraceError(
      op.name,
      `batching rule returned examples along axis ${axis} of a ${fmtShape(out.shape)} batch, ` +
        `which does not hold the ${trace.axisSize} mapped examples (a bug in the rule)`,
    )
  return new BatchTracer(trace, out, axis)
}
