import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import { shapePreserving } from './common'

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
