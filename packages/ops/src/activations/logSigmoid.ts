// y = log σ(x) = −softplus(−x) ; composite, so x̄ = ȳ σ(−x) comes from softplus's VJP
import type { Tensor } from '@backfold/tensor'
import { neg } from '../elementwise/neg'
import { softplus } from '../elementwise/softplus'

/**
 * Log of the logistic sigmoid, `−softplus(−x)`: stable at any magnitude (logSigmoid(−1000) is
 * −1000, not −∞; logSigmoid(1000) is 0) and so is its gradient σ(−x). int32 input gives float32.
 * @example
 * logSigmoid(tensor([0, -1000])) // [-0.6931, -1000]
 * @since 0.1.0
 */
export const logSigmoid = (x: Tensor): Tensor => neg(softplus(neg(x)))
