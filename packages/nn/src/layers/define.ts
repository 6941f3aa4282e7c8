/**
 * Layer kinds: one record per kind holds everything backfold knows about it besides the layer
 * itself: how its config decodes back into a layer (`decodeModel`, checkpoints), how it exports to
 * ONNX (`exportOnnx`) and what its `init` allocates (checkpoint loading). Built-in kinds are defined
 * beside their factory (`layers/dense.ts` exports `dense` and `denseKind`); users define theirs with
 * `defineLayer`. Nothing registers itself: a function that reads configs takes the kinds it may meet
 * as its `layers` option (default `builtinLayers`).
 * @since 0.2.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import type * as t from 'io-ts/lib/index.js'
import * as T from '@backfold/tensor'
import type { Key, Shape, Tensor } from '@backfold/tensor'
import type { ApplyContext, Initialized, JsonValue, Layer, LayerConfig, LayerError } from '../layer'
import { configError, formatConfigError, joinPath, showValue, type ConfigError } from '../config/error'
import type { OnnxEmitContext, OnnxExport, OnnxValue } from '../onnx/context'
import type { OnnxError } from '../onnx/error'
import { asChild, type AnyLayer } from './common'

/** What `decode` of a kind gets besides the config: where it is, and how to decode nested layers. @since 0.2.0 */
export interface DecodeContext {
  /** Dotted JSON path of the config being decoded (empty for the root). */
  readonly path: string
  /**
   * Decodes a nested layer config found under `keys` of this one (`child(c, 'body')`,
   * `child(c, 'layers', 2)`), with every registered kind and errors at the nested path.
   */
  readonly child: (
    json: unknown,
    ...keys: ReadonlyArray<string | number>
  ) => Either<ConfigError, Layer<unknown, unknown>>
}

/** What a layer's `init` allocates (parameter and state values), and its output shape when known. @since 0.2.0 */
export interface Allocation {
  readonly size: number
  /** Omitted by parameter-free layers: their own `init` gives it without allocating. */
  readonly outShape?: Shape
}

/**
 * Everything backfold knows about one layer kind. Made by `defineLayer` (user kinds) or beside each
 * built-in factory; passed to `decodeModel`, `encodeModel`, `exportOnnx` and the checkpoint
 * functions in their `layers` option.
 * @example
 * import { builtinLayers, decodeModel } from '@backfold/nn'
 * const kinds = [...builtinLayers] // plus your own: [...builtinLayers, gluKind] (see docs/custom-layers.md)
 * const model = decodeModel({ kind: 'relu' }, { layers: kinds }) // Right(relu layer)
 * @since 0.2.0
 */
export interface LayerKind<K extends string = string> {
  readonly kind: K
  /** Builds the layer a config describes (its `kind` is this one), or a `Left` at `ctx.path`. */
  decode(
    config: Readonly<Record<string, unknown>>,
    ctx: DecodeContext,
  ): Either<ConfigError, Layer<unknown, unknown>>
  /** How to export the kind to ONNX; absent when it cannot be. */
  readonly onnx?: OnnxExport | undefined
  /**
   * What `init` of this config for `inShape` allocates, worked out without allocating (used to
   * refuse a checkpoint whose saved input shape would make `init` allocate gigabytes). `child`
   * walks a nested config, adding its allocation, and gives its output shape. Undefined: unknown.
   */
  allocation?(
    config: Readonly<Record<string, unknown>>,
    inShape: Shape,
    child: (config: unknown, inShape: Shape) => Shape | undefined,
  ): Allocation | undefined
}

/**
 * Runs a layer constructor on decoded fields. The fields passed their codecs, so constructors
 * should accept them; should one still refuse (its own argument check throws a `BackfoldError`),
 * that becomes a `Left` at `path`, so that no config makes `decodeModel` throw.
 */
export const construct = (
  path: string,
  make: () => AnyLayer,
): Either<ConfigError, Layer<unknown, unknown>> => {
  try {
    return E.right(asChild(make()))
  } catch (error) {
    if (error instanceof T.BackfoldError) return E.left(configError(path, error.message))
    throw error
  }
}

const decodeFields = (
  props: t.Props,
  value: Readonly<Record<string, unknown>>,
  path: string,
  required: boolean,
): Either<ConfigError, Record<string, unknown>> => {
  const out: Record<string, unknown> = {}
  for (const [key, codec] of Object.entries(props)) {
    const v = value[key]
    if (v === undefined) {
      if (required) return E.left(configError(joinPath(path, key), `is required: expected ${codec.name}`))
      continue
    }
    if (E.isLeft(codec.decode(v)))
      return E.left(configError(joinPath(path, key), `expected ${codec.name}, got ${showValue(v)}`))
    out[key] = v
  }
  return E.right(out)
}

