import * as T from '@backfold/tensor'
import type { AnyLayer, ChildLayer, LayerParams, LayerState } from './common'
import { asChild, isLayer } from './common'
import type { JsonValue } from '../layer'

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
