import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Key, Shape, Tensor } from '@backfold/tensor'
import type {
  ApplyContext,
  Initialized,
  JsonValue,
  Layer,
  LayerConfig,
  LayerError,
  NoParams,
  NoState,
  ParamsOf,
  StateOf,
} from '../layer'
import { layerError } from '../layer'
import type { Fans, Initializer } from '../init/initializer'
import { computeFans } from '../init/initializer'

/**
 * Any layer, whatever its parameter and state types. `Layer<P, S>` is invariant in both (they are
 * taken and returned), so no single `Layer<X, Y>` is a supertype of every layer; this structural
 * type is, and it lets combinators infer each child's exact types.
 * @since 0.1.0
 */
export interface AnyLayer {
  /** The layer's kind, as in `Layer`. */
  readonly kind: string
  /** As `Layer.init`. */
  readonly init: (key: Key, inShape: Shape) => Either<LayerError, Initialized<unknown, unknown>>
  /** As `Layer.apply`, with parameters and state of any type. */
  readonly apply: (params: never, state: never, x: Tensor, ctx: ApplyContext) => readonly [Tensor, unknown]
  /** As `Layer.config`. */
  readonly config?: LayerConfig | undefined
  readonly missingConfig?: string | undefined
}

/**
 * The parameter tree type of a layer (inferred from both type arguments, which is what makes it
 * work for every layer despite `Layer`'s invariance).
 * @since 0.1.0
 */
export type LayerParams<L> = ParamsOf<L>

/** The state tree type of a layer. @since 0.1.0 */
export type LayerState<L> = StateOf<L>

/** True for values that look like layers (used to tell `sequential(a, b)` from `sequential({ a, b })`). */
export const isLayer = (value: unknown): value is AnyLayer =>
  typeof value === 'object' &&
  value !== null &&
  'kind' in value &&
  typeof value.kind === 'string' &&
  'init' in value &&
  typeof value.init === 'function' &&
  'apply' in value &&
  typeof value.apply === 'function'

/**
 * A child layer seen from a combinator: the combinator pairs each child with exactly the params and
 * state that child's own `init` produced, so treating them as `unknown` loses nothing.
 */
export type ChildLayer = Layer<unknown, unknown>

/** Widens a child for internal use; see `ChildLayer`. */
export const asChild = (layer: AnyLayer): ChildLayer =>
  // Safe: the child only ever receives the params/state its own init returned.
  layer as unknown as ChildLayer

/** The `Left` of a leaf layer's `init`; the path is the layer's kind until a combinator names it. */
export const fail = <A>(kind: string, message: string): Either<LayerError, A> =>
  E.left(layerError(kind, message))

/**
 * Puts a child's error under the name its parent gives it: `'2'` and `'dense'` make `'2 (dense)'`;
 * `'body'` and `'2 (dense)'` make `'body.2 (dense)'`, so paths read like parameter names.
 */
export const underName =
  (name: string) =>
  (e: LayerError): LayerError =>
    layerError(e.path.includes(' (') ? `${name}.${e.path}` : `${name} (${e.path})`, e.message)

/** A child's apply context: the parent's mode, with `key` only when the parent had one. */
export const childContext = (ctx: ApplyContext, key: Key | undefined): ApplyContext => ({
  training: ctx.training,
  ...(key === undefined ? {} : { key }),
  ...(ctx.cache === undefined ? {} : { cache: ctx.cache }),
})

/** `n` independent keys from `key` (none needed for zero children). */
export const splitKey = (key: Key, n: number): Key[] => (n === 0 ? [] : O.splitKeys(key, n))

/** A per-example shape problem, or undefined: non-negative integer dimensions only. */
export const badShape = (inShape: Shape): string | undefined =>
  Array.isArray(inShape) && inShape.every((d) => Number.isInteger(d) && d >= 0)
    ? undefined
    : `the input shape ${String(inShape)} is not a list of non-negative integers`

/** A problem with a count argument (units, channels...), or undefined. */
export const notPositiveInteger = (name: string, value: number): string | undefined =>
  Number.isInteger(value) && value > 0
    ? undefined
    : `${name} must be a positive integer, got ${String(value)}`

