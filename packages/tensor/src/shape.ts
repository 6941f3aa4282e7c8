import { ShapeError, ValueError, fmtShape } from './errors'

/** Dimensions, outermost first. `[]` is a scalar. @since 0.1.0 */
export type Shape = ReadonlyArray<number>

/** Number of elements of `shape` (1 for a scalar). @since 0.1.0 */
export const sizeOf = (shape: Shape): number => {
  let size = 1
  for (const d of shape) size *= d
  return size
}

/** Row-major strides in elements. @since 0.1.0 */
export const stridesOf = (shape: Shape): number[] => {
  const strides = new Array<number>(shape.length)
  let stride = 1
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride
    stride *= shape[i]!
  }
  return strides
}

/** True when both shapes have the same rank and dimensions. @since 0.1.0 */
export const shapesEqual = (a: Shape, b: Shape): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Throws a `ValueError` unless every dimension is a non-negative integer.
 * @since 0.1.0
 */
export const checkShape = (op: string, shape: Shape, what = 'shape'): void => {
  if (!Array.isArray(shape))
    throw new ValueError(op, `${what} must be an array of integers, got ${String(shape)}`)
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new ValueError(
        op,
        `${what} ${fmtShape(shape)} has dimension ${d}; expected non-negative integers`,
      )
  }
}

/**
 * NumPy broadcasting of two shapes: align trailing dimensions; each pair must be equal or one of them 1.
 * @example
 * broadcastShapes('add', [3, 1], [4]) // [3, 4]
 * @since 0.1.0
 */
export const broadcastShapes = (op: string, a: Shape, b: Shape): number[] => {
  const rank = Math.max(a.length, b.length)
  const out = new Array<number>(rank)
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)]!
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)]!
    if (da === db || db === 1) out[i] = da
    else if (da === 1) out[i] = db
    else
      throw new ShapeError(
        op,
        `cannot broadcast shapes ${fmtShape(a)} and ${fmtShape(b)}: dimension ${i} is ${da} vs ${db}; ` +
          `trailing dimensions must be equal or 1`,
      )
  }
  return out
}

/** Resolves a possibly negative axis against `rank`, or throws a `ValueError` naming the op. @since 0.1.0 */
export const normalizeAxis = (op: string, axis: number, rank: number): number => {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
    throw new ValueError(
      op,
      `axis ${axis} is out of range for a tensor of rank ${rank}; expected -${rank} <= axis < ${rank}`,
    )
  return axis < 0 ? axis + rank : axis
}

/**
 * Resolves `axes` (undefined = all) to a sorted list of distinct non-negative axes.
 * @since 0.1.0
 */
export const normalizeAxes = (
  op: string,
  axes: number | ReadonlyArray<number> | undefined,
  rank: number,
): number[] => {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i)
  const list = typeof axes === 'number' ? [axes] : axes
  const out = list.map((a) => normalizeAxis(op, a, rank))
  const sorted = [...new Set(out)].sort((x, y) => x - y)
  if (sorted.length !== out.length) throw new ValueError(op, `axes [${list.join(',')}] repeat an axis`)
  return sorted
}
