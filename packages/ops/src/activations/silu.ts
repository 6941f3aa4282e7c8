// y = x σ(x) ; composite of ops
import type { Tensor } from '@backfold/tensor'
import { mul } from '../binary/mul'
import { sigmoid } from '../elementwise/sigmoid'

/**
 * Sigmoid linear unit (swish), `x σ(x)`; finite with a finite gradient at any magnitude.
 * int32 input gives float32.
 * @example
 * silu(tensor([0, 1])) // [0, 0.7311]
 * @since 0.1.0
 */
export const silu = (x: Tensor): Tensor => mul(x, sigmoid(x))
