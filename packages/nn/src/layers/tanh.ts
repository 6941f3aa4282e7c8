import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import { shapePreserving } from './common'

/**
 * Hyperbolic tangent, elementwise (PyTorch's `nn.Tanh`).
 * @example
 * sequential(dense(64), tanh(), dense(10))
 * @since 0.1.0
 */
export const tanh = (): Layer<NoParams, NoState> => shapePreserving('tanh', O.tanh)
