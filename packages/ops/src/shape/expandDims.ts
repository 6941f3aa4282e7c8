// y = x with a size-1 axis inserted, a reshape
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { REQUIRED_AXIS_OPTIONS, checkOptions } from '../core/options'
import { reshape } from './reshape'

/**
 * Inserts a size-1 axis at `axis` (in `[-(rank + 1), rank]`; negative counts from the end of the
 * result). A reshape, so free and differentiable.
 * @example
 * expandDims(tensor([1, 2]), { axis: 0 })  // [[1, 2]]
 * expandDims(tensor([1, 2]), { axis: -1 }) // [[1], [2]]
 * @throws ValueError when `axis` is missing or out of range, or for an unknown option.
 * @since 0.1.0
 */
export const expandDims = (x: Tensor, opts: { readonly axis: number }): Tensor => {
  checkOptions('expandDims', opts, REQUIRED_AXIS_OPTIONS)
  // The shape alone, never x's data: x may be a traced value.
  const inShape = x.shape
  const rank = inShape.length + 1
  const axis = opts.axis
  if (axis < -rank || axis >= rank)
    throw new T.ValueError(
      'expandDims',
      `axis ${axis} is out of range for x of shape ${T.fmtShape(inShape)}; expected -${rank} <= axis < ${rank}`,
    )
  const at = axis < 0 ? axis + rank : axis
  return reshape(x, [...inShape.slice(0, at), 1, ...inShape.slice(at)])
}
