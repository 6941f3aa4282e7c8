// y = [x₁ x₂ … ] along an axis ; x̄ᵢ = the slice of ȳ where xᵢ landed
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchAtFront, batchSize } from '../core/batching'
import { AXIS_OPTIONS, checkOptions, type AxisOptions } from '../core/options'
import { slice } from './slice'

/** Parameters of the concat op: the (non-negative) axis. @since 0.1.0 */
export interface ConcatParams {
  readonly axis: number
}

/** The concat op (any number of inputs). @since 0.1.0 */
export const concatOp = defineOp<'concat', ReadonlyArray<Tensor>, ConcatParams>({
  name: 'concat',
  forward: (xs, p) => T.concat(xs, p.axis),
  abstract: (xs, p) => ({
    shape: T.concatShape(
      xs.map((x) => x.shape),
      p.axis,
    ),
    dtype: xs.map((x) => x.dtype).reduce(T.promoteTypes),
  }),
  vjp: (ct, xs, _y, p, needed) => {
    const leading = new Array<undefined>(p.axis).fill(undefined)
    let offset = 0
    return xs.map((x, i) => {
      const start = offset
      offset += x.shape[p.axis] ?? 0
      return needed[i] ? slice(ct, [...leading, { start, stop: offset }]) : undefined
    })
  },
  // Every input cast to the promoted dtype, as forward promotes.
  onnx: (b, xs, p, { inputs, output }) =>
    b.node(
      'Concat',
      xs.map((x, i) => b.cast(x, inputs[i]!.dtype, output.dtype)),
      { axis: p.axis },
    ),
  batch: (xs, axes, p, self) => {
    // Every input has the same rank, so inputs mapped along one axis line up as they are.
    const first = axes[0]
    if (first !== undefined && axes.every((axis) => axis === first))
      return [self(xs, { axis: p.axis >= first ? p.axis + 1 : p.axis }), first]
    // Mixed: examples to the front, unmapped inputs broadcast to every example.
    const size = batchSize(xs, axes)
    return [
      self(
        xs.map((x, i) => batchAtFront(x, axes[i], size)),
        { axis: p.axis + 1 },
      ),
      0,
    ]
  },
})

/** The first of `xs`; throws a `ValueError` naming `op` unless `xs` is a non-empty array. @internal */
export const checkNonEmpty = (op: string, xs: ReadonlyArray<Tensor>): Tensor => {
  const first: Tensor | undefined = Array.isArray(xs) ? xs[0] : undefined
  if (first === undefined)
    throw new T.ValueError(
      op,
      `xs must be a non-empty array of tensors, got ${Array.isArray(xs) ? '[]' : String(xs)}`,
    )
  return first
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
  const first = checkNonEmpty('concat', xs)
  const firstShape = first.shape
  if (firstShape.length === 0)
    throw new T.ShapeError(
      'concat',
      `cannot concatenate scalars (xs[0] has shape []); use stack to add an axis`,
    )
  const at = T.normalizeAxis('concat', opts?.axis ?? 0, firstShape.length)
  return xs.length === 1 ? first : applyOp(concatOp, xs, { axis: at })
}
