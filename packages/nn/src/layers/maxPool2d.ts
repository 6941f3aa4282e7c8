import * as O from '@backfold/ops'
import type { Pool2dOptions } from '@backfold/tensor'
import type { Layer, NoParams, NoState } from '../layer'
import { initPool2d, pool2dKind } from './pool2d'
import { POOL2D_LAYER_OPTIONS, checkLayerOptions, configOf } from './common'

/**
 * 2-D max pooling over NCHW batches (PyTorch's `nn.MaxPool2d`): per-example `[C, H, W]` →
 * `[C, H', W']`. `kernelSize` is required; `stride` defaults to `kernelSize`; padded positions
 * never win. The gradient goes to the first maximum of each window.
 * @example
 * layers.maxPool2d({ kernelSize: 2 }).init(T.random.key(0), [8, 28, 28]) // outShape [8, 14, 14]
 * @since 0.1.0
 */
export const maxPool2d = (opts: Pool2dOptions): Layer<NoParams, NoState> => {
  checkLayerOptions('maxPool2d', opts, POOL2D_LAYER_OPTIONS)
  return {
    kind: 'maxPool2d',
    config: configOf('maxPool2d', { ...opts }),
    init: (_key, inShape) => initPool2d('maxPool2d', inShape, opts),
    apply: (_params, state, x) => [O.maxPool2d(x, opts), state],
  }
}

/** The `maxPool2d` kind: config fields and ONNX export. @since 0.2.0 */
export const maxPool2dKind = /* @__PURE__ */ pool2dKind('maxPool2d', maxPool2d)
