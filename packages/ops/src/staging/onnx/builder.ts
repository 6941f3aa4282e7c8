// The interface an op's ONNX lowering writes to (`Op.onnx`), and the error a lowering throws when
// ONNX cannot express it. Types only plus one small error class: op modules import this file, so
// it must stay free of the encoder and of the runtime.
//
// How to write a lowering (beside the op's forward, vjp, batch and abstract rules):
//
//   onnx: (b, [x, y], p, avals) => b.node('Add', [x, y])
//
// - `inputs` are the ONNX value names of the op's inputs, in the op's order; return the name of
//   the value that holds the op's output. It must have exactly `avals.output`'s shape and dtype
//   (the lowering inserts no check): cast comparison results (ONNX `bool`) back to the op's dtype
//   with `b.cast`, and reshape a reduction's result yourself when the op squeezes differently.
// - Shapes are static: every shape is known while lowering (`avals`), so write shape operands as
//   constants (`b.int64s(shape)`), never as `Shape` nodes.
// - Use opset 17 operators (the `ai.onnx` domain, `OnnxBuilder.opset`); reductions that take axes
//   as an input there (ReduceSum) take them as `b.int64s(axes)`, the others as an attribute.
// - When ONNX (or ONNX Runtime's CPU kernels) cannot express the op for these parameters or dtypes,
//   call `b.unsupported('why')`; an op that never lowers says `onnx: unsupportedOnnx('why')`. jit
//   then runs that graph on the wasm executor and `executorStatus()` reports the reason.
// - Built-in ops: registry.ts requires the rule of every op it lists (a missing one does not
//   compile); test it in packages/ops/test/ort/ with `runOnOrt` (test/ort/helpers.ts), against
//   values computed in the test from the formula, float64 included where ORT has kernels.
import type { DType, Shape } from '@backfold/tensor'
import type { Aval } from '../../core/op'

/**
 * An attribute value of an ONNX node: an integer is an `INT`, an array of integers `INTS`, a
 * string `STRING`, `{ float }` a `FLOAT` and `{ floats }` `FLOATS` (floats are spelt out because
 * `1` would otherwise be ambiguous).
 * @since 0.2.0
 */
export type OnnxAttribute =
  | number
  | string
  | ReadonlyArray<number>
  | { readonly float: number }
  | { readonly floats: ReadonlyArray<number> }

/** The attributes of one ONNX node, by name. @since 0.2.0 */
export type OnnxAttributes = Readonly<Record<string, OnnxAttribute>>

/** The element types a lowering can write constants and casts in. @since 0.2.0 */
export type OnnxDType = DType | 'int64' | 'bool'

/**
 * What an op's ONNX lowering (`Op.onnx`) writes to: nodes, constants and casts of one ONNX graph
 * under construction. Value names are strings; each method returns the name of what it added.
 * @example
 * import type { OnnxBuilder } from '@backfold/ops'
 * // softplus(x) = log(1 + exp(x)), as one ONNX operator
 * const lowerSoftplus = (b: OnnxBuilder, [x]: readonly [string]): string => b.node('Softplus', [x])
 * @since 0.2.0
 */
export interface OnnxBuilder {
  /** The `ai.onnx` opset the graph imports (lowerings may rely on every operator of it). */
  readonly opset: number
  /** Appends the node `opType(inputs; attributes)` with one output and returns its name. */
  node(opType: string, inputs: ReadonlyArray<string>, attributes?: OnnxAttributes): string
  /** Appends a node with `outputs` outputs (TopK, Split) and returns their names. */
  nodes(opType: string, inputs: ReadonlyArray<string>, outputs: number, attributes?: OnnxAttributes): string[]
  /**
   * A constant (an initializer): `values` in `dtype`, shaped `shape` (default: a scalar for a
   * number, a vector for an array).
   */
  constant(values: number | ReadonlyArray<number>, dtype: OnnxDType, shape?: Shape): string
  /** A scalar constant in `dtype`, to combine with a value of that dtype (`b.scalar(1, aval.dtype)`). */
  scalar(value: number, dtype: OnnxDType): string
  /** A 1-D int64 constant: the shape, axes, starts or pads operand of Reshape, Expand, Slice, Pad... */
  int64s(values: ReadonlyArray<number>): string
  /** `x` cast to `dtype` (no node when `from` is already `dtype`). */
  cast(x: string, from: OnnxDType, dtype: OnnxDType): string
  /** Gives up: the op cannot lower with these inputs or parameters, for the reason given. */
  unsupported(reason: string): never
}

/** The ONNX value names of an op's inputs, one per input, in the op's order. @since 0.2.0 */
export type OnnxInputs<In extends ReadonlyArray<unknown>> = { readonly [K in keyof In]: string }

/** The abstract values of an op's inputs and output, for a lowering. @since 0.2.0 */
export interface OnnxAvals<In extends ReadonlyArray<unknown>> {
  readonly inputs: { readonly [K in keyof In]: Aval }
  readonly output: Aval
}

/**
 * An op's ONNX lowering: adds the nodes computing the op's output from its inputs' value names and
 * returns the output's name (see `OnnxBuilder`).
 * @since 0.2.0
 */
export type OnnxLowering<In extends ReadonlyArray<unknown>, P> = (
  b: OnnxBuilder,
  inputs: OnnxInputs<In>,
  p: P,
  avals: OnnxAvals<In>,
) => string

/**
 * Thrown by `OnnxBuilder.unsupported` (and so by `unsupportedOnnx`): the lowering catches it and jit
 * runs the graph on the wasm executor, reporting `reason` (or throws a `TraceError` with it when
 * fallback is off). Control flow of the lowering, never seen by a user.
 * @internal
 */
export class OnnxUnsupported extends Error {
  constructor(readonly reason: string) {
    super(reason)
    this.name = 'OnnxUnsupported'
  }
}

/**
 * The lowering of an op ONNX cannot express: it always gives up with `reason`, which
 * `executorStatus()` reports when a graph holding the op falls back to the wasm executor.
 * @example
 * import { defineOp, unsupportedOnnx, sameAsInput, batchElementwise, type Tensor } from '@backfold/ops'
 * import * as T from '@backfold/tensor'
 * const myOp = defineOp<'myOp', [Tensor]>({
 *   name: 'myOp',
 *   forward: ([x]) => T.exp(x),
 *   vjp: (ct) => [ct],
 *   batch: batchElementwise,
 *   abstract: sameAsInput,
 *   onnx: unsupportedOnnx('no ONNX operator computes it'),
 * })
 * @since 0.2.0
 */
/* @__NO_SIDE_EFFECTS__ */
export function unsupportedOnnx(reason: string): OnnxLowering<ReadonlyArray<unknown>, unknown> {
  return (b) => b.unsupported(reason)
}
