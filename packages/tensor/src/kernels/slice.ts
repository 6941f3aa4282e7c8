import type { DType } from '../dtype'
import type { Shape } from '../shape'
import type { Tensor } from '../tensor'
import { getBackend } from '../backend'
import { promoteTypes } from '../dtype'
import { ShapeError, ValueError, fmtShape } from '../errors'
import { shapesEqual } from '../shape'
import { requireConcrete, requireAllConcrete, unsafeTensor } from '../tensor'

// Slicing, concatenation and padding. Slices follow Python's rules exactly (negative indices,
// clamping, negative steps), so code ported from NumPy or PyTorch slices the same elements.

/**
 * A Python-style slice of one axis, `start:stop:step`. Omitted fields take Python's defaults
 * (the whole axis, forwards; with a negative step, backwards from the last element).
 * @since 0.1.0
 */
export interface SliceRange {
  readonly start?: number
  readonly stop?: number
  readonly step?: number
}

/** Resolves an axis in `[-rank, rank)`, or throws a `ValueError` naming the op and the shape. */
const resolveAxis = (op: string, axis: number, rank: number, shape: Shape): number => {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
    throw new ValueError(
      op,
      `axis ${axis} is out of range for shape ${fmtShape(shape)}; expected an integer in [${-rank}, ${rank})`,
    )
  return axis < 0 ? axis + rank : axis
}

const fmtRange = (range: SliceRange): string =>
  `${range.start ?? ''}:${range.stop ?? ''}${range.step === undefined ? '' : `:${range.step}`}`

/** Python's `PySlice_AdjustIndices` for one bound: counts negatives from the end, then clamps. */
const clampBound = (index: number | undefined, dim: number, step: number, isStart: boolean): number => {
  if (index === undefined) {
    if (step > 0) return isStart ? 0 : dim
    return isStart ? dim - 1 : -1
  }
  if (index < 0) {
    const fromEnd = index + dim
    if (fromEnd < 0) return step > 0 ? 0 : -1
    return fromEnd
  }
  if (index >= dim) return step > 0 ? dim : dim - 1
  return index
}

/**
 * Resolves Python-style `ranges` (one per leading axis of `shape`; missing or `undefined` means
 * the whole axis) to the first index, step and length of every axis. Shared by every kernel that
 * slices.
 * @example
 * resolveSlice('slice', [5, 4], [{ start: -1, step: -2 }])
 * // { start: [4, 0], step: [-2, 1], outShape: [3, 4] }
 * @throws ShapeError for more ranges than axes; ValueError for a zero or non-integer step or bound.
 * @since 0.1.0
 */
export const resolveSlice = (
  op: string,
  shape: Shape,
  ranges: ReadonlyArray<SliceRange | undefined>,
): { start: number[]; step: number[]; outShape: number[] } => {
  if (!Array.isArray(ranges))
    throw new ValueError(op, `ranges must be an array of {start, stop, step} records, got ${String(ranges)}`)
  const rank = shape.length
  if (ranges.length > rank)
    throw new ShapeError(
      op,
      `got ${ranges.length} ranges for x of shape ${fmtShape(shape)}; expected at most ${rank}, one per leading axis`,
    )
  const start = new Array<number>(rank)
  const step = new Array<number>(rank)
  const outShape = new Array<number>(rank)
  for (let i = 0; i < rank; i++) {
    const dim = shape[i]!
    const range: SliceRange | undefined | null = ranges[i]
    if (range === undefined || range === null) {
      start[i] = 0
      step[i] = 1
      outShape[i] = dim
      continue
    }
    if (typeof range !== 'object')
      throw new ValueError(op, `ranges[${i}] is ${String(range)}; expected a {start, stop, step} record`)
    const stride = range.step ?? 1
    for (const [name, value] of [
      ['start', range.start],
      ['stop', range.stop],
      ['step', stride],
    ] as const) {
      if (value !== undefined && !Number.isInteger(value))
        throw new ValueError(
          op,
          `ranges[${i}] (${fmtRange(range)}) has ${name} ${value}; expected an integer (axis ${i} of shape ${fmtShape(shape)})`,
        )
    }
    if (stride === 0)
      throw new ValueError(
        op,
        `ranges[${i}] (${fmtRange(range)}) has step 0 (axis ${i} of shape ${fmtShape(shape)}); expected a nonzero step`,
      )
    const first = clampBound(range.start, dim, stride, true)
    const end = clampBound(range.stop, dim, stride, false)
    const length =
      stride > 0
        ? first < end
          ? Math.floor((end - first - 1) / stride) + 1
          : 0
        : end < first
          ? Math.floor((first - end - 1) / -stride) + 1
          : 0
    start[i] = first
    step[i] = stride
    outShape[i] = length
  }
  return { start, step, outShape }
}

