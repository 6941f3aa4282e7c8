import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Shape } from '@backfold/tensor'
import type { Layer } from '../layer'
import { layerError } from '../layer'
import type { AnyLayer } from './common'
import { childContext, splitKey, underName } from './common'
import type { LayerRecord, ParamsRecord, ParamsTuple, StateRecord, StateTuple } from './container'
import { childEntries, decodeContainer, readChildren } from './container'
import type { LayerConfig, JsonValue } from '../layer'
import type { LayerKind } from './define'
import { formatDims, type OnnxExport, type OnnxValue } from '../onnx/context'
import { intAttribute } from '../onnx/graph'

/**
 * Branches applied to the SAME input, their outputs concatenated along the feature axis 1 (the
 * first per-example axis: features of `[N, F]`, channels of `[N, C, H, W]`), as an Inception block
 * or a DenseNet-style concatenation. Every branch must give the same per-example shape except in
 * its first dimension; the result's first dimension is their sum.
 *
 * Params and state are arrays (`parallel(a, b)`, names `0.weight`) or records (`parallel({ left: a,
 * right: b })`, names `left.weight`), exactly as for `sequential`; keys are split the same way.
 * @example
 * import { layers } from '@backfold/nn'
 * const wide = layers.sequential(layers.parallel(layers.dense(32), layers.sequential(layers.dense(32), layers.relu())), layers.dense(10)) // concat → [64]
 * @since 0.1.0
 */
export function parallel<const Ls extends ReadonlyArray<AnyLayer>>(
  ...layers: Ls
): Layer<ParamsTuple<Ls>, StateTuple<Ls>>
export function parallel<const R extends LayerRecord>(layers: R): Layer<ParamsRecord<R>, StateRecord<R>>
export function parallel(...args: ReadonlyArray<unknown>): AnyLayer {
  const kind = 'parallel'
  const { names, layers, pack, unpack, configs, missingConfig } = readChildren(kind, args)
  const describe = (i: number): string => `branch '${names[i]!}' (${layers[i]!.kind})`
  const layer: Layer<unknown, unknown> = {
    kind,
    config: configs === undefined ? undefined : { kind, layers: configs },
    missingConfig,
    init: (key, inShape) => {
      if (layers.length === 0) return E.left(layerError(kind, 'needs at least one branch'))
      const keys = splitKey(key, layers.length)
      const params: unknown[] = []
      const states: unknown[] = []
      const shapes: Shape[] = []
      for (let i = 0; i < layers.length; i++) {
        const result = layers[i]!.init(keys[i]!, inShape)
        if (E.isLeft(result)) return E.left(underName(names[i]!)(result.left))
        const outShape = result.right.outShape
        if (outShape.length === 0)
          return E.left(
            layerError(
              kind,
              `${describe(i)} gives scalar examples ${T.fmtShape(outShape)}; concatenation along the feature axis needs rank >= 1`,
            ),
          )
        const first = shapes[0]
        if (first !== undefined && !T.shapesEqual(first.slice(1), outShape.slice(1)))
          return E.left(
            layerError(
              kind,
              `${describe(0)} gives ${T.fmtShape(first)} but ${describe(i)} gives ${T.fmtShape(outShape)} ` +
                `for the input ${T.fmtShape(inShape)}; branches must agree on every dimension but the first (the concatenation axis)`,
            ),
          )
        shapes.push(outShape)
        params.push(result.right.params)
        states.push(result.right.state)
      }
      const features = shapes.reduce((n, s) => n + s[0]!, 0)
      return E.right({
        params: pack(params),
        state: pack(states),
        outShape: [features, ...shapes[0]!.slice(1)],
      })
    },
    apply: (params, state, x, ctx) => {
      const childParams = unpack(params)
      const childStates = unpack(state)
      const keys = ctx.key === undefined ? undefined : splitKey(ctx.key, layers.length)
      const outputs = layers.map((layer, i) =>
        layer.apply(childParams[i], childStates[i], x, childContext(ctx, keys?.[i])),
      )
      return [
        O.concat(
          outputs.map(([y]) => y),
          { axis: 1 },
        ),
        pack(outputs.map(([, s]) => s)),
      ]
    },
  }
  return layer
}

/** The config of a `parallel`: its branches' configs, as an array or a record. @since 0.2.0 */
export interface ParallelConfig extends LayerConfig {
  readonly kind: 'parallel'
  readonly layers: ReadonlyArray<JsonValue> | { readonly [name: string]: JsonValue }
}

/** The `parallel` kind: exported as its branches then Concat (axis 1). @since 0.2.0 */
export const parallelKind: LayerKind<'parallel'> & { readonly onnx: OnnxExport } = {
  kind: 'parallel',
  decode: (config, ctx) =>
    decodeContainer('parallel', config, ctx, parallel as (...a: ReadonlyArray<unknown>) => AnyLayer),
  // Every branch sees the input; outputs are concatenated along their first axis.
  allocation: (config, inShape, child) => {
    const outs = childEntries(config).map(([, c]) => child(c, inShape))
    const first = outs[0]
    if (first === undefined || outs.some((o) => o === undefined || o.length === 0)) return undefined
    return { size: 0, outShape: [outs.reduce((n, o) => n + (o?.[0] ?? 0), 0), ...first.slice(1)] }
  },
  onnx: {
    emit: (ctx) => {
      const children = childEntries(ctx.config)
      if (children.length === 0)
        return ctx.fail('config.layers must be a non-empty array or record of layer configs')
      const outs: OnnxValue[] = []
      for (const [key, c] of children) {
        const out = ctx.child(c, key, ctx.input)
        if (E.isLeft(out)) return out
        const first = outs[0]
        if (
          out.right.shape.length === 0 ||
          (first !== undefined && first.shape.length !== out.right.shape.length)
        )
          return ctx.fail(
            `branch '${key}' gives ${formatDims(out.right.shape)}; branches must have the same rank >= 1 to concatenate along axis 1`,
          )
        if (first !== undefined && first.elem !== out.right.elem)
          return ctx.fail(`branch '${key}' gives ${out.right.elem} values, branch 0 ${first.elem}`)
        outs.push(out.right)
      }
      const firstDims = outs.map((o) => o.shape[0] ?? null)
      const features = firstDims.every((d): d is number => typeof d === 'number')
        ? firstDims.reduce((n, d) => n + d, 0)
        : null
      const name = ctx.node(
        'Concat',
        outs.map((o) => o.name),
        [intAttribute('axis', 1)],
      )
      return E.right({ name, shape: [features, ...outs[0]!.shape.slice(1)], elem: outs[0]!.elem })
    },
    inputElem: (config, first) => {
      const [c] = childEntries(config)
      return c === undefined ? 'float' : first(c[1])
    },
  },
}
