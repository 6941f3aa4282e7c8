/**
 * Model configs: a network described as JSON (layer kinds, hyperparameters, nesting), decoded
 * with io-ts into the same layers the constructors build. `decodeModel(encodeModel(m))` builds
 * the same network: same shapes and, with the same key, the same parameters.
 *
 * ```json
 * { "kind": "sequential", "layers": [{ "kind": "dense", "units": 64 }, { "kind": "relu" }, { "kind": "dense", "units": 10 }] }
 * ```
 * Initialisers are not part of a config: it describes architecture, checkpoints carry weights.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import * as t from 'io-ts/lib/index.js'
import { refined } from '../codecs'
import { MAX_JSON_DEPTH, jsonDepthExceeds, nestedTooDeep } from '../json'
import type { JsonValue, Layer, LayerConfig } from '../layer'
import { BackfoldError } from '@backfold/tensor'
import type { Pool2dOptions } from '@backfold/tensor'
import * as L from '../layers/index'
import { asChild, type AnyLayer } from '../layers/common'

/** Why a config could not be decoded or encoded: the JSON path and what was expected. @since 0.1.0 */
export interface ConfigError {
  readonly kind: 'ConfigError'
  /** Dotted JSON path, e.g. `layers.2.units` (empty for the root). */
  readonly path: string
  readonly message: string
}

const configError = (path: string, message: string): ConfigError => ({ kind: 'ConfigError', path, message })

/** Formats a `ConfigError` for people: `layers.2.units: expected a positive integer, got -3`. @since 0.1.0 */
export const formatConfigError = (e: ConfigError): string =>
  e.path === '' ? e.message : `${e.path}: ${e.message}`

/** A short rendering of a value for messages; never throws (a BigInt or a cycle make `JSON.stringify` throw). */
const show = (value: unknown): string => {
  let s: string | undefined
  try {
    s = JSON.stringify(value)
  } catch {
    s = undefined
  }
  if (s === undefined) s = typeof value === 'bigint' ? `${value}n` : typeof value
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}

const positiveInt = refined(t.number, 'a positive integer', (n) => Number.isInteger(n) && n > 0)
const nonNegativeInt = refined(t.number, 'a non-negative integer', (n) => Number.isInteger(n) && n >= 0)
const finite = refined(t.number, 'a finite number', Number.isFinite)
const pair = <A>(c: t.Type<A, A, unknown>): t.Type<readonly [A, A], readonly [A, A], unknown> =>
  t.readonly(t.tuple([c, c]))
const positiveOrPair = t.union([positiveInt, pair(positiveInt)], 'a positive integer or [h, w]')
const padding = t.union(
  [
    nonNegativeInt,
    pair(nonNegativeInt),
    t.readonly(t.tuple([nonNegativeInt, nonNegativeInt, nonNegativeInt, nonNegativeInt])),
    t.literal('same'),
    t.literal('valid'),
  ],
  "'same', 'valid', a non-negative integer, [h, w] or [top, bottom, left, right]",
)
const dtype = t.union(
  [t.literal('float32'), t.literal('float64'), t.literal('int32')],
  "'float32', 'float64' or 'int32'",
)
const denseActivation = t.union([t.literal('relu'), t.literal('linear')], "'relu' or 'linear'")
const rate = refined(t.number, 'a rate with 0 <= rate < 1', (r) => r >= 0 && r < 1)
const unitInterval = refined(t.number, 'a number in (0, 1]', (r) => r > 0 && r <= 1)
const positive = refined(t.number, 'a positive number', (r) => r > 0 && Number.isFinite(r))
const integer = refined(t.number, 'an integer', Number.isInteger)

interface Spec {
  readonly required: t.Props
  readonly optional: t.Props
  /** Builds the layer from decoded fields (children already decoded for combinators). */
  readonly build: (fields: Record<string, unknown>) => AnyLayer
}

const leaf = (required: t.Props, optional: t.Props, build: Spec['build']): Spec => ({
  required,
  optional,
  build,
})
// The fields were decoded by the codecs listed beside each builder, so the casts below restate those types.
const num = (v: unknown): number => v as number
const pool = (f: Record<string, unknown>): Pool2dOptions => f as unknown as Pool2dOptions

