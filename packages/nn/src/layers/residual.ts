import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Layer } from '../layer'
import { layerError } from '../layer'
import type { AnyLayer, LayerParams, LayerState } from './common'
import { asChild } from './common'

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
