import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import { shapePreserving } from './common'
import { leafKind } from './define'

/**
 * Logistic sigmoid, `1 / (1 + e^{−x})`, elementwise and stable for large |x| (PyTorch's `nn.Sigmoid`).
 * @example
 * layers.sequential(layers.dense(1), layers.sigmoid())
 * @since 0.1.0
 */
export const sigmoid = (): Layer<NoParams, NoState> => shapePreserving('sigmoid', O.sigmoid)

/** The `sigmoid` kind: ONNX export as Sigmoid. @since 0.2.0 */
export const sigmoidKind = /* @__PURE__ */ leafKind({
  kind: 'sigmoid',
  required: {},
  optional: {},
  build: () => sigmoid(),
  onnx: { emit: (ctx) => ctx.unary('Sigmoid') },
})
