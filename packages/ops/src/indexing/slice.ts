// y = x[start :: step] per axis ; x̄ = ȳ padded back (unit steps) or scattered back to the sliced positions
import * as T from '@backfold/tensor'
import type { SliceRange, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { checkOptions, option, optionSchema } from '../core/options'
import { insertAt } from '../internal/indexBatching'
import { pad } from './pad'
import { scatterAdd } from './scatterAdd'

/** Parameters of the slice op, as resolved by `resolveSlice`: per axis, first index, step and length. @since 0.1.0 */
export interface SliceParams {
  readonly start: ReadonlyArray<number>
  readonly step: ReadonlyArray<number>
  readonly outShape: ReadonlyArray<number>
}

/** Resolved parameters back to Python ranges that select exactly the same elements. */
const toRanges = (p: SliceParams): SliceRange[] =>
  p.outShape.map((length, i) => {
    const start = p.start[i]!
    const step = p.step[i]!
    if (length === 0) return { start: 0, stop: 0 }
    const last = start + (length - 1) * step
    // A stop of -1 would count from the end; a backwards slice ending at index 0 leaves stop out instead.
    if (step < 0 && last === 0) return { start, step }
    return { start, stop: last + Math.sign(step), step }
  })

/** The cotangent of a slice: ct placed back at the sliced positions, zeros elsewhere. */
const unslice = (ct: Tensor, inShape: ReadonlyArray<number>, p: SliceParams): Tensor => {
  if (p.step.every((step) => step === 1))
    return pad(
      ct,
      inShape.map((dim, i) => [p.start[i]!, dim - p.start[i]! - p.outShape[i]!] as const),
    )
  let spread = ct
  for (let axis = 0; axis < inShape.length; axis++) {
    const dim = inShape[axis]!
    const start = p.start[axis]!
    const step = p.step[axis]!
    const length = p.outShape[axis]!
    if (start === 0 && step === 1 && length === dim) continue
    const positions = T.arange(start, start + length * step, step, 'int32')
    const grown = [...spread.shape]
    grown[axis] = dim
    spread = scatterAdd(spread, positions, grown, { axis })
  }
  return spread
}

/** The slice op. @since 0.1.0 */
export const sliceOp = defineOp<'slice', [Tensor], SliceParams>({
  name: 'slice',
  forward: ([x], p) => T.slice(x, toRanges(p)),
  vjp: (ct, [x], _y, p) => [unslice(ct, x.shape, p)],
  // The ranges forward hands the kernel, resolved against x's shape as the kernel resolves them.
  abstract: ([x], p) => ({ shape: T.sliceShape(x.shape, toRanges(p)), dtype: x.dtype }),
  // The examples' axis is kept whole: a range 0:B:1 inserted where it lies.
  // One Slice over the axes the op narrows; an end past the first element (step < 0 ending at
  // index 0) is written below −size, which ONNX clamps to 'before 0'.
  onnx: (b, [x], p, { inputs: [ax] }) => {
    const axes = p.outShape
      .map((_, i) => i)
      .filter((i) => p.start[i] !== 0 || p.step[i] !== 1 || p.outShape[i] !== ax.shape[i])
    if (axes.length === 0) return b.node('Identity', [x])
    const ends = axes.map((i) => {
      const length = p.outShape[i]!
      const start = p.start[i]!
      const step = p.step[i]!
      if (length === 0) return start
      const end = start + (length - 1) * step + Math.sign(step)
      return end < 0 ? -(ax.shape[i] ?? 0) - 1 : end
    })
    return b.node('Slice', [
      x,
      b.int64s(axes.map((i) => p.start[i]!)),
      b.int64s(ends),
      b.int64s(axes),
      b.int64s(axes.map((i) => p.step[i]!)),
    ])
  },
  batch: ([x], [axis], p, self) => {
    const b = axis ?? 0 // the only input, so the mapped one
    const q: SliceParams = {
      start: insertAt(p.start, b, 0),
      step: insertAt(p.step, b, 1),
      outShape: insertAt(p.outShape, b, x.shape[b] ?? 0),
    }
    return [self([x], q), b]
  },
})

const RANGE_OPTIONS = optionSchema({ start: option.integer, stop: option.integer, step: option.integer })

// Names for the ranges' messages, made once: `ranges[0]`, `ranges[1]`, ...
const RANGE_NAMES = Array.from({ length: 8 }, (_, i) => `ranges[${i}]`)

/**
 * Python-style slicing: `ranges[i]` slices axis `i` as `start:stop:step` (negative indices count
 * from the end, out-of-range bounds are clamped, a negative step walks backwards); axes without a
 * range are kept whole. Returns `x` itself when everything is selected in order.
 * @example
 * slice(x, [{ start: 1 }, { step: -1 }]) // x[1:, ::-1]
 * slice(x, [undefined, { start: -2 }])    // x[:, -2:]
 * @throws ShapeError for more ranges than axes; ValueError for a range that is not a
 * `{ start, stop, step }` record (an array such as `[0, 1]` is rejected, not read as a whole axis),
 * an unknown key, or a zero or non-integer step or bound.
 * @since 0.1.0
 */
export const slice = (x: Tensor, ranges: ReadonlyArray<SliceRange | undefined>): Tensor => {
  if (Array.isArray(ranges))
    for (let i = 0; i < ranges.length; i++) {
      const range: unknown = ranges[i]
      if (range !== undefined && range !== null)
        checkOptions('slice', range, RANGE_OPTIONS, RANGE_NAMES[i] ?? `ranges[${i}]`)
    }
  const inShape = x.shape
  const p = T.resolveSlice('slice', inShape, ranges)
  const whole =
    T.shapesEqual(p.outShape, inShape) && p.start.every((s) => s === 0) && p.step.every((s) => s === 1)
  return whole ? x : applyOp(sliceOp, [x], p)
}
