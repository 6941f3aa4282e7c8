// y = x if x > 0 else slope · x ; composite of ops
import type { Tensor } from '@backfold/tensor'
import { greater } from '../binary/greater'
import { mul } from '../binary/mul'
import { where } from '../binary/where'
import { floatInput } from '../internal/floatInput'

/**
 * Leaky rectified linear unit: `x` for x > 0, `slope · x` otherwise. int32 input gives float32.
 * Gradient convention (PyTorch's): at 0 the gradient is `slope`.
 * @example
 * leakyRelu(tensor([-2, 3]), 0.1) // [-0.2, 3]
 * @since 0.1.0
 */
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => {
  const xf = floatInput(x)
  return where(greater(xf, 0), xf, mul(xf, slope))
}