/**
 * The shape of `slice(x, ranges)` for `x` of shape `inShape`, or the error `slice` would throw.
 * @example
 * sliceShape([5, 4], [{ start: -1, step: -2 }]) // [3, 4]
 * @throws ShapeError for more ranges than axes; ValueError for a zero or non-integer step or bound.
 * @since 0.2.0
 */
export const sliceShape = (inShape: Shape, ranges: ReadonlyArray<SliceRange | undefined>): number[] =>
  resolveSlice('slice', inShape, ranges).outShape

/**
 * Python-style slicing: `ranges[i]` slices axis `i` as `start:stop:step` (negative indices count
 * from the end, out-of-range bounds are clamped, a negative step walks backwards); axes without a
 * range are kept whole. Returns `x` itself when the slice selects everything in order.
 * @example
 * slice(x, [{ start: 1 }, { step: -1 }]) // x[1:, ::-1]
 * slice(x, [undefined, { start: -2 }])    // x[:, -2:]
 * @throws ShapeError for more ranges than axes; ValueError for a zero or non-integer step or bound.
 * @since 0.1.0
 */
export const slice = (x: Tensor, ranges: ReadonlyArray<SliceRange | undefined>): Tensor => {
  requireConcrete('slice', 'x', x)
  const inShape = x.shape
  const { start, step, outShape } = resolveSlice('slice', inShape, ranges)
  if (shapesEqual(inShape, outShape) && start.every((s) => s === 0) && step.every((s) => s === 1)) return x
  return getBackend().slice(x, start, step, outShape)
}

/** Casts `x` to `dtype` unless it already is. */
const castTo = (x: Tensor, dtype: DType): Tensor => (x.dtype === dtype ? x : getBackend().cast(x, dtype))

/** Validates a non-empty list (of tensors, or of their shapes), or throws a `ValueError` naming the op. */
const checkList = (op: string, xs: ReadonlyArray<unknown>): void => {
  if (!Array.isArray(xs) || xs.length === 0)
    throw new ValueError(
      op,
      `xs must be a non-empty array of tensors, got ${Array.isArray(xs) ? '[]' : String(xs)}`,
    )
}

/**
 * The `concat` geometry of a non-empty list of shapes: the resolved axis and the output shape, or
 * a `ShapeError` / `ValueError` for scalars, a bad axis or mismatched shapes.
 */
const concatPlan = (
  shapes: ReadonlyArray<Shape>,
  axis: number,
): { readonly at: number; readonly outShape: number[] } => {
  const op = 'concat'
  const firstShape = shapes[0]!
  const rank = firstShape.length
  if (rank === 0)
    throw new ShapeError(op, `cannot concatenate scalars (xs[0] has shape []); use stack to add an axis`)
  const at = resolveAxis(op, axis, rank, firstShape)
  let total = firstShape[at]!
  for (let k = 1; k < shapes.length; k++) {
    const shape = shapes[k]!
    const fits = shape.length === rank && shape.every((dim, i) => i === at || dim === firstShape[i])
    if (!fits)
      throw new ShapeError(
        op,
        `xs[${k}] has shape ${fmtShape(shape)} but xs[0] has shape ${fmtShape(firstShape)}; ` +
          `expected the same rank and equal dimensions on every axis but ${at}`,
      )
    total += shape[at]!
  }
  const outShape = [...firstShape]
  outShape[at] = total
  return { at, outShape }
}

/**
 * The shape of `concat(xs, axis)` for tensors of shapes `shapes`, or the error `concat` would
 * throw for them. (Its dtype is theirs promoted: `promoteTypes`.)
 * @example
 * concatShape([[2, 3], [2, 5]], 1) // [2, 8]
 * @throws ValueError for an empty list or a bad axis; ShapeError when ranks or other dimensions differ.
 * @since 0.2.0
 */
