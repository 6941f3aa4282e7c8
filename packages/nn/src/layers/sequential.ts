import * as E from 'fp-ts/lib/Either.js'
import type { Layer } from '../layer'
import type { AnyLayer } from './common'
import { childContext, splitKey, underName } from './common'
import type { LayerRecord, ParamsRecord, ParamsTuple, StateRecord, StateTuple } from './container'
import { childEntries, decodeContainer, readChildren } from './container'
import type { LayerConfig, JsonValue } from '../layer'
import type { LayerKind } from './define'
import type { OnnxExport, OnnxValue } from '../onnx/context'

/**
 * Layers applied one after another; each child's `init` gets the previous one's output shape, so a
 * badly wired network is rejected before any data flows, with the path of the failing child
 * (`'2 (dense)'`, or `'body.2 (dense)'` when this sequential is itself the child `body`).
 *
 * - `sequential(a, b, c)`: params and state are ARRAYS, one entry per layer (names `0.weight`,
 *   `2.bias`), typed as the tuple of the children's types.
 * - `sequential({ features: a, head: b })`: params and state are RECORDS (names `features.weight`).
 *
 * The init key is split into one key per child, and so is `ctx.key` in `apply` (when present), so
 * every dropout draws its own mask.
 * @example
 * import { layers } from '@backfold/nn'
 * const mlp = layers.sequential(layers.dense(64), layers.relu(), layers.dense(10))
 * // params: readonly [DenseParams, NoParams, DenseParams]
 * const named = layers.sequential({ hidden: layers.dense(64), act: layers.relu(), out: layers.dense(10) })
 * // params: { hidden: DenseParams, act: NoParams, out: DenseParams }
 * @since 0.1.0
 */
export function sequential<const Ls extends ReadonlyArray<AnyLayer>>(
  ...layers: Ls
): Layer<ParamsTuple<Ls>, StateTuple<Ls>>
export function sequential<const R extends LayerRecord>(layers: R): Layer<ParamsRecord<R>, StateRecord<R>>
export function sequential(...args: ReadonlyArray<unknown>): AnyLayer {
  const kind = 'sequential'
  const { names, layers, pack, unpack, configs, missingConfig } = readChildren(kind, args)
  const layer: Layer<unknown, unknown> = {
    kind,
    config: configs === undefined ? undefined : { kind, layers: configs },
    missingConfig,
    init: (key, inShape) => {
      const keys = splitKey(key, layers.length)
      const params: unknown[] = []
      const states: unknown[] = []
      let shape = inShape
      for (let i = 0; i < layers.length; i++) {
        const result = layers[i]!.init(keys[i]!, shape)
        if (E.isLeft(result)) return E.left(underName(names[i]!)(result.left))
        params.push(result.right.params)
        states.push(result.right.state)
        shape = result.right.outShape
      }
      return E.right({ params: pack(params), state: pack(states), outShape: shape })
    },
    apply: (params, state, x, ctx) => {
      const childParams = unpack(params)
      const childStates = unpack(state)
      const keys = ctx.key === undefined ? undefined : splitKey(ctx.key, layers.length)
      const nextStates: unknown[] = []
      let y = x
      for (let i = 0; i < layers.length; i++) {
        const [out, nextState] = layers[i]!.apply(
          childParams[i],
          childStates[i],
          y,
          childContext(ctx, keys?.[i]),
        )
        y = out
        nextStates.push(nextState)
      }
      return [y, pack(nextStates)]
    },
  }
  return layer
}

/** The config of a `sequential`: its children's configs, as an array or a record. @since 0.2.0 */
export interface SequentialConfig extends LayerConfig {
  readonly kind: 'sequential'
  readonly layers: ReadonlyArray<JsonValue> | { readonly [name: string]: JsonValue }
}

/**
 * The `sequential` kind: children decoded with every registered kind, exported one after another,
 * sized child by child.
 * @since 0.2.0
 */
export const sequentialKind: LayerKind<'sequential'> & { readonly onnx: OnnxExport } = {
  kind: 'sequential',
  decode: (config, ctx) =>
    decodeContainer('sequential', config, ctx, sequential as (...a: ReadonlyArray<unknown>) => AnyLayer),
  allocation: (config, inShape, child) => {
    let shape: ReadonlyArray<number> | undefined = inShape
    for (const [, c] of childEntries(config)) if (shape !== undefined) shape = child(c, shape)
    return shape === undefined ? undefined : { size: 0, outShape: shape }
  },
  onnx: {
    emit: (ctx) => {
      const children = childEntries(ctx.config)
      if (children.length === 0)
        return ctx.fail('config.layers must be a non-empty array or record of layer configs')
      let current: OnnxValue = ctx.input
      for (const [key, c] of children) {
        const out = ctx.child(c, key, current)
        if (E.isLeft(out)) return out
        current = out.right
      }
      return E.right(current)
    },
    // Layers that pass their input on (dropout, flatten) leave the choice to the next one.
    inputElem: (config, first) => {
      for (const [, c] of childEntries(config)) {
        const elem = first(c)
        if (elem !== 'pass') return elem
      }
      return 'pass'
    },
  },
}
