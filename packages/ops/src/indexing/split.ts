// [y₁ y₂ …] = consecutive slices of x along an axis
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { AXIS_OPTIONS, checkOptions, type AxisOptions } from '../core/options'
import { slice } from './slice'

/** The section sizes `sections` asks for, validated against `dim` (axis `axis` of `shape`). */
const sectionSizes = (sections: number | ReadonlyArray<number>, shape: T.Shape, axis: number): number[] => {
  const dim = shape[axis]!
  if (typeof sections === 'number') {
    if (!Number.isInteger(sections) || sections < 1)
      throw new T.ValueError(
        'split',
        `sections ${sections} is not a positive integer (x has shape ${T.fmtShape(shape)})`,
      )
    if (dim % sections !== 0)
      throw new T.ShapeError(
        'split',
        `cannot split axis ${axis} of x of shape ${T.fmtShape(shape)} into ${sections} equal sections; ` +
          `${dim} is not a multiple of ${sections}`,
      )
    return new Array<number>(sections).fill(dim / sections)
  }
  if (!Array.isArray(sections) || !sections.every((size) => Number.isInteger(size) && size >= 0))
    throw new T.ValueError(
      'split',
      `sections ${Array.isArray(sections) ? T.fmtShape(sections) : String(sections)} must be a count or ` +
        `an array of non-negative integer sizes (x has shape ${T.fmtShape(shape)})`,
    )
  const total = sections.reduce((acc, size) => acc + size, 0)
  if (total !== dim)
    throw new T.ShapeError(
      'split',
      `section sizes ${T.fmtShape(sections)} add up to ${total} but axis ${axis} of x of shape ${T.fmtShape(shape)} ` +
        `has ${dim}; expected them to add up to ${dim}`,
    )
  return [...sections]
}

/**
 * Splits `x` along `axis` into `sections` equal parts (a count, as NumPy's `split`), or into parts
 * of the given sizes (an array). Each part is a differentiable slice.
 * @example
 * split(tensor([1, 2, 3, 4, 5, 6]), 3)       // [1, 2], [3, 4], [5, 6]
 * split(tensor([1, 2, 3, 4, 5, 6]), [1, 5])  // [1], [2, 3, 4, 5, 6]
 * split(tensor([[1, 2], [3, 4]]), 2, { axis: 1 }) // [[1], [3]], [[2], [4]]
 * @throws ValueError for a malformed `sections`, an unknown option or a bad axis; ShapeError when the parts do not add up to the axis.
 * @since 0.1.0
 */
export const split = (x: Tensor, sections: number | ReadonlyArray<number>, opts?: AxisOptions): Tensor[] => {
  checkOptions('split', opts, AXIS_OPTIONS)
  const at = T.normalizeAxis('split', opts?.axis ?? 0, x.shape.length)
  const sizes = sectionSizes(sections, x.shape, at)
  const leading = new Array<undefined>(at).fill(undefined)
  let offset = 0
  return sizes.map((size) => {
    const part = slice(x, [...leading, { start: offset, stop: offset + size }])
    offset += size
    return part
  })
}
