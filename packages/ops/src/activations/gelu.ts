// y = x Φ(x) = ½ x (1 + erf(x/√2)), or ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))) ; composite of ops
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { add } from '../binary/add'
import { mul } from '../binary/mul'
import { erf } from '../elementwise/erf'
import { square } from '../elementwise/square'
import { tanh } from '../elementwise/tanh'
import { checkOptions, option, optionSchema } from '../core/options'
import { floatInput } from '../internal/floatInput'

/** Options of `gelu`. @since 0.1.0 */
export interface GeluOptions {
  /** 'none' (default): the exact form with erf; 'tanh': the tanh approximation of GPT-2 and BERT. */
  readonly approximate?: 'none' | 'tanh'
}

const GELU_OPTIONS = optionSchema({ approximate: option.oneOf('none', 'tanh') })

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI)

/**
 * Gaussian error linear unit, `x Φ(x)` with Φ the standard normal CDF (Hendrycks and Gimpel, 2016).
 * `approximate: 'tanh'` gives the tanh form PyTorch calls `gelu(x, approximate='tanh')`.
 * A composite of ops, so it is differentiable to any order. int32 input gives float32.
 * @example
 * gelu(tensor([-1, 0, 1])) // [-0.1587, 0, 0.8413]
 * gelu(tensor([1]), { approximate: 'tanh' }) // [0.8412]
 * @throws ValueError for an unknown option or `approximate`.
 * @since 0.1.0
 */
export const gelu = (x: Tensor, opts: GeluOptions = {}): Tensor => {
  checkOptions('gelu', opts, GELU_OPTIONS)
  const approximate = opts.approximate ?? 'none'
  const xf = floatInput(x)
  const halfX = mul(xf, 0.5)
  switch (approximate) {
    case 'none':
      return mul(halfX, add(1, erf(mul(xf, Math.SQRT1_2))))
    case 'tanh': {
      const inner = mul(add(xf, mul(mul(xf, square(xf)), 0.044715)), SQRT_2_OVER_PI)
      return mul(halfX, add(1, tanh(inner)))
    }
    default:
      throw new T.ValueError(
        'gelu',
        `approximate is ${String(approximate)} (x of shape ${T.fmtShape(x.shape)}); expected 'none' or 'tanh'`,
      )
  }
}
