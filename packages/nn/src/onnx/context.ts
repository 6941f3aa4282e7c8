/**
 * What a layer kind's ONNX emitter sees: the layer's config, params and state, its input value, and
 * helpers that add nodes and initializers named after the layer's place in the model and that turn
 * every problem into an `OnnxError` naming that place. Built-in and user-defined kinds use the same
 * context (see `defineLayer`).
 * @since 0.2.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import type { LayerConfig } from '../layer'
import { onnxError, type OnnxError } from './error'
import type { GraphBuilder } from './graph'
import type { AttributeProto } from '@backfold/ops/onnx'

/** A per-example dimension: a size, a symbolic name (`'L'`), or `null` when unknown until run time. @since 0.2.0 */
export type OnnxDim = number | string | null

/**
 * A value flowing through the exported graph: its name, its per-example shape (the batch axis is
 * implicit) and its element type.
 * @since 0.2.0
 */
export interface OnnxValue {
  readonly name: string
  readonly shape: ReadonlyArray<OnnxDim>
  readonly elem: 'float' | 'int32'
}

/** An ONNX node attribute (build one with `onnxAttribute.int`, `.ints`, `.float`, `.string`). @since 0.2.0 */
export type OnnxAttribute = AttributeProto

/**
 * The helpers an ONNX emitter gets for one layer. Names follow the layer's place: nodes are
 * `/features/1/Gemm`, initializers `features.1.weight` (as in checkpoints).
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import type { OnnxEmitContext } from '@backfold/nn'
 * // x · sigmoid(x), the emitter of a silu-like layer
 * const emit = (ctx: OnnxEmitContext) =>
 *   E.map((x: { name: string }) => ({ ...ctx.input, name: ctx.node('Mul', [x.name, ctx.node('Sigmoid', [x.name])]) }))(ctx.float())
 * @since 0.2.0
 */
export interface OnnxEmitContext<C extends LayerConfig = LayerConfig> {
  /** The layer's config, as the model carries it (`layer.config`). */
  readonly config: C
  /** The layer's parameter tree (unchecked: read tensors with `param`). */
  readonly params: unknown
  /** The layer's state tree (unchecked: read tensors with `stateTensor`). */
  readonly state: unknown
  /** The layer's input. */
  readonly input: OnnxValue
  /** The target operator set. */
  readonly opset: number
  /** Where the layer sits, as `LayerError` paths read: `'features.1 (conv2d)'`. */
  readonly path: string
  /** Appends a node and returns the name of its (single) output. */
  readonly node: (
    opType: string,
    inputs: ReadonlyArray<string>,
    attributes?: ReadonlyArray<OnnxAttribute>,
  ) => string
  /** A float32 initializer named `<layer path>.<leaf>` (`'0.weight'`); returns its name. */
  readonly initializer: (leaf: string, x: Tensor) => string
  /** A float32 scalar initializer (broadcasts against any shape); returns its name. */
  readonly constant: (value: number) => string
  /**
   * The float tensor `params[key]`, checked against `expected` (`null` matches any size); a `Left`
   * names the parameter (`params '0.weight' has shape [2,5]; expected [2,4]`).
   */
  readonly param: (key: string, expected: ReadonlyArray<number | null>) => Either<OnnxError, Tensor>
  /** The float tensor `state[key]`, checked like `param`. */
  readonly stateTensor: (key: string, expected: ReadonlyArray<number | null>) => Either<OnnxError, Tensor>
  /**
   * `params[key]` when the config's boolean `flag` (`useBias`, `affine`) is not false, else
   * undefined; a parameter present against the flag is a `Left`.
   */
  readonly optionalParam: (
    flag: string,
    key: string,
    expected: ReadonlyArray<number | null>,
  ) => Either<OnnxError, Tensor | undefined>
  /** The config's numeric field `key` (`fallback` when absent); a non-number is a `Left`. */
  readonly number: (key: string, fallback: number) => Either<OnnxError, number>
  /** The input, when it holds floats (a `Left` for int32 indices). */
  readonly float: () => Either<OnnxError, OnnxValue>
  /** The float input, when its per-example rank is `rank` (`what` describes it: `'[features]'`). */
  readonly rank: (rank: number, what: string) => Either<OnnxError, OnnxValue>
  /** One node `opType` on the float input, keeping its shape (activations): `ctx.unary('Relu')`. */
  readonly unary: (opType: string, attributes?: ReadonlyArray<OnnxAttribute>) => Either<OnnxError, OnnxValue>
  /** Runs a shape check of `@backfold/tensor` (which throws a `BackfoldError`), as a `Left` naming the layer. */
  readonly geometry: <A>(compute: () => A) => Either<OnnxError, A>
  /** A `Left` naming the layer. */
  readonly fail: (message: string) => Either<OnnxError, never>
  /**
   * Emits a child layer (combinators): its params and state are `params[key]` and `state[key]` and
   * its names go one level down (`key` undefined: the child shares this layer's params, state and
   * names, as a residual's body does).
   */
  readonly child: (config: unknown, key: string | undefined, input: OnnxValue) => Either<OnnxError, OnnxValue>
}

/**
 * How a layer kind is exported to ONNX (inference mode).
 * @since 0.2.0
 */
