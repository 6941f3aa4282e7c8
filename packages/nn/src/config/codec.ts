/**
 * Model configs: a network described as JSON (layer kinds, hyperparameters, nesting), decoded
 * with io-ts into the same layers the constructors build. `decodeModel(encodeModel(m))` builds
 * the same network: same shapes and, with the same key, the same parameters.
 *
 * ```json
 * { "kind": "sequential", "layers": [{ "kind": "dense", "units": 64 }, { "kind": "relu" }, { "kind": "dense", "units": 10 }] }
 * ```
 * Initialisers are not part of a config: it describes architecture, checkpoints carry weights.
 * What each kind's config holds and how it decodes is said by its `LayerKind` (built-in kinds beside
 * their factory, user kinds by `defineLayer`); the kinds a config may use are the `layers` option.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import * as t from 'io-ts/lib/index.js'
import { MAX_JSON_DEPTH, jsonDepthExceeds, nestedTooDeep } from '../json'
import type { JsonValue, Layer, LayerConfig, ModelConfig } from '../layer'
import { builtinLayers } from '../layers/builtins'
import type { DecodeContext, LayerKind } from '../layers/define'
import type { AnyLayer } from '../layers/common'
import { configError, formatConfigError, joinPath, showValue, type ConfigError } from './error'

export { type ConfigError, formatConfigError } from './error'

/**
 * The layer kinds a function that reads or writes configs may meet. Nothing registers itself: a
 * custom kind is passed here, after the built-in ones.
 * @since 0.2.0
 */
export interface LayerKindsOption {
  /**
   * The known kinds (default `builtinLayers`). Each kind may appear once:
   * `{ layers: [...builtinLayers, gluKind] }`.
   */
  readonly layers?: ReadonlyArray<LayerKind>
}

/** Options of `decodeModel` and `encodeModel`. @since 0.2.0 */
export type ModelConfigOptions = LayerKindsOption

/** A model decoded from its config: a layer whose config is known. @since 0.2.0 */
export type DecodedModel = Layer<unknown, unknown> & { readonly config: ModelConfig }

/**
 * The kinds of a `layers` option by name, or a `Left` when a kind is listed twice (which
 * definition would win is not something to guess).
 * @internal
 */
export const kindRegistry = (opts: LayerKindsOption): Either<ConfigError, ReadonlyMap<string, LayerKind>> => {
  const kinds = new Map<string, LayerKind>()
  const given: unknown = opts.layers ?? builtinLayers
  if (!Array.isArray(given))
    return E.left(configError('', `the layers option must be a list of layer kinds, got ${showValue(given)}`))
  for (const k of given as ReadonlyArray<unknown>) {
    if (!isLayerKind(k))
      return E.left(
        configError(
          '',
          `the layers option holds ${showValue(k)}, which is not a layer kind (builtinLayers' entries, or defineLayer's result)`,
        ),
      )
    if (kinds.has(k.kind))
      return E.left(
        configError(
          '',
          `the layers option lists the kind '${k.kind}' twice; list each kind once ` +
            '(to replace a built-in kind, leave it out of the list)',
        ),
      )
    kinds.set(k.kind, k)
  }
  return E.right(kinds)
}

const isLayerKind = (value: unknown): value is LayerKind =>
  typeof value === 'object' &&
  value !== null &&
  'kind' in value &&
  typeof value.kind === 'string' &&
  'decode' in value &&
  typeof value.decode === 'function'

/** Advice shown with an unknown kind. */
export const UNKNOWN_KIND_ADVICE =
  'a custom kind must be defined with defineLayer and passed in the layers option, e.g. ' +
  '{ layers: [...builtinLayers, gluKind] }'

const decodeAt = (
  kinds: ReadonlyMap<string, LayerKind>,
  json: unknown,
  path: string,
): Either<ConfigError, Layer<unknown, unknown>> => {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return E.left(configError(path, `expected a layer config object with a "kind", got ${showValue(json)}`))
  const value = Object.fromEntries(Object.entries(json))
  const kind = value['kind']
  const definition = typeof kind === 'string' ? kinds.get(kind) : undefined
  if (definition === undefined)
    return E.left(
      configError(
        joinPath(path, 'kind'),
        `expected one of ${[...kinds.keys()].join(', ')}, got ${showValue(kind)}; ${UNKNOWN_KIND_ADVICE}`,
      ),
    )
  const ctx: DecodeContext = {
    path,
    child: (child, ...keys) => decodeAt(kinds, child, keys.reduce<string>(joinPath, path)),
  }
  return definition.decode(value, ctx)
}

