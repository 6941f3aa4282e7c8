// y = x if x > 0 else α (eˣ − 1) ; composite of ops
import type { Tensor } from '@backfold/tensor'
import { greater } from '../binary/greater'
import { mul } from '../binary/mul'
import { where } from '../binary/where'
import { expm1 } from '../elementwise/expm1'
import { floatInput } from '../internal/floatInput'

/**
 * Exponential linear unit: `x` for x > 0, `alpha (exp(x) − 1)` otherwise. int32 input gives float32.
 * Gradient convention (PyTorch's): at 0 the negative branch's derivative, `alpha`.
 * @example
 * elu(tensor([-1, 0, 2])) // [-0.6321, 0, 2]
 * @since 0.1.0
 */
export const elu = (x: Tensor, alpha = 1): Tensor => {
  const xf = floatInput(x)
  const positive = greater(xf, 0)
  // The negative branch sees 0 where x > 0, so its exp cannot overflow and put ∞ · 0 = NaN into the gradient.
  return where(positive, xf, mul(expm1(where(positive, 0, xf)), alpha))
}