export const concatShape = (shapes: ReadonlyArray<Shape>, axis = 0): number[] => {
  checkList('concat', shapes)
  return concatPlan(shapes, axis).outShape
}

/**
 * Joins tensors along an existing `axis`. Every other dimension must match; dtypes are promoted
 * (int32 with float32 gives float32).
 * @example
 * concat([a, b], 1) // [2, 3] and [2, 5] -> [2, 8]
 * @throws ValueError for an empty list; ShapeError when ranks or other dimensions differ.
 * @since 0.1.0
 */
export const concat = (xs: ReadonlyArray<Tensor>, axis = 0): Tensor => {
  const op = 'concat'
  checkList(op, xs)
  requireAllConcrete(op, 'xs', xs)
  const { at } = concatPlan(
    xs.map((x) => x.shape),
    axis,
  )
  let dtype = xs[0]!.dtype
  for (let k = 1; k < xs.length; k++) dtype = promoteTypes(dtype, xs[k]!.dtype)
  if (xs.length === 1) return castTo(xs[0]!, dtype)
  return getBackend().concat(
    xs.map((x) => castTo(x, dtype)),
    at,
  )
}

/**
 * Joins equally shaped tensors along a new `axis` (in `[-(rank + 1), rank]`); dtypes are promoted.
 * @example
 * stack([a, b, c]) // three [4] tensors -> [3, 4]
 * @throws ValueError for an empty list; ShapeError when the shapes differ.
 * @since 0.1.0
 */
export const stack = (xs: ReadonlyArray<Tensor>, axis = 0): Tensor => {
  const op = 'stack'
  checkList(op, xs)
  requireAllConcrete(op, 'xs', xs)
  const shapes = xs.map((x) => x.shape)
  const firstShape = shapes[0]!
  const at = resolveAxis(op, axis, firstShape.length + 1, firstShape)
  let dtype = xs[0]!.dtype
  for (let k = 1; k < xs.length; k++) {
    const shape = shapes[k]!
    if (!shapesEqual(shape, firstShape))
      throw new ShapeError(
        op,
        `xs[${k}] has shape ${fmtShape(shape)} but xs[0] has shape ${fmtShape(firstShape)}; expected equal shapes`,
      )
    dtype = promoteTypes(dtype, xs[k]!.dtype)
  }
  const expandedShape = [...firstShape.slice(0, at), 1, ...firstShape.slice(at)]
  const expanded = xs.map((x) => unsafeTensor(dtype, expandedShape, castTo(x, dtype).data))
  if (expanded.length === 1) return expanded[0]!
  return getBackend().concat(expanded, at)
}

/**
 * The `pad` geometry: one validated `[before, after]` per axis (trailing axes `[0, 0]`), whether
 * anything is added, and the output shape; or the error `pad` throws for `pads` or `value`.
 */
const padPlan = (
  inShape: Shape,
  pads: ReadonlyArray<readonly [number, number]>,
  value: number,
  dtype: DType,
): {
  readonly full: ReadonlyArray<readonly [number, number]>
  readonly grows: boolean
  readonly outShape: number[]
} => {
  const op = 'pad'
  const rank = inShape.length
  if (!Array.isArray(pads))
    throw new ValueError(op, `pads must be an array of [before, after] pairs, got ${String(pads)}`)
  if (pads.length > rank)
    throw new ShapeError(
      op,
      `pads has ${pads.length} entries but x has shape ${fmtShape(inShape)}; expected at most ${rank}, one per leading axis`,
    )
  const full = new Array<readonly [number, number]>(rank)
  const outShape = new Array<number>(rank)
  let grows = false
  for (let i = 0; i < rank; i++) {
    const pair: readonly [number, number] = i < pads.length ? pads[i]! : [0, 0]
    const valid =
      Array.isArray(pair) &&
      pair.length === 2 &&
      pair.every((amount) => Number.isInteger(amount) && amount >= 0)
    if (!valid)
      throw new ValueError(
        op,
        `pads[${i}] is ${Array.isArray(pair) ? fmtShape(pair) : String(pair)} (x has shape ${fmtShape(inShape)}); ` +
          `expected two non-negative integers [before, after]`,
      )
    if (pair[0] > 0 || pair[1] > 0) grows = true
    full[i] = pair
    outShape[i] = pair[0] + inShape[i]! + pair[1]
  }
  if (typeof value !== 'number' || (dtype === 'int32' && !Number.isInteger(value)))
    throw new ValueError(
      op,
      `value ${String(value)} cannot fill a ${dtype} tensor of shape ${fmtShape(inShape)}`,
    )
  return { full, grows, outShape }
}

