import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import * as E from 'fp-ts/lib/Either.js'
import * as F from '../config/fields'
import { floatAttribute } from '../onnx/graph'
import { shapePreserving } from './common'
import { leafKind } from './define'

/**
 * ELU, `x` for x > 0 and `alpha · (eˣ − 1)` otherwise, elementwise (PyTorch's `nn.ELU`, default alpha 1).
 * @example
 * layers.sequential(layers.dense(64), layers.elu(), layers.dense(10))
 * @since 0.1.0
 */
export const elu = (alpha = 1): Layer<NoParams, NoState> =>
  shapePreserving(
    'elu',
    (x) => O.elu(x, alpha),
    Number.isFinite(alpha) ? undefined : `alpha must be a finite number, got ${String(alpha)}`,
    { kind: 'elu', alpha },
  )

/** The `elu` kind: ONNX export as Elu. @since 0.2.0 */
export const eluKind = /* @__PURE__ */ leafKind({
  kind: 'elu',
  required: {},
  optional: { alpha: F.finite },
  build: (f) => elu(f['alpha'] === undefined ? 1 : (f['alpha'] as number)),
  onnx: {
    emit: (ctx) =>
      E.chain((v: number) => ctx.unary('Elu', [floatAttribute('alpha', v)]))(ctx.number('alpha', 1)),
  },
})