const SPECS: Readonly<Record<string, Spec>> = {
  // `activation` is optional: configs written before it existed decode as before (no activation).
  dense: leaf({ units: positiveInt }, { useBias: t.boolean, dtype, activation: denseActivation }, (f) =>
    L.dense(num(f['units']), {
      useBias: f['useBias'] !== false,
      ...(f['dtype'] ? { dtype: f['dtype'] as 'float32' } : {}),
      ...(f['activation'] === 'relu' ? { activation: 'relu' } : {}),
    }),
  ),
  conv2d: leaf(
    { outChannels: positiveInt, kernelSize: positiveOrPair },
    { stride: positiveOrPair, padding, dilation: positiveOrPair, useBias: t.boolean, dtype },
    (f) => {
      const { outChannels, kernelSize, ...rest } = f
      return L.conv2d(num(outChannels), kernelSize as number, rest as L.Conv2dLayerOptions)
    },
  ),
  maxPool2d: leaf({ kernelSize: positiveOrPair }, { stride: positiveOrPair, padding }, (f) =>
    L.maxPool2d(pool(f)),
  ),
  avgPool2d: leaf({ kernelSize: positiveOrPair }, { stride: positiveOrPair, padding }, (f) =>
    L.avgPool2d(pool(f)),
  ),
  globalAvgPool2d: leaf({}, {}, () => L.globalAvgPool2d()),
  flatten: leaf({}, {}, () => L.flatten()),
  dropout: leaf({ rate }, {}, (f) => L.dropout(num(f['rate']))),
  batchNorm: leaf({}, { momentum: unitInterval, eps: positive, affine: t.boolean, dtype }, (f) =>
    L.batchNorm(f as L.BatchNormOptions),
  ),
  layerNorm: leaf({}, { axes: positiveInt, eps: positive, affine: t.boolean, dtype }, (f) =>
    L.layerNorm(f as L.LayerNormOptions),
  ),
  embedding: leaf({ numEmbeddings: positiveInt, dim: positiveInt }, { dtype }, (f) =>
    L.embedding(num(f['numEmbeddings']), num(f['dim']), f['dtype'] ? { dtype: f['dtype'] as 'float32' } : {}),
  ),
  relu: leaf({}, {}, () => L.relu()),
  sigmoid: leaf({}, {}, () => L.sigmoid()),
  tanh: leaf({}, {}, () => L.tanh()),
  silu: leaf({}, {}, () => L.silu()),
  elu: leaf({}, { alpha: finite }, (f) => L.elu(f['alpha'] === undefined ? 1 : num(f['alpha']))),
  leakyRelu: leaf({}, { slope: finite }, (f) =>
    L.leakyRelu(f['slope'] === undefined ? 0.01 : num(f['slope'])),
  ),
  gelu: leaf({}, { approximate: t.union([t.literal('none'), t.literal('tanh')], "'none' or 'tanh'") }, (f) =>
    L.gelu(f['approximate'] === 'tanh' ? 'tanh' : 'none'),
  ),
  softmax: leaf({}, { axis: integer }, (f) => L.softmax(f['axis'] === undefined ? -1 : num(f['axis']))),
}

const COMBINATORS = ['sequential', 'parallel', 'residual'] as const

const join = (path: string, key: string | number): string => (path === '' ? String(key) : `${path}.${key}`)

const decodeFields = (props: t.Props, value: Record<string, unknown>, path: string, required: boolean) => {
  const out: Record<string, unknown> = {}
  for (const [key, codec] of Object.entries(props)) {
    const v = value[key]
    if (v === undefined) {
      if (required) return E.left(configError(join(path, key), `is required: expected ${codec.name}`))
      continue
    }
    if (E.isLeft(codec.decode(v)))
      return E.left(configError(join(path, key), `expected ${codec.name}, got ${show(v)}`))
    out[key] = v
  }
  return E.right(out)
}

/**
 * Runs a layer constructor on decoded fields. The fields passed the codecs above, so constructors
 * should accept them; should one still refuse (its own argument check throws a `BackfoldError`),
 * that becomes a `Left` at `path`, so that no config makes `decodeModel` throw.
 */
const construct = (path: string, make: () => AnyLayer): Either<ConfigError, Layer<unknown, unknown>> => {
  try {
    return E.right(asChild(make()))
  } catch (error) {
    if (error instanceof BackfoldError) return E.left(configError(path, error.message))
    throw error
  }
}