/**
 * The shape of `pad(x, pads, value)` for `x` of shape `inShape` and dtype `dtype` (which decides
 * whether `value` can fill it), or the error `pad` would throw.
 * @example
 * padShape([2, 3], [[1, 1], [0, 2]], 0, 'float32') // [4, 5]
 * @throws ShapeError for more entries than axes; ValueError for negative or non-integer amounts,
 * or a fractional `value` for an int32 tensor.
 * @since 0.2.0
 */
export const padShape = (
  inShape: Shape,
  pads: ReadonlyArray<readonly [number, number]>,
  value: number,
  dtype: DType,
): number[] => padPlan(inShape, pads, value, dtype).outShape

/**
 * Pads with a constant: `pads[i] = [before, after]` adds that many `value`s around axis `i`.
 * Fewer entries than axes pad the leading axes only. Returns `x` when nothing is added.
 * @example
 * pad(image, [[0, 0], [0, 0], [2, 2], [2, 2]]) // NCHW: 2 pixels of zeros on every side
 * @throws ShapeError for more entries than axes; ValueError for negative or non-integer amounts.
 * @since 0.1.0
 */
export const pad = (x: Tensor, pads: ReadonlyArray<readonly [number, number]>, value = 0): Tensor => {
  requireConcrete('pad', 'x', x)
  const { full, grows } = padPlan(x.shape, pads, value, x.dtype)
  if (!grows) return x
  return getBackend().pad(x, full, value)
}

/**
 * Splits `x` along `axis` into `sections` equal parts, or into parts of the given sizes.
 * @example
 * split(x, 3)         // [6, 2] -> three [2, 2]
 * split(x, [1, 5], 0) // [6, 2] -> [1, 2] and [5, 2]
 * @throws ValueError for a malformed `sections`; ShapeError when the parts do not add up to the axis.
 * @since 0.1.0
 */
export const split = (x: Tensor, sections: number | ReadonlyArray<number>, axis = 0): Tensor[] => {
  const op = 'split'
  requireConcrete(op, 'x', x)
  const inShape = x.shape
  const rank = inShape.length
  const at = resolveAxis(op, axis, rank, inShape)
  const dim = inShape[at]!
  let sizes: number[]
  if (typeof sections === 'number') {
    if (!Number.isInteger(sections) || sections < 1)
      throw new ValueError(
        op,
        `sections ${sections} is not a positive integer (x has shape ${fmtShape(inShape)})`,
      )
    if (dim % sections !== 0)
      throw new ShapeError(
        op,
        `cannot split axis ${at} of x of shape ${fmtShape(inShape)} into ${sections} equal sections; ` +
          `${dim} is not a multiple of ${sections}`,
      )
    sizes = new Array<number>(sections).fill(dim / sections)
  } else {
    if (!Array.isArray(sections) || !sections.every((size) => Number.isInteger(size) && size >= 0))
      throw new ValueError(
        op,
        `sections ${Array.isArray(sections) ? fmtShape(sections) : String(sections)} must be a count or ` +
          `an array of non-negative integer sizes (x has shape ${fmtShape(inShape)})`,
      )
    const total = sections.reduce((sum, size) => sum + size, 0)
    if (total !== dim)
      throw new ShapeError(
        op,
        `section sizes ${fmtShape(sections)} add up to ${total} but axis ${at} of x of shape ${fmtShape(inShape)} ` +
          `has ${dim}; expected them to add up to ${dim}`,
      )
    sizes = [...sections]
  }
  if (sizes.length === 1) return [x]
  const backend = getBackend()
  const step = new Array<number>(rank).fill(1)
  let offset = 0
  return sizes.map((size) => {
    const start = new Array<number>(rank).fill(0)
    start[at] = offset
    offset += size
    const outShape = [...inShape]
    outShape[at] = size
    return backend.slice(x, start, step, outShape)
  })
}
