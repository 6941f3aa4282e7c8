/**
 * Walks a model's config together with its params and state, asking each layer's kind (the
 * `layers` option: built-in kinds by default) for its ONNX subgraph. A combinator's params are an
 * array or record mirroring its config's `layers`; a residual's are its body's. Internal to the
 * exporter.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import type { LayerConfig } from '../layer'
import type { LayerKind } from '../layers/define'
import { builtinKinds, type BuiltinKind } from '../layers/builtins'
import { onnxError, type OnnxError } from './error'
import type { GraphBuilder } from './graph'
import { makeContext, type OnnxValue } from './context'

// Why the cast: Object.keys of the typed map lists exactly its keys.
const keysOf = (map: typeof builtinKinds): ReadonlyArray<BuiltinKind> =>
  Object.freeze(Object.keys(map) as BuiltinKind[])

/**
 * The built-in layer kinds `exportOnnx` knows (every one). Custom kinds export through their
 * `defineLayer` emitter, passed in the `layers` option.
 * @deprecated since 0.2.0: every built-in kind exports; see `builtinKinds`.
 * @since 0.1.0
 */
export const exportableKinds: ReadonlyArray<BuiltinKind> = /* @__PURE__ */ keysOf(builtinKinds)

/** `value` as a layer config when it is an object with a string `kind`. */
export const layerConfig = (value: unknown): LayerConfig | undefined =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  'kind' in value &&
  typeof value.kind === 'string'
    ? // An object with a string kind whose other fields are JSON: what LayerConfig describes.
      (value as LayerConfig)
    : undefined

/** What every emitter shares: the graph under construction, the target operator set, the kinds. */
export interface EmitContext {
  readonly graph: GraphBuilder
  readonly opset: number
  readonly kinds: ReadonlyMap<string, LayerKind>
}

/** The element type the model's first consumer of the input expects: int32 for an embedding. */
export const inputElem = (kinds: ReadonlyMap<string, LayerKind>, config: unknown): 'float' | 'int32' => {
  const first = (c: unknown): 'float' | 'int32' | 'pass' => {
    const lc = layerConfig(c)
    const onnx = lc === undefined ? undefined : kinds.get(lc.kind)?.onnx
    return lc === undefined || onnx?.inputElem === undefined ? 'float' : onnx.inputElem(lc, first)
  }
  const elem = first(config)
  return elem === 'pass' ? 'float' : elem
}

const where = (keys: ReadonlyArray<string>, kind: string): string =>
  keys.length === 0 ? kind : `${keys.join('.')} (${kind})`

/** Emits `config`'s layer on input `x`, returning its output. */
export const emitLayer = (
  ctx: EmitContext,
  config: unknown,
  params: unknown,
  state: unknown,
  x: OnnxValue,
  keys: ReadonlyArray<string>,
): Either<OnnxError, OnnxValue> => {
  const c = layerConfig(config)
  if (c === undefined)
    return E.left(
      onnxError(
        where(keys, '?'),
        `expected a layer config (an object with a string "kind"), got ${JSON.stringify(config)}`,
      ),
    )
  const kind = ctx.kinds.get(c.kind)
  if (kind?.onnx === undefined) {
    const exportable = [...ctx.kinds.values()].filter((k) => k.onnx !== undefined).map((k) => k.kind)
    return E.left(
      onnxError(
        where(keys, c.kind),
        kind === undefined
          ? `layer kind '${c.kind}' has no ONNX export: it is not among the kinds of the layers option; ` +
              `define it with defineLayer (with an onnx emitter) and export with { layers: [...builtinLayers, ${c.kind}Kind] }` +
              ` (exportable kinds: ${exportable.join(', ')})`
          : `layer kind '${c.kind}' has no ONNX export: its defineLayer has no onnx emitter; add one ` +
              `(onnx: (ctx, options) => ..., see docs/custom-layers.md) (exportable kinds: ${exportable.join(', ')})`,
      ),
    )
  }
  return kind.onnx.emit(
    makeContext({
      graph: ctx.graph,
      opset: ctx.opset,
      config: c,
      params,
      state,
      input: x,
      keys,
      emitChild: (childConfig, childParams, childState, input, childKeys) =>
        emitLayer(ctx, childConfig, childParams, childState, input, childKeys),
    }),
  )
}