/**
 * Decodes a JSON model description into a layer, with the built-in kinds and those of
 * `opts.layers`. Errors give the JSON path and what was expected.
 * The value may nest at most `MAX_JSON_DEPTH` (256) levels of arrays and objects: a `sequential`
 * or `parallel` takes two levels and a `residual` one, so about 127 combinators fit inside each
 * other. Deeper values (or cyclic ones) are a `Left` saying so, checked without recursion before
 * any decoding, so no input makes this throw.
 * @example
 * decodeModel(JSON.parse(text)) // Right(layer) or Left({ path: 'layers.2.units', message: 'expected a positive integer, got -3' })
 * declare const gluKind: LayerKind // a custom kind made with defineLayer (see docs/custom-layers.md)
 * decodeModel(JSON.parse(text), { layers: [...builtinLayers, gluKind] }) // a model with custom layers
 * @since 0.1.0
 */
export const decodeModel = (
  json: unknown,
  opts: ModelConfigOptions = {},
): Either<ConfigError, DecodedModel> => {
  if (jsonDepthExceeds(json, MAX_JSON_DEPTH))
    return E.left(
      configError(
        '',
        `the model config is ${nestedTooDeep(MAX_JSON_DEPTH)}; a sequential or parallel takes two levels ` +
          `and a residual one, so about ${Math.floor((MAX_JSON_DEPTH - 1) / 2)} combinators fit inside each other: ` +
          'flatten the nesting (a sequential inside a sequential adds nothing)',
      ),
    )
  const kinds = kindRegistry(opts)
  if (E.isLeft(kinds)) return kinds
  // Every kind's decode builds its layer with a config (the factories and defineLayer's create
  // set one), of the kind just decoded.
  return E.map((layer: Layer<unknown, unknown>) => layer as DecodedModel)(decodeAt(kinds.right, json, ''))
}

/**
 * The JSON description of a model, checked by decoding it again with the same kinds (so an
 * encoded config is always one `decodeModel` accepts). A layer without a config (a plain `{ init,
 * apply }` record rather than one made by a kind's `create`) makes this a `Left`, as does a kind
 * missing from `opts.layers`.
 * @example
 * const json = encodeModel(model) // Right({ kind: 'sequential', layers: [...] })
 * declare const gluKind: LayerKind // a custom kind made with defineLayer (see docs/custom-layers.md)
 * const withGlu = encodeModel(model, { layers: [...builtinLayers, gluKind] })
 * @since 0.1.0
 */
export const encodeModel = (
  layer: AnyLayer,
  opts: ModelConfigOptions = {},
): Either<ConfigError, ModelConfig> =>
  layer.config === undefined
    ? E.left(
        configError(
          '',
          `the layer '${layer.missingConfig ?? layer.kind}' has no config, so it cannot be described as JSON: ` +
            'define its kind with defineLayer and make it with create(options), and pass the kind in the ' +
            'layers option ({ layers: [...builtinLayers, myKind] })',
        ),
      )
    : // Decoded, a config is one of the known kinds' (the decoder just checked its kind and fields).
      E.map(() => layer.config as ModelConfig)(decodeModel(layer.config, opts))

/**
 * An io-ts codec of the configs of `opts.layers`' kinds (default: the built-in ones), for
 * composing into larger codecs.
 * @since 0.2.0
 */
export const layerConfigCodec = (opts: ModelConfigOptions = {}): t.Type<LayerConfig, JsonValue, unknown> =>
  new t.Type<LayerConfig, JsonValue, unknown>(
    'LayerConfig',
    (u): u is LayerConfig => E.isRight(decodeModel(u, opts)),
    (u, c) => {
      const decoded = decodeModel(u, opts)
      return E.isRight(decoded)
        ? t.success(u as LayerConfig)
        : t.failure(u, c, formatConfigError(decoded.left))
    },
    (a) => a,
  )

/** The io-ts codec view of a config of the built-in kinds, for composing into larger codecs (e.g. a checkpoint manifest). @since 0.1.0 */
export const LayerConfigCodec = /* @__PURE__ */ layerConfigCodec()