/** The fields of a config besides `kind`, each checked by its codec; unknown fields are refused. */
export const decodeConfigFields = (
  kind: string,
  value: Readonly<Record<string, unknown>>,
  path: string,
  fields: { readonly required: t.Props; readonly optional: t.Props },
): Either<ConfigError, Record<string, unknown>> => {
  const allowed = ['kind', ...Object.keys(fields.required), ...Object.keys(fields.optional)]
  const unknownKey = Object.keys(value).find((k) => !allowed.includes(k))
  if (unknownKey !== undefined)
    return E.left(
      configError(
        joinPath(path, unknownKey),
        `is not an option of ${kind} (options: ${allowed.slice(1).join(', ') || 'none'})`,
      ),
    )
  const required = decodeFields(fields.required, value, path, true)
  if (E.isLeft(required)) return required
  const optional = decodeFields(fields.optional, value, path, false)
  if (E.isLeft(optional)) return optional
  return E.right({ ...required.right, ...optional.right })
}

/**
 * A built-in leaf kind: its config fields (io-ts codecs, required and optional), the factory call
 * that builds the layer from them, and its ONNX export (required: a built-in kind without one
 * does not compile). Internal.
 */
export const leafKind = <K extends string>(spec: {
  readonly kind: K
  readonly required: t.Props
  readonly optional: t.Props
  readonly build: (fields: Readonly<Record<string, unknown>>) => AnyLayer
  readonly onnx: OnnxExport
  readonly allocation?: LayerKind['allocation']
}): LayerKind<K> & { readonly onnx: OnnxExport } => ({
  kind: spec.kind,
  onnx: spec.onnx,
  decode: (config, ctx) =>
    E.chain((fields: Record<string, unknown>) => construct(ctx.path, () => spec.build(fields)))(
      decodeConfigFields(spec.kind, config, ctx.path, spec),
    ),
  // Parameter-free unless said otherwise: their own init gives the output shape.
  allocation: spec.allocation ?? (() => ({ size: 0 })),
})

/** A JSON record: what a layer's config fields encode to. @since 0.2.0 */
export type JsonRecord = { readonly [key: string]: JsonValue }

/**
 * What `defineLayer` takes: the kind's name, an io-ts codec of its options (the config's fields
 * besides `kind`), the layer's `init` and `apply` given those options, and optionally its ONNX
 * emitter.
 * @since 0.2.0
 */
export interface LayerSpec<K extends string, A, O extends JsonRecord, P, S> {
  /** The kind's name, unique among the kinds a model is decoded with. */
  readonly kind: K
  /**
   * The options' codec: `decode` validates a config's fields (use `t.strict`/`t.exact` so unknown
   * fields are refused), `encode` writes them as JSON.
   */
  readonly options: t.Type<A, O, unknown>
  /** `init` of a layer with these options (see `Layer.init`). */
  readonly init: (options: A, key: Key, inShape: Shape) => Either<LayerError, Initialized<P, S>>
  /** `apply` of a layer with these options (see `Layer.apply`). */
  readonly apply: (options: A, params: P, state: S, x: Tensor, ctx: ApplyContext) => readonly [Tensor, S]
  /** The ONNX subgraph of a layer with these options, in inference mode. */
  readonly onnx?: (ctx: OnnxEmitContext, options: A) => Either<OnnxError, OnnxValue>
  /** What `init` allocates, without allocating (see `LayerKind.allocation`); optional. */
  readonly allocation?: (options: A, inShape: Shape) => Allocation | undefined
}

/** A kind made by `defineLayer`: a `LayerKind` that also makes layers. @since 0.2.0 */
export interface LayerDefinition<K extends string, A, P, S> extends LayerKind<K> {
  /** A layer of this kind with these options; its config is `{ kind, ...options }` (encoded). */
  readonly create: (options: A) => Layer<P, S>
}

