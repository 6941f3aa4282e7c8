import * as O from '@backfold/ops'
import type { Layer, NoParams, NoState } from '../layer'
import { shapePreserving } from './common'

/**
 * SiLU (swish), `x · σ(x)`, elementwise (PyTorch's `nn.SiLU`).
 * @example
 * layers.sequential(layers.dense(64), layers.silu(), layers.dense(10))
 * @since 0.1.0
 */
export const silu = (): Layer<NoParams, NoState> => shapePreserving('silu', O.silu)
