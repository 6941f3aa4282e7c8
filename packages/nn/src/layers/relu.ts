import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import { shapePreserving } from './common'

/**
 * Rectified linear unit, `max(x, 0)`, elementwise (PyTorch's `nn.ReLU`; relu'(0) = 0). Right after a
 * `dense` layer, `dense(n, { activation: 'relu' })` gives the same values and gradients in one fused op.
 * @example
 * layers.sequential(layers.dense(64), layers.relu(), layers.dense(10))
 * @since 0.1.0
 */
export const relu = (): Layer<NoParams, NoState> => shapePreserving('relu', O.relu)
