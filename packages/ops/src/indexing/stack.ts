// y = [x₁ x₂ … ] along a new axis: expandDims then concat
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { AXIS_OPTIONS, checkOptions, type AxisOptions } from '../core/options'
import { expandDims } from '../shape/expandDims'
import { checkNonEmpty, concat } from './concat'

/**
 * Joins equally shaped tensors along a new `axis` (in `[-(rank + 1), rank]`); dtypes are promoted.
 * @example
 * stack([tensor([1, 2]), tensor([3, 4])])    // [[1, 2], [3, 4]]
 * stack([tensor([1, 2]), tensor([3, 4])], { axis: 1 }) // [[1, 3], [2, 4]]
 * @throws ValueError for an empty list, an unknown option or a bad axis; ShapeError when the shapes differ.
 * @since 0.1.0
 */
export const stack = (xs: ReadonlyArray<Tensor>, opts?: AxisOptions): Tensor => {
  checkOptions('stack', opts, AXIS_OPTIONS)
  const firstShape = checkNonEmpty('stack', xs).shape
  xs.forEach((x, k) => {
    if (!T.shapesEqual(x.shape, firstShape))
      throw new T.ShapeError(
        'stack',
        `xs[${k}] has shape ${T.fmtShape(x.shape)} but xs[0] has shape ${T.fmtShape(firstShape)}; expected equal shapes`,
      )
  })
  const at = T.normalizeAxis('stack', opts?.axis ?? 0, firstShape.length + 1)
  return concat(
    xs.map((x) => expandDims(x, { axis: at })),
    { axis: at },
  )
}
