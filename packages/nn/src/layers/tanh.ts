import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import { shapePreserving } from './common'
import { leafKind } from './define'

/**
 * Hyperbolic tangent, elementwise (PyTorch's `nn.Tanh`).
 * @example
 * layers.sequential(layers.dense(64), layers.tanh(), layers.dense(10))
 * @since 0.1.0
 */
export const tanh = (): Layer<NoParams, NoState> => shapePreserving('tanh', O.tanh)

/** The `tanh` kind: ONNX export as Tanh. @since 0.2.0 */
export const tanhKind = /* @__PURE__ */ leafKind({
  kind: 'tanh',
  required: {},
  optional: {},
  build: () => tanh(),
  onnx: { emit: (ctx) => ctx.unary('Tanh') },
})
