import type { Tensor } from '@backfold/tensor'
import { astype } from '../elementwise/astype'

/**
 * `x` as a float tensor: int32 becomes float32 (the rule for real-valued functions), so constants
 * such as a leaky slope are not truncated to int32 by weak typing. Float input is returned as is.
 * @since 0.1.0
 */
export const floatInput = (x: Tensor): Tensor => (x.dtype === 'int32' ? astype(x, 'float32') : x)