export interface OnnxExport<C extends LayerConfig = LayerConfig> {
  /** Adds the layer's nodes for `ctx.input` and returns its output value. */
  emit(ctx: OnnxEmitContext<C>): Either<OnnxError, OnnxValue>
  /**
   * The element type this layer wants for the model's input when it comes first: `'int32'` for
   * index inputs (embedding); `'pass'` for layers that hand their input on unchanged in type
   * (dropout, flatten: the next layer decides). Combinators ask `first` of a child. Default `'float'`.
   */
  inputElem?(config: C, first: (child: unknown) => 'float' | 'int32' | 'pass'): 'float' | 'int32' | 'pass'
}

const fmtDims = (shape: ReadonlyArray<OnnxDim>): string =>
  `[${shape.map((d) => (d === null ? '?' : String(d))).join(',')}]`

/** Where a layer sits: its parameter path (`['features', '1']`) and kind. */
export interface Site {
  readonly keys: ReadonlyArray<string>
  readonly kind: string
}

/** `features.1 (conv2d)`, as `LayerError` paths read; the bare kind for the root. */
export const display = (site: Site): string =>
  site.keys.length === 0 ? site.kind : `${site.keys.join('.')} (${site.kind})`

const entry = (tree: unknown, key: string): unknown =>
  typeof tree === 'object' && tree !== null
    ? // Any object may be indexed; a missing entry reads as undefined and is reported by the caller.
      (tree as Readonly<Record<string, unknown>>)[key]
    : undefined

/** The parts `emitLayer` supplies to build one layer's context. */
export interface ContextParts {
  readonly graph: GraphBuilder
  readonly opset: number
  readonly config: LayerConfig
  readonly params: unknown
  readonly state: unknown
  readonly input: OnnxValue
  readonly keys: ReadonlyArray<string>
  readonly emitChild: (
    config: unknown,
    params: unknown,
    state: unknown,
    input: OnnxValue,
    keys: ReadonlyArray<string>,
  ) => Either<OnnxError, OnnxValue>
}

/** Builds the context of one layer. Internal to the exporter. */
export const makeContext = (parts: ContextParts): OnnxEmitContext => {
  const { graph: g, config, params, state, input: x, keys } = parts
  const site: Site = { keys, kind: config.kind }
  const here = display(site)
  const scope = `/${keys.map((k) => `${k}/`).join('')}`
  const paramName = (leaf: string): string => [...keys, leaf].join('.')
  const fail = (message: string): Either<OnnxError, never> => E.left(onnxError(here, message))
  const tensorField = (
    treeName: 'params' | 'state',
    tree: unknown,
    key: string,
    expected: ReadonlyArray<number | null>,
  ): Either<OnnxError, Tensor> => {
    const value = entry(tree, key)
    const name = `${treeName} '${paramName(key)}'`
    const want = fmtDims(expected)
    if (!T.isTensor(value)) return fail(`${name} is missing; expected a tensor of shape ${want}`)
    if (!T.isFloat(value.dtype)) return fail(`${name} is ${value.dtype}; expected float32 or float64`)
    const fits =
      value.shape.length === expected.length && expected.every((d, i) => d === null || d === value.shape[i])
    return fits ? E.right(value) : fail(`${name} has shape ${T.fmtShape(value.shape)}; expected ${want}`)
  }
  const float = (): Either<OnnxError, OnnxValue> =>
    x.elem === 'float'
      ? E.right(x)
      : fail(
          `receives int32 values ${fmtDims(x.shape)}; only embedding takes int32 indices (is inputDType right?)`,
        )
  return {
    config,
    params,
    state,
    input: x,
    opset: parts.opset,
    path: here,
    node: (opType, inputs, attributes = []) => g.node(scope, opType, inputs, attributes),
    initializer: (leaf, tensor) => g.initializer(paramName(leaf), tensor),
    constant: (value) => g.scalar(scope, value),
    param: (key, expected) => tensorField('params', params, key, expected),
    stateTensor: (key, expected) => tensorField('state', state, key, expected),
    // Built-in layers decide by their params, so a disagreement with the config is an
    // inconsistent model, not a choice.
    optionalParam: (flag, key, expected) => {
      if (config[flag] !== false) return tensorField('params', params, key, expected)
      return entry(params, key) === undefined
        ? E.right(undefined)
        : fail(
            `params '${paramName(key)}' is present but the config says ${flag}: false; ` +
              `the params do not belong to this model`,
          )
    },
    number: (key, fallback) => {
      const value = config[key]
      if (value === undefined) return E.right(fallback)
      return typeof value === 'number' && Number.isFinite(value)
        ? E.right(value)
        : fail(`config.${key} must be a finite number, got ${JSON.stringify(value)}`)
    },
    float,
    rank: (rank, what) =>
      E.chain((v: OnnxValue) =>
        v.shape.length === rank
          ? E.right(v)
          : fail(`expected a per-example input ${what} (rank ${rank}), got ${fmtDims(v.shape)}`),
      )(float()),
    unary: (opType, attributes = []) =>
      E.map((v: OnnxValue) => ({ ...v, name: g.node(scope, opType, [v.name], attributes) }))(float()),
    geometry: <A>(compute: () => A): Either<OnnxError, A> => {
      try {
        return E.right(compute())
      } catch (e) {
        if (e instanceof T.BackfoldError) {
          const prefix = `${e.op}: `
          return fail(e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message)
        }
        throw e
      }
    },
    fail,
    child: (childConfig, key, input) =>
      key === undefined
        ? parts.emitChild(childConfig, params, state, input, keys)
        : parts.emitChild(childConfig, entry(params, key), entry(state, key), input, [...keys, key]),
  }
}

/** `[1,?,'L']`: a per-example shape for messages. */
export const formatDims = fmtDims
