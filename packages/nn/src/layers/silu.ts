import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import * as E from 'fp-ts/lib/Either.js'
import { shapePreserving } from './common'
import { leafKind } from './define'

/**
 * SiLU (swish), `x · σ(x)`, elementwise (PyTorch's `nn.SiLU`).
 * @example
 * layers.sequential(layers.dense(64), layers.silu(), layers.dense(10))
 * @since 0.1.0
 */
export const silu = (): Layer<NoParams, NoState> => shapePreserving('silu', O.silu)

/** The `silu` kind: ONNX export as x · Sigmoid(x). @since 0.2.0 */
export const siluKind = /* @__PURE__ */ leafKind({
  kind: 'silu',
  required: {},
  optional: {},
  build: () => silu(),
  onnx: {
    emit: (ctx) =>
      E.map((x: { readonly name: string }) => ({
        ...ctx.input,
        name: ctx.node('Mul', [x.name, ctx.node('Sigmoid', [x.name])]),
      }))(ctx.float()),
  },
})
