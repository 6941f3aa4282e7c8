// values, indices = the k largest (or smallest) entries of x along axis, in order
// built on argsort, slice and takeAlongAxis, so the values' gradient is takeAlongAxis's (scattered back)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { checkOptions, option, optionSchema } from '../core/options'
import { slice } from '../indexing/slice'
import { takeAlongAxis } from '../indexing/takeAlongAxis'
import { argsort } from './argsort'

/** Options of `topk`: `axis` (default -1) and `largest` (default true; false takes the k smallest). @since 0.2.0 */
export interface TopkOptions {
  readonly axis?: number | undefined
  readonly largest?: boolean | undefined
}

const TOPK_OPTIONS = optionSchema({ axis: option.axis, largest: option.boolean })

/**
 * The `k` largest entries of `x` along `axis` (default the last), largest first, and their
 * positions (int32), as PyTorch's `topk`; `largest: false` takes the smallest, smallest first.
 * Ties keep their original order (the lower position first). The values are differentiable: the
 * gradient goes back to the chosen positions, zero elsewhere.
 * @example
 * topk(tensor([1, 5, 3, 4]), 2) // { values: [5, 4], indices: [1, 3] }
 * @throws ValueError when `k` is not an integer in [0, size of the axis], for a bad axis or option.
 * @since 0.2.0
 */
export const topk = (
  x: Tensor,
  k: number,
  opts: TopkOptions = {},
): { readonly values: Tensor; readonly indices: Tensor } => {
  checkOptions('topk', opts, TOPK_OPTIONS)
  const axis = T.normalizeAxis('topk', opts.axis ?? -1, x.shape.length)
  const size = x.shape[axis] ?? 0
  if (!Number.isInteger(k) || k < 0 || k > size)
    throw new T.ValueError(
      'topk',
      `k must be an integer in [0, ${size}] (the size of axis ${axis}), got ${String(k)}`,
    )
  const order = argsort(x, { axis, descending: opts.largest ?? true })
  const indices = slice(
    order,
    x.shape.map((_, i) => (i === axis ? { start: 0, stop: k } : undefined)),
  )
  return { values: takeAlongAxis(x, indices, { axis }), indices }
}
