// y = [x₁ x₂ … ] along an axis ; x̄ᵢ = the slice of ȳ where xᵢ landed
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { AXIS_OPTIONS, checkOptions, type AxisOptions } from '../core/options'
import { slice } from './slice'

/** Parameters of the concat op: the (non-negative) axis. @since 0.1.0 */
export interface ConcatParams {
  readonly axis: number
}

/** The concat op (any number of inputs). @since 0.1.0 */
export const concatOp = defineOp<ConcatParams>({
  name: 'concat',
  forward: (xs, p) => T.concat(xs, p.axis),
  vjp: (ct, xs, _y, p) => {
    const leading = new Array<undefined>(p.axis).fill(undefined)
    let offset = 0
    return xs.map((x) => {
      const size = x.shape[p.axis]!
      const part = slice(ct, [...leading, { start: offset, stop: offset + size }])
      offset += size
      return part
    })
  },
})

/** Throws a `ValueError` naming `op` unless `xs` is a non-empty array. @internal */
export const checkNonEmpty = (op: string, xs: ReadonlyArray<Tensor>): void => {
  if (!Array.isArray(xs) || xs.length === 0)
    throw new T.ValueError(
      op,
      `xs must be a non-empty array of tensors, got ${Array.isArray(xs) ? '[]' : String(xs)}`,
    )
}

/**
 * Joins tensors along an existing `axis` (negative counts from the end). Every other dimension
 * must match; dtypes are promoted.
 * @example
 * concat([tensor([[1, 2]]), tensor([[3, 4]])])    // [[1, 2], [3, 4]]
 * concat([a, b], { axis: 1 })                      // [2, 3] and [2, 5] -> [2, 8]
 * @throws ValueError for an empty list, an unknown option or a bad axis; ShapeError when ranks or other dimensions differ.
 * @since 0.1.0
 */
export const concat = (xs: ReadonlyArray<Tensor>, opts?: AxisOptions): Tensor => {
  checkOptions('concat', opts, AXIS_OPTIONS)
  checkNonEmpty('concat', xs)
  const firstShape = xs[0]!.shape
  if (firstShape.length === 0)
    throw new T.ShapeError(
      'concat',
      `cannot concatenate scalars (xs[0] has shape []); use stack to add an axis`,
    )
  const at = T.normalizeAxis('concat', opts?.axis ?? 0, firstShape.length)
  return xs.length === 1 ? xs[0]! : applyOp(concatOp, xs, { axis: at })
}
