import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import * as E from 'fp-ts/lib/Either.js'
import * as F from '../config/fields'
import { floatAttribute } from '../onnx/graph'
import { shapePreserving } from './common'
import { leafKind } from './define'

/**
 * Leaky ReLU, `x` for x > 0 and `slope · x` otherwise, elementwise (PyTorch's `nn.LeakyReLU`,
 * default slope 0.01).
 * @example
 * layers.sequential(layers.dense(64), layers.leakyRelu(0.2), layers.dense(10))
 * @since 0.1.0
 */
export const leakyRelu = (slope = 0.01): Layer<NoParams, NoState> =>
  shapePreserving(
    'leakyRelu',
    (x) => O.leakyRelu(x, slope),
    Number.isFinite(slope) ? undefined : `slope must be a finite number, got ${String(slope)}`,
    { kind: 'leakyRelu', slope },
  )

/** The `leakyRelu` kind: ONNX export as LeakyRelu. @since 0.2.0 */
export const leakyReluKind = /* @__PURE__ */ leafKind({
  kind: 'leakyRelu',
  required: {},
  optional: { slope: F.finite },
  build: (f) => leakyRelu(f['slope'] === undefined ? 0.01 : (f['slope'] as number)),
  onnx: {
    emit: (ctx) =>
      E.chain((v: number) => ctx.unary('LeakyRelu', [floatAttribute('alpha', v)]))(ctx.number('slope', 0.01)),
  },
})
