import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import { shapePreserving } from './common'

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
