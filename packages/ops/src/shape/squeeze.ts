// y = x without size-1 axes, a reshape
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { checkOptions, option, optionSchema } from '../core/options'
import { reshape } from './reshape'

/** Options of `squeeze`: the size-1 `axis` (one or several) to remove; default all of them. @since 0.2.0 */
export interface SqueezeOptions {
  readonly axis?: number | ReadonlyArray<number> | undefined
}

const SQUEEZE_OPTIONS = optionSchema({ axis: option.axes })

/**
 * Removes size-1 axes: all of them by default, or exactly `axis` (one or several). A reshape, so
 * free and differentiable.
 * @example
 * squeeze(zeros([1, 3, 1]))               // shape [3]
 * squeeze(zeros([1, 3, 1]), { axis: 0 })  // shape [3, 1]
 * @throws ShapeError when one of the axes does not have size 1; ValueError for an unknown option.
 * @since 0.1.0
 */
export const squeeze = (x: Tensor, opts?: SqueezeOptions): Tensor => {
  checkOptions('squeeze', opts, SQUEEZE_OPTIONS)
  // The kernel's own shape rule gives its exact errors (x may be traced).
  return reshape(x, T.squeezeShape(x.shape, opts?.axis))
}