const decodeAt = (json: unknown, path: string): Either<ConfigError, Layer<unknown, unknown>> => {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return E.left(configError(path, `expected a layer config object with a "kind", got ${show(json)}`))
  const value = json as Record<string, unknown>
  const kind = value['kind']
  const known = [...Object.keys(SPECS), ...COMBINATORS]
  if (typeof kind !== 'string' || !known.includes(kind))
    return E.left(configError(join(path, 'kind'), `expected one of ${known.join(', ')}, got ${show(kind)}`))
  if (kind === 'residual') {
    const extra = Object.keys(value).filter((k) => k !== 'kind' && k !== 'body')
    if (extra.length > 0) return E.left(configError(join(path, extra[0]!), `is not an option of residual`))
    return E.chain((body: Layer<unknown, unknown>) => construct(path, () => L.residual(body)))(
      decodeAt(value['body'], join(path, 'body')),
    )
  }
  if (kind === 'sequential' || kind === 'parallel') {
    const extra = Object.keys(value).filter((k) => k !== 'kind' && k !== 'layers')
    if (extra.length > 0) return E.left(configError(join(path, extra[0]!), `is not an option of ${kind}`))
    const children = value['layers']
    const make = kind === 'sequential' ? L.sequential : L.parallel
    if (Array.isArray(children)) {
      const layers: Array<Layer<unknown, unknown>> = []
      for (let i = 0; i < children.length; i++) {
        const child = decodeAt(children[i], join(join(path, 'layers'), i))
        if (E.isLeft(child)) return child
        layers.push(child.right)
      }
      return construct(path, () => make(...layers))
    }
    if (typeof children === 'object' && children !== null) {
      // Names come from the file: collected as entries and turned into own properties by
      // Object.fromEntries, so `__proto__` or `constructor` is a layer name like any other
      // (assigning `layers['__proto__'] = child` would set the record's prototype instead).
      const layers: Array<readonly [string, Layer<unknown, unknown>]> = []
      for (const [name, c] of Object.entries(children)) {
        if (name === '' || name.includes('.'))
          return E.left(
            configError(
              join(join(path, 'layers'), name),
              `layer name ${show(name)} must be non-empty and contain no '.' (names join into dotted parameter paths)`,
            ),
          )
        const child = decodeAt(c, join(join(path, 'layers'), name))
        if (E.isLeft(child)) return child
        layers.push([name, child.right])
      }
      return construct(path, () => make(Object.fromEntries(layers)))
    }
    return E.left(
      configError(
        join(path, 'layers'),
        `expected an array or a record of layer configs, got ${show(children)}`,
      ),
    )
  }
  const spec = SPECS[kind]!
  const allowed = new Set(['kind', ...Object.keys(spec.required), ...Object.keys(spec.optional)])
  const unknownKey = Object.keys(value).find((k) => !allowed.has(k))
  if (unknownKey !== undefined)
    return E.left(
      configError(
        join(path, unknownKey),
        `is not an option of ${kind} (options: ${[...allowed].slice(1).join(', ') || 'none'})`,
      ),
    )
  const required = decodeFields(spec.required, value, path, true)
  if (E.isLeft(required)) return required
  const optional = decodeFields(spec.optional, value, path, false)
  if (E.isLeft(optional)) return optional
  return construct(path, () => spec.build({ ...required.right, ...optional.right }))
}

/**
 * Decodes a JSON model description into a layer. Errors give the JSON path and what was expected.
 * The value may nest at most `MAX_JSON_DEPTH` (256) levels of arrays and objects: a `sequential`
 * or `parallel` takes two levels and a `residual` one, so about 127 combinators fit inside each
 * other. Deeper values (or cyclic ones) are a `Left` saying so, checked without recursion before
 * any decoding, so no input makes this throw.
 * @example
 * decodeModel(JSON.parse(text)) // Right(layer) or Left({ path: 'layers.2.units', message: 'expected a positive integer, got -3' })
 * @since 0.1.0
 */
export const decodeModel = (json: unknown): Either<ConfigError, Layer<unknown, unknown>> =>
  jsonDepthExceeds(json, MAX_JSON_DEPTH)
    ? E.left(
        configError(
          '',
          `the model config is ${nestedTooDeep(MAX_JSON_DEPTH)}; a sequential or parallel takes two levels ` +
            `and a residual one, so about ${Math.floor((MAX_JSON_DEPTH - 1) / 2)} combinators fit inside each other: ` +
            'flatten the nesting (a sequential inside a sequential adds nothing)',
        ),
      )
    : decodeAt(json, '')

/**
 * The JSON description of a model built from backfold's layers. A layer without a config (a custom
 * layer) makes this a `Left` naming where it sits.
 * @since 0.1.0
 */
export const encodeModel = (layer: Layer<unknown, unknown>): Either<ConfigError, LayerConfig> =>
  layer.config === undefined
    ? E.left(
        configError(
          '',
          `the ${layer.kind} layer (or one of its children) has no config: custom layers cannot be described as JSON; ` +
            `build the model from backfold's layers or give your layer a config`,
        ),
      )
    : // Round-trip through the decoder so an encoded config is always one decodeModel accepts.
      E.map(() => layer.config as LayerConfig)(decodeModel(layer.config))

/** The io-ts codec view of a config, for composing into larger codecs (e.g. a checkpoint manifest). @since 0.1.0 */
export const LayerConfigCodec = new t.Type<LayerConfig, JsonValue, unknown>(
  'LayerConfig',
  (u): u is LayerConfig => E.isRight(decodeModel(u)),
  (u, c) => {
    const decoded = decodeModel(u)
    return E.isRight(decoded) ? t.success(u as LayerConfig) : t.failure(u, c, formatConfigError(decoded.left))
  },
  (a) => a,
)