/**
 * Runs an initialiser and checks what it returned, so a user initialiser of the wrong shape or
 * dtype is reported by `init` rather than by the first `apply`.
 */
export const runInit = (
  kind: string,
  what: string,
  init: Initializer,
  key: Key,
  shape: Shape,
  dtype: DType,
  fans: Fans,
): Either<LayerError, Tensor> => {
  let value: Tensor
  try {
    value = init(key, shape, dtype, fans)
  } catch (e) {
    if (e instanceof T.BackfoldError)
      return fail(kind, `${what} failed for shape ${T.fmtShape(shape)}: ${e.message}`)
    throw e
  }
  if (!T.isTensor(value) || !T.shapesEqual(value.shape, shape) || value.dtype !== dtype)
    return fail(
      kind,
      `${what} returned ${T.isTensor(value) ? `${value.dtype} ${T.fmtShape(value.shape)}` : String(value)}; ` +
        `expected ${dtype} ${T.fmtShape(shape)}`,
    )
  return E.right(value)
}

/**
 * Runs a kernel's shape function inside `init`, turning its typed error into a `LayerError`
 * whose message starts with `context` (the per-example shapes the layer saw).
 */
export const tryShape = <A>(kind: string, context: string, f: () => A): Either<LayerError, A> => {
  try {
    return E.right(f())
  } catch (e) {
    if (e instanceof T.BackfoldError) {
      const prefix = `${e.op}: `
      return fail(
        kind,
        `${context}: ${e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message}`,
      )
    }
    throw e
  }
}

/** The dtype option of a layer: float32 unless a float dtype is given. */
export const paramDType = (kind: string, dtype: DType | undefined): Either<LayerError, DType> =>
  dtype === undefined
    ? E.right('float32')
    : dtype === 'float32' || dtype === 'float64'
      ? E.right(dtype)
      : fail(kind, `dtype must be 'float32' or 'float64', got ${String(dtype)}`)

/** What `initWeightAndBias` needs besides the key and shapes. */
export interface WeightAndBiasOptions {
  readonly weightInit: Initializer
  readonly biasInit: Initializer
  readonly useBias: boolean
  readonly dtype: DType | undefined
}

/**
 * A layer's `weight` (of `weightShape`) and, with `useBias`, its `bias` (`[biasSize]`), each drawn
 * with its own key split from `key` and the weight's fans, in the parameter dtype (float32 by
 * default). Errors name the layer and the initialiser that failed.
 */
export const initWeightAndBias = (
  kind: string,
  key: Key,
  weightShape: Shape,
  biasSize: number,
  opts: WeightAndBiasOptions,
): Either<LayerError, { readonly weight: Tensor; readonly bias?: Tensor }> => {
  const fans = computeFans(weightShape)
  const [weightKey, biasKey] = O.splitKeys(key, 2)
  return pipe(
    paramDType(kind, opts.dtype),
    E.chain((dtype) =>
      pipe(
        runInit(kind, 'weightInit', opts.weightInit, weightKey!, weightShape, dtype, fans),
        E.chain((weight) =>
          opts.useBias
            ? pipe(
                runInit(kind, 'biasInit', opts.biasInit, biasKey!, [biasSize], dtype, fans),
                E.map((bias) => ({ weight, bias })),
              )
            : E.right({ weight }),
        ),
      ),
    ),
  )
}

/**
 * A parameter-free elementwise (shape-preserving) layer applying `f`; `problem` (a bad constructor
 * argument) makes `init` return a `LayerError` and `apply` throw a `ValueError`.
 */
export const shapePreserving = (
  kind: string,
  f: (x: Tensor) => Tensor,
  problem: string | undefined = undefined,
  config: LayerConfig = { kind },
): Layer<NoParams, NoState> => ({
  kind,
  config,
  init: (_key, inShape) => {
    const message = problem ?? badShape(inShape)
    if (message !== undefined) return fail(kind, message)
    return E.right({ params: {}, state: {}, outShape: inShape })
  },
  apply: (_params, state, x) => {
    if (problem !== undefined) throw new T.ValueError(kind, problem)
    return [f(x), state]
  },
})

