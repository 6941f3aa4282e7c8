import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { AnyLayer, ChildLayer, LayerParams, LayerState } from './common'
import { asChild, isLayer, underName } from './common'
import { layerError } from '../layer'
import type { JsonValue, Layer } from '../layer'
import { configError, joinPath, showValue, type ConfigError } from '../config/error'
import { construct, type DecodeContext } from './define'

/** Named child layers, for the record forms of `sequential` and `parallel`. @since 0.1.0 */
export type LayerRecord = { readonly [name: string]: AnyLayer }

/** Parameters of a tuple of layers: `[DenseParams, NoParams, DenseParams]`. @since 0.1.0 */
export type ParamsTuple<Ls extends ReadonlyArray<AnyLayer>> = { readonly [K in keyof Ls]: LayerParams<Ls[K]> }
/** State of a tuple of layers. @since 0.1.0 */
export type StateTuple<Ls extends ReadonlyArray<AnyLayer>> = { readonly [K in keyof Ls]: LayerState<Ls[K]> }
/** Parameters of a record of layers: `{ features: Conv2dParams, head: DenseParams }`. @since 0.1.0 */
export type ParamsRecord<R extends LayerRecord> = { readonly [K in keyof R]: LayerParams<R[K]> }
/** State of a record of layers. @since 0.1.0 */
export type StateRecord<R extends LayerRecord> = { readonly [K in keyof R]: LayerState<R[K]> }

/**
 * The children of a combinator and how their params/state sit in the combinator's own tree:
 * an array (names `'0'`, `'1'`, ...) or a record (names are the keys).
 */
export interface Children {
  readonly names: ReadonlyArray<string>
  readonly layers: ReadonlyArray<ChildLayer>
  /** One value per child → the combinator's tree (array or record). */
  readonly pack: (values: ReadonlyArray<unknown>) => unknown
  /** The combinator's tree → one value per child. */
  readonly unpack: (tree: unknown) => ReadonlyArray<unknown>
  /** The children's configs packed like params (array or record); undefined if any child has none. */
  readonly configs: JsonValue | undefined
  /** When `configs` is undefined: the path of the first descendant without a config. */
  readonly missingConfig: string | undefined
}

/** The path of the layer without a config inside `layer` (itself when it is a leaf without one). */
export const missingConfigOf = (layer: ChildLayer): string => layer.missingConfig ?? layer.kind

/** The first child without a config, as a path under its name (`'1 (mine)'`, `'body.1 (mine)'`). */
const firstMissing = (
  names: ReadonlyArray<string>,
  layers: ReadonlyArray<ChildLayer>,
): string | undefined => {
  const i = layers.findIndex((l) => l.config === undefined)
  return i < 0 ? undefined : underName(names[i]!)(layerError(missingConfigOf(layers[i]!), '')).path
}

const packConfigs = (
  layers: ReadonlyArray<ChildLayer>,
  pack: (values: ReadonlyArray<unknown>) => unknown,
): JsonValue | undefined =>
  layers.every((l) => l.config !== undefined)
    ? // Every child config is a JSON value, so the packed array or record is one too.
      (pack(layers.map((l) => l.config)) as JsonValue)
    : undefined

const entry = (tree: unknown, key: string | number): unknown =>
  typeof tree === 'object' && tree !== null
    ? // Any object may be indexed; a missing entry reads as undefined, which the child rejects.
      (tree as Readonly<Record<string | number, unknown>>)[key]
    : undefined

/**
 * Reads a combinator's arguments: layers (`sequential(a, b)`) or one record of layers
 * (`sequential({ a, b })`). Anything else is a programmer error and throws a `ValueError`.
 */
export const readChildren = (kind: string, args: ReadonlyArray<unknown>): Children => {
  const first = args[0]
  if (
    args.length === 1 &&
    !isLayer(first) &&
    typeof first === 'object' &&
    first !== null &&
    !Array.isArray(first)
  ) {
    const entries = Object.entries(first)
    const names = entries.map(([name]) => name)
    const layers = entries.map(([name, value]) => {
      if (name === '' || name.includes('.'))
        throw new T.ValueError(
          kind,
          `child name '${name}' must be non-empty and contain no '.' (names join into dotted paths)`,
        )
      if (!isLayer(value))
        throw new T.ValueError(kind, `child '${name}' is not a layer (got ${describe(value)})`)
      return asChild(value)
    })
    const pack = (values: ReadonlyArray<unknown>): unknown =>
      Object.fromEntries(names.map((name, i) => [name, values[i]]))
    return {
      names,
      layers,
      pack,
      unpack: (tree) => names.map((name) => entry(tree, name)),
      configs: packConfigs(layers, pack),
      missingConfig: firstMissing(names, layers),
    }
  }
  const layers = args.map((value, i) => {
    if (!isLayer(value))
      throw new T.ValueError(
        kind,
        `argument ${i} is not a layer (got ${describe(value)}); pass layers, or a single record of named layers`,
      )
    return asChild(value)
  })
  const pack = (values: ReadonlyArray<unknown>): unknown => [...values]
  return {
    names: layers.map((_, i) => String(i)),
    layers,
    configs: packConfigs(layers, pack),
    missingConfig: firstMissing(
      layers.map((_, i) => String(i)),
      layers,
    ),
    pack,
    unpack: (tree) => layers.map((_, i) => entry(tree, i)),
  }
}

const describe = (value: unknown): string =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : typeof value === 'object'
        ? 'an object'
        : typeof value

/**
 * Decodes a `sequential` or `parallel` config: its `layers` (an array, or a record whose names come
 * from the file) decoded one by one, then the combinator built from them.
 */
export const decodeContainer = (
  kind: 'sequential' | 'parallel',
  config: Readonly<Record<string, unknown>>,
  ctx: DecodeContext,
  make: (...args: ReadonlyArray<unknown>) => AnyLayer,
): Either<ConfigError, Layer<unknown, unknown>> => {
  const extra = Object.keys(config).filter((k) => k !== 'kind' && k !== 'layers')
  if (extra.length > 0)
    return E.left(configError(joinPath(ctx.path, extra[0]!), `is not an option of ${kind} (options: layers)`))
  const children = config['layers']
  if (Array.isArray(children)) {
    const layers: Array<Layer<unknown, unknown>> = []
    for (let i = 0; i < children.length; i++) {
      const child = ctx.child(children[i], 'layers', i)
      if (E.isLeft(child)) return child
      layers.push(child.right)
    }
    return construct(ctx.path, () => make(...layers))
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
            joinPath(joinPath(ctx.path, 'layers'), name),
            `layer name ${showValue(name)} must be non-empty and contain no '.' (names join into dotted parameter paths)`,
          ),
        )
      const child = ctx.child(c, 'layers', name)
      if (E.isLeft(child)) return child
      layers.push([name, child.right])
    }
    return construct(ctx.path, () => make(Object.fromEntries(layers)))
  }
  return E.left(
    configError(
      joinPath(ctx.path, 'layers'),
      `expected an array or a record of layer configs, got ${showValue(children)}`,
    ),
  )
}

/** The child configs of a `sequential`/`parallel` config, keyed like their params (indices or names). */
export const childEntries = (
  config: Readonly<Record<string, unknown>>,
): Array<readonly [string, unknown]> => {
  const layers = config['layers']
  return Array.isArray(layers)
    ? layers.map((c: unknown, i: number) => [String(i), c] as const)
    : typeof layers === 'object' && layers !== null
      ? Object.entries(layers)
      : []
}
