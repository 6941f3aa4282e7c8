import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import { shapePreserving } from './common'
import { registerRelu } from './fusion'

/**
 * Rectified linear unit, `max(x, 0)`, elementwise (PyTorch's `nn.ReLU`; relu'(0) = 0). Right after a
 * `dense` layer in a `sequential`, both run as one fused op (same values and gradients).
 * @example
 * sequential(dense(64), relu(), dense(10))
 * @since 0.1.0
 */
export const relu = (): Layer<NoParams, NoState> => registerRelu(shapePreserving('relu', O.relu))
