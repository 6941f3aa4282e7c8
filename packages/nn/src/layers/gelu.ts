import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import { shapePreserving } from './common'

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
