import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import { shapePreserving } from './common'
import { leafKind } from './define'

/**
 * Rectified linear unit, `max(x, 0)`, elementwise (PyTorch's `nn.ReLU`; relu'(0) = 0). Right after a
 * `dense` layer, `dense(n, { activation: 'relu' })` gives the same values and gradients in one fused op.
 * @example
 * layers.sequential(layers.dense(64), layers.relu(), layers.dense(10))
 * @since 0.1.0
 */
export const relu = (): Layer<NoParams, NoState> => shapePreserving('relu', O.relu)

/** The `relu` kind: ONNX export as Relu. @since 0.2.0 */
export const reluKind = /* @__PURE__ */ leafKind({
  kind: 'relu',
  required: {},
  optional: {},
  build: () => relu(),
  onnx: { emit: (ctx) => ctx.unary('Relu') },
})
