/**
 * Sorting along one axis.
 * @since 0.2.0
 */
import { getBackend } from '../backend'
import { isDType } from '../dtype'
import { DTypeError, ValueError } from '../errors'
import { normalizeAxis, type Shape } from '../shape'
import { requireConcrete, type Tensor } from '../tensor'

/**
 * The shape `argsort` gives for `x` of shape `inShape` (the same shape, int32), or the error it
 * would throw for a bad axis or flag.
 * @example
 * argsortShape([2, 3], -1) // [2, 3]
 * @since 0.2.0
 */
export const argsortShape = (inShape: Shape, axis: number, descending: unknown = false): number[] => {
  normalizeAxis('argsort', axis, inShape.length)
  if (typeof descending !== 'boolean')
    throw new ValueError('argsort', `descending must be a boolean, got ${String(descending)}`)
  return [...inShape]
}

/**
 * The positions (int32) that sort `x` along `axis`, ascending unless `descending`. Stable: equal
 * values keep their original order in both directions. NaN counts as larger than +Infinity (last
 * ascending, first descending), as in NumPy and PyTorch.
 * @example
 * argsort(tensor([3, 1, 2]), 0)       // [1, 2, 0]
 * argsort(tensor([3, 1, 2]), 0, true) // [0, 2, 1]
 * @since 0.2.0
 */
export const argsort = (x: Tensor, axis: number, descending = false): Tensor => {
  requireConcrete('argsort', 'x', x)
  if (!isDType(x.dtype))
    throw new DTypeError(
      'argsort',
      `x has dtype ${String(x.dtype)}; expected 'float32', 'float64' or 'int32'`,
    )
  argsortShape(x.shape, axis, descending)
  return getBackend().argsort(x, normalizeAxis('argsort', axis, x.shape.length), descending)
}
