import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts/lib/index.js'
import type { OnnxEmitContext } from '../onnx/context'
import { stringAttribute } from '../onnx/graph'
import { shapePreserving } from './common'
import { leafKind } from './define'

/**
 * GELU, `x · Φ(x)`, elementwise (PyTorch's `nn.GELU`): `'none'` (default) is the exact form with erf,
 * `'tanh'` the tanh approximation (PyTorch's `approximate='tanh'`).
 * @example
 * layers.sequential(layers.dense(64), layers.gelu(), layers.dense(10))
 * layers.sequential(layers.dense(64), layers.gelu('tanh'), layers.dense(10))
 * @since 0.1.0
 */
export const gelu = (approximate: 'none' | 'tanh' = 'none'): Layer<NoParams, NoState> =>
  shapePreserving(
    'gelu',
    (x) => O.gelu(x, { approximate }),
    approximate === 'none' || approximate === 'tanh'
      ? undefined
      : `approximate must be 'none' or 'tanh', got ${String(approximate)}`,
    { kind: 'gelu', approximate },
  )

/**
 * GELU from opset-17 primitives:
 * exact `½ x (1 + erf(x / √2))`, or tanh form `½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
 */
const composedGelu = (ctx: OnnxEmitContext, x: string, approximate: 'none' | 'tanh'): string => {
  const c = ctx.constant
  const inner =
    approximate === 'tanh'
      ? ctx.node('Tanh', [
          ctx.node('Mul', [
            ctx.node('Add', [
              x,
              ctx.node('Mul', [ctx.node('Mul', [ctx.node('Mul', [x, x]), x]), c(0.044715)]),
            ]),
            c(Math.sqrt(2 / Math.PI)),
          ]),
        ])
      : ctx.node('Erf', [ctx.node('Mul', [x, c(Math.SQRT1_2)])])
  return ctx.node('Mul', [ctx.node('Mul', [x, c(0.5)]), ctx.node('Add', [inner, c(1)])])
}

/** The `gelu` kind: ONNX export as Gelu (opset >= 20) or its Erf/Tanh formula. @since 0.2.0 */
export const geluKind = /* @__PURE__ */ leafKind({
  kind: 'gelu',
  required: {},
  optional: {
    approximate: /* @__PURE__ */ t.union(
      [/* @__PURE__ */ t.literal('none'), /* @__PURE__ */ t.literal('tanh')],
      "'none' or 'tanh'",
    ),
  },
  build: (f) => gelu(f['approximate'] === 'tanh' ? 'tanh' : 'none'),
  onnx: {
    emit: (ctx) => {
      const approximate = ctx.config['approximate'] ?? 'none'
      if (approximate !== 'none' && approximate !== 'tanh')
        return ctx.fail(`config.approximate must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`)
      if (ctx.opset >= 20) return ctx.unary('Gelu', [stringAttribute('approximate', approximate)])
      return E.map((x: { readonly name: string }) => ({
        ...ctx.input,
        name: composedGelu(ctx, x.name, approximate),
      }))(ctx.float())
    },
  },
})