/** The option specs shared by the layers that make weights. */
export const PARAM_OPTION_SPECS = {
  useBias: O.option.boolean,
  weightInit: O.option.function,
  biasInit: O.option.function,
  // Checked by init (a Left naming the layer), as it always was.
  dtype: O.option.anything,
} as const

/** The accepted options of the pooling layers (`kernelSize` required; values checked by init). */
export const POOL2D_LAYER_OPTIONS = O.optionSchema({
  kernelSize: O.option.required(O.option.anything),
  stride: O.option.anything,
  padding: O.option.anything,
})

/**
 * Checks a layer factory's options record: an unknown key or a value of the wrong type throws a
 * `ValueError` naming the layer and the accepted keys, at the call that made the layer (it is the
 * run-time form of a type error). Values that are well-typed but out of range are reported by
 * `init` as a `LayerError`, like every other problem with a layer's arguments.
 */
export const checkLayerOptions = (kind: string, options: unknown, schema: O.OptionSchema): void =>
  O.checkOptions(kind, options, schema)

/**
 * A layer config from options: entries that are `undefined` are left out (JSON has no undefined).
 * The options of built-in layers hold only numbers, strings, booleans and arrays of them.
 */
export const configOf = (kind: string, options: Readonly<Record<string, unknown>>): LayerConfig => {
  const out: Record<string, JsonValue> = {}
  for (const [k, v] of Object.entries(options))
    if (v !== undefined && typeof v !== 'function') out[k] = v as JsonValue
  return { ...out, kind }
}

/** The hyperparameters `layerNorm` and `rmsNorm` share (`axes` counts trailing dimensions). */
export interface TrailingNormOptions {
  readonly eps: number
  readonly axes: number
  readonly affine: boolean
  readonly dtype: DType | undefined
}

/**
 * A layer that normalises each example over its last `opts.axes` dimensions (`layerNorm`,
 * `rmsNorm`): the option checks, init (params from `makeParams` when affine, shaped like the
 * normalised dims) and apply's rank check are shared; `normalize` is the formula.
 */
export const trailingNormLayer = <P>(
  kind: string,
  opts: TrailingNormOptions,
  makeParams: (normalizedShape: Shape, dtype: DType) => P,
  normalize: (x: Tensor, axes: ReadonlyArray<number>, params: P | NoParams) => Tensor,
): Layer<P | NoParams, NoState> => {
  const { eps, axes: count, affine } = opts
  const problem =
    typeof eps === 'number' && eps >= 0
      ? Number.isInteger(count) && count >= 1
        ? undefined
        : `axes (the number of trailing dimensions to normalise) must be a positive integer, got ${String(count)}`
      : `eps must be a number >= 0, got ${String(eps)}`
  return {
    kind,
    config: configOf(kind, { axes: count, eps, affine, dtype: opts.dtype }),
    init: (_key, inShape) => {
      const shapeProblem = problem ?? badShape(inShape)
      if (shapeProblem !== undefined) return fail(kind, shapeProblem)
      if (inShape.length < count)
        return fail(
          kind,
          `normalising over the last ${count} dimension(s) needs a per-example input of rank >= ${count}, ` +
            `got ${T.fmtShape(inShape)}`,
        )
      const normalizedShape = inShape.slice(inShape.length - count)
      return E.map((dtype: DType) => ({
        params: affine ? makeParams(normalizedShape, dtype) : {},
        state: {},
        outShape: inShape,
      }))(paramDType(kind, opts.dtype))
    },
    apply: (params, state, x) => {
      if (problem !== undefined) throw new T.ValueError(kind, problem)
      const rank = x.shape.length
      if (rank < count + 1)
        throw new T.ShapeError(
          kind,
          `expected a batch of rank >= ${count + 1} (a batch axis and ${count} normalised axes), got ${T.fmtShape(x.shape)}`,
        )
      const axes = Array.from({ length: count }, (_, i) => rank - count + i)
      return [normalize(x, axes, params), state]
    },
  }
}