/**
 * Defines a layer kind in one place: its options codec, `init`, `apply` and optional ONNX emitter.
 * `create(options)` makes layers whose config (`{ kind, ...options }`) `encodeModel` writes and
 * `decodeModel` reads back, given the kind in its `layers` option; so do the checkpoint functions
 * and `exportOnnx`. Nothing is registered globally: pass the kind where configs are read.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import * as t from 'io-ts'
 * import * as O from '@backfold/ops'
 * import { defineLayer, builtinLayers, encodeModel } from '@backfold/nn'
 * const scaleKind = defineLayer({
 *   kind: 'scale',
 *   options: t.strict({ factor: t.number }),
 *   init: (_o, _key, inShape) => E.right({ params: {}, state: {}, outShape: inShape }),
 *   apply: (o, _p, state, x) => [O.mul(x, o.factor), state],
 * })
 * const layer = scaleKind.create({ factor: 2 })
 * const json = encodeModel(layer, { layers: [...builtinLayers, scaleKind] }) // Right({ kind: 'scale', factor: 2 })
 * @throws ValueError from `create` when the options do not pass the codec, or hold a field it does not encode.
 * @since 0.2.0
 */
export const defineLayer = <K extends string, A, O extends JsonRecord, P, S>(
  spec: LayerSpec<K, A, O, P, S>,
): LayerDefinition<K, A, P, S> => {
  const { kind } = spec
  const configOf = (options: A): LayerConfig => ({ ...spec.options.encode(options), kind })
  // A config's fields, decoded; fields the codec drops (t.strict) are refused, not ignored.
  const decodeOptions = (config: Readonly<Record<string, unknown>>, path: string): Either<ConfigError, A> => {
    const { kind: _kind, ...fields } = config
    const decoded = spec.options.decode(fields)
    if (E.isLeft(decoded)) {
      const first = decoded.left[0]
      const keys = first?.context.map((c) => c.key).filter((k) => k !== '') ?? []
      const expected = first?.context[first.context.length - 1]?.type.name ?? spec.options.name
      const message = first?.message ?? `expected ${expected}, got ${showValue(first?.value)}`
      return E.left(configError(keys.reduce<string>(joinPath, path), message))
    }
    const kept = new Set(Object.keys(spec.options.encode(decoded.right)))
    const dropped = Object.keys(fields).find((k) => !kept.has(k))
    return dropped === undefined
      ? E.right(decoded.right)
      : E.left(
          configError(
            joinPath(path, dropped),
            `is not an option of ${kind} (options: ${[...kept].join(', ') || 'none'})`,
          ),
        )
  }
  const create = (options: A): Layer<P, S> => {
    if (!spec.options.is(options))
      throw new T.ValueError(kind, `options ${showValue(options)} do not pass the codec ${spec.options.name}`)
    const config = configOf(options)
    // An option the codec does not encode would reach init and apply but not the config: the
    // layer saved would not be the layer trained.
    const dropped =
      typeof options === 'object' && options !== null
        ? Object.keys(options).find((k) => !Object.prototype.hasOwnProperty.call(config, k))
        : undefined
    if (dropped !== undefined)
      throw new T.ValueError(
        kind,
        `unknown option '${dropped}' (options: ${
          Object.keys(config)
            .filter((k) => k !== 'kind')
            .join(', ') || 'none'
        })`,
      )
    // init and apply see the options as the config holds them (a later change to the caller's
    // object changes neither), so the layer decoded from the config is the layer that ran.
    const saved = decodeOptions(config, '')
    if (E.isLeft(saved))
      throw new T.ValueError(
        kind,
        `options ${showValue(options)} do not survive encoding and decoding by the codec ${spec.options.name}: ${formatConfigError(saved.left)}`,
      )
    const own = saved.right
    return {
      kind,
      config,
      init: (key, inShape) => spec.init(own, key, inShape),
      apply: (params, state, x, ctx) => spec.apply(own, params, state, x, ctx),
    }
  }
  const { onnx, allocation } = spec
  return {
    kind,
    create,
    decode: (config, ctx) =>
      E.chain((options: A) => construct(ctx.path, () => create(options)))(decodeOptions(config, ctx.path)),
    ...(onnx === undefined
      ? {}
      : {
          onnx: {
            emit: (ctx: OnnxEmitContext) => {
              const options = decodeOptions(ctx.config, '')
              return E.isLeft(options)
                ? ctx.fail(
                    `the config does not decode: ${options.left.path === '' ? '' : `${options.left.path}: `}${options.left.message}`,
                  )
                : onnx(ctx, options.right)
            },
          },
        }),
    ...(allocation === undefined
      ? {}
      : {
          allocation: (config: Readonly<Record<string, unknown>>, inShape: Shape) => {
            const options = decodeOptions(config, '')
            return E.isLeft(options) ? undefined : allocation(options.right, inShape)
          },
        }),
  }
}
