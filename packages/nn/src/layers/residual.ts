import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Layer } from '../layer'
import { layerError } from '../layer'
import type { AnyLayer, LayerParams, LayerState } from './common'
import { asChild } from './common'
import { missingConfigOf } from './container'
import type { LayerConfig, JsonValue } from '../layer'
import { configError, joinPath } from '../config/error'
import { construct, type LayerKind } from './define'
import { formatDims, type OnnxExport } from '../onnx/context'

/**
 * A skip connection, `x + body(x)` (He et al. 2016). Its params and state ARE the body's (no extra
 * naming level), so errors inside the body keep the body's own path. `init` rejects a body whose
 * output shape differs from its input shape, naming both.
 * @example
 * import { layers } from '@backfold/nn'
 * const block = layers.residual(layers.sequential(layers.dense(64), layers.relu(), layers.dense(64))) // on [64] inputs
 * @since 0.1.0
 */
export const residual = <L extends AnyLayer>(body: L): Layer<LayerParams<L>, LayerState<L>> => {
  const kind = 'residual'
  const child = asChild(body)
  const layer: Layer<unknown, unknown> = {
    kind,
    config: child.config === undefined ? undefined : { kind, body: child.config },
    // The residual adds no naming level, so the body's path is its own.
    missingConfig: child.config === undefined ? missingConfigOf(child) : undefined,
    init: (key, inShape) => {
      const result = child.init(key, inShape)
      if (E.isLeft(result)) return result
      const outShape = result.right.outShape
      if (!T.shapesEqual(outShape, inShape))
        return E.left(
          layerError(
            kind,
            `the body (${child.kind}) maps the input ${T.fmtShape(inShape)} to ${T.fmtShape(outShape)}; ` +
              `x + body(x) needs the output shape to equal the input shape`,
          ),
        )
      return result
    },
    apply: (params, state, x, ctx) => {
      const [y, nextState] = child.apply(params, state, x, ctx)
      return [O.add(x, y), nextState]
    },
  }
  // Safe: the body's own params/state pass through unchanged.
  return layer as Layer<LayerParams<L>, LayerState<L>>
}

/** The config of a `residual`: its body's config. @since 0.2.0 */
export interface ResidualConfig extends LayerConfig {
  readonly kind: 'residual'
  readonly body: JsonValue
}

/** The `residual` kind: exported as the body then Add. @since 0.2.0 */
export const residualKind: LayerKind<'residual'> & { readonly onnx: OnnxExport } = {
  kind: 'residual',
  decode: (config, ctx) => {
    const extra = Object.keys(config).filter((k) => k !== 'kind' && k !== 'body')
    if (extra.length > 0)
      return E.left(
        configError(joinPath(ctx.path, extra[0]!), `is not an option of residual (options: body)`),
      )
    return E.chain((body: Layer<unknown, unknown>) => construct(ctx.path, () => residual(body)))(
      ctx.child(config['body'], 'body'),
    )
  },
  allocation: (config, inShape, child) =>
    child(config['body'], inShape) === undefined ? undefined : { size: 0, outShape: inShape },
  onnx: {
    emit: (ctx) => {
      const x = ctx.input
      // The residual adds no naming level: its params and state are the body's.
      const out = ctx.child(ctx.config['body'], undefined, x)
      if (E.isLeft(out)) return out
      const y = out.right
      const known = (d: unknown): d is number => typeof d === 'number'
      const clash =
        y.shape.length !== x.shape.length ||
        y.shape.some((d, i) => known(d) && known(x.shape[i]) && d !== x.shape[i])
      if (clash)
        return ctx.fail(
          `the body maps ${formatDims(x.shape)} to ${formatDims(y.shape)}; x + body(x) needs equal shapes`,
        )
      return E.right({ ...x, name: ctx.node('Add', [x.name, y.name]) })
    },
    inputElem: (config, first) => first(config['body']),
  },
}
