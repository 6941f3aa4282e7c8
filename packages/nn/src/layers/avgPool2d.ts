import * as O from '@backfold/ops'
import type { Pool2dOptions } from '@backfold/tensor'
import type { Layer, NoParams, NoState } from '../layer'
import { initPool2d, pool2dKind } from './pool2d'
import { POOL2D_LAYER_OPTIONS, checkLayerOptions, configOf } from './common'

/**
 * 2-D average pooling over NCHW batches (PyTorch's `nn.AvgPool2d`): per-example `[C, H, W]` →
 * `[C, H', W']`. `stride` defaults to `kernelSize`; padded positions count in the divisor
 * (PyTorch's default `count_include_pad=True`).
 * @example
 * layers.avgPool2d({ kernelSize: 2 }).init(T.random.key(0), [8, 28, 28]) // outShape [8, 14, 14]
 * @since 0.1.0
 */
export const avgPool2d = (opts: Pool2dOptions): Layer<NoParams, NoState> => {
  checkLayerOptions('avgPool2d', opts, POOL2D_LAYER_OPTIONS)
  return {
    kind: 'avgPool2d',
    config: configOf('avgPool2d', { ...opts }),
    init: (_key, inShape) => initPool2d('avgPool2d', inShape, opts),
    apply: (_params, state, x) => [O.avgPool2d(x, opts), state],
  }
}

/** The `avgPool2d` kind: config fields and ONNX export. @since 0.2.0 */
export const avgPool2dKind = /* @__PURE__ */ pool2dKind('avgPool2d', avgPool2d)
