// var = Σ_axes (x − mean x)² / (n − ddof), a composite of differentiable ops
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { div } from '../binary/div'
import { sub } from '../binary/sub'
import { square } from '../elementwise/square'
import { mean } from './mean'
import { checkOptions, option, optionSchema } from '../core/options'
import { reducedCount, type ReduceOptions } from '../internal/reduceParams'
import { sum } from './sum'

/** Options of `variance`: the reduction options plus the delta degrees of freedom. @since 0.1.0 */
export interface VarianceOptions extends ReduceOptions {
  /** The divisor is `n − ddof` (default 0: the population variance; 1 gives the unbiased estimate). */
  readonly ddof?: number | undefined
}

const VARIANCE_OPTIONS = optionSchema({ axis: option.axes, keepDims: option.boolean, ddof: option.number })

/**
 * Variance over `axis` (default all), NumPy's `var`: mean squared deviation from the mean, divided
 * by `n − ddof`. Two passes (deviations first), so it stays accurate for data with a large mean.
 * When `n − ddof <= 0` the result is Infinity or NaN, as in NumPy and PyTorch.
 * @example
 * variance(tensor([1, 2, 3, 4]))              // 1.25
 * variance(tensor([1, 2, 3, 4]), { ddof: 1 }) // 1.6667
 * @throws ValueError for an unknown option, a bad axis or a negative or non-finite `ddof`.
 * @since 0.1.0
 */
export const variance = (x: Tensor, opts: VarianceOptions = {}): Tensor => {
  checkOptions('variance', opts, VARIANCE_OPTIONS)
  const ddof = opts.ddof ?? 0
  if (!Number.isFinite(ddof) || ddof < 0)
    throw new T.ValueError(
      'variance',
      `ddof ${ddof} must be a non-negative number (x has shape ${T.fmtShape(x.shape)})`,
    )
  const axes = T.normalizeAxes('variance', opts.axis, x.shape.length)
  const deviation = sub(x, mean(x, { axis: axes, keepDims: true }))
  const squares = sum(square(deviation), { axis: axes, keepDims: opts.keepDims ?? false })
  return div(squares, reducedCount(x.shape, axes) - ddof)
}
