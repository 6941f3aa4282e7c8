import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import { shapePreserving } from './common'

/**
 * Logistic sigmoid, `1 / (1 + e^{−x})`, elementwise and stable for large |x| (PyTorch's `nn.Sigmoid`).
 * @example
 * layers.sequential(layers.dense(1), layers.sigmoid())
 * @since 0.1.0
 */
export const sigmoid = (): Layer<NoParams, NoState> => shapePreserving('sigmoid', O.sigmoid)
