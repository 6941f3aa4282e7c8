import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Shape } from '@backfold/tensor'
import type { Layer } from '../layer'
import { layerError } from '../layer'
import type { AnyLayer } from './common'
import { childContext, splitKey, underName } from './common'
import type { LayerRecord, ParamsRecord, ParamsTuple, StateRecord, StateTuple } from './container'
import { readChildren } from './container'

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
  const { names, layers, pack, unpack, configs } = readChildren(kind, args)
  const describe = (i: number): string => `branch '${names[i]!}' (${layers[i]!.kind})`
  const layer: Layer<unknown, unknown> = {
    kind,
    config: configs === undefined ? undefined : { kind, layers: configs },
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
