import type { Shape } from '../shape'
import type { Tensor } from '../tensor'
import { getBackend } from '../backend'
import { ShapeError, ValueError, fmtShape } from '../errors'
import { checkShape, shapesEqual, sizeOf } from '../shape'
import { requireConcrete, unsafeTensor } from '../tensor'

// Shape kernels. Tensors are immutable, so reshape, expandDims, squeeze and ravel share the
// input's buffer; only transpose and broadcastTo move data.

/** Resolves an axis in `[-rank, rank)`, or throws a `ValueError` naming the op and the shape. */
const resolveAxis = (op: string, axis: number, rank: number, shape: Shape, what = 'axis'): number => {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
    throw new ValueError(
      op,
      `${what} ${axis} is out of range for x of shape ${fmtShape(shape)}; expected an integer in [${-rank}, ${rank})`,
    )
  return axis < 0 ? axis + rank : axis
}

/** The concrete shape `requested` asks for (its one `-1` inferred), or a typed error. */
const resolveReshape = (op: string, inShape: Shape, requested: ReadonlyArray<number>): number[] => {
  if (!Array.isArray(requested))
    throw new ValueError(op, `shape must be an array of integers, got ${String(requested)}`)
  const size = sizeOf(inShape)
  let inferred = -1
  let known = 1
  for (let i = 0; i < requested.length; i++) {
    const dim = requested[i]!
    if (dim === -1) {
      if (inferred >= 0)
        throw new ShapeError(
          op,
          `cannot reshape ${fmtShape(inShape)} to ${fmtShape(requested)}: more than one -1; ` +
            `at most one dimension can be inferred`,
        )
      inferred = i
    } else if (!Number.isInteger(dim) || dim < 0) {
      throw new ValueError(
        op,
        `shape ${fmtShape(requested)} has dimension ${dim}; expected non-negative integers or a single -1`,
      )
    } else {
      known *= dim
    }
  }
  const out = [...requested]
  if (inferred >= 0) {
    // With a zero among the known dimensions any value fits, so -1 is ambiguous (NumPy agrees).
    if (known === 0 || size % known !== 0)
      throw new ShapeError(
        op,
        `cannot reshape ${fmtShape(inShape)} (${size} elements) to ${fmtShape(requested)}: ` +
          `${size} is not a multiple of ${known}, the product of the other dimensions`,
      )
    out[inferred] = size / known
  } else if (known !== size) {
    throw new ShapeError(
      op,
      `cannot reshape ${fmtShape(inShape)} (${size} elements) to ${fmtShape(requested)} (${known} elements); ` +
        `the sizes must be equal`,
    )
  }
  return out
}

/**
 * Gives `x` a new shape with the same elements in the same (row-major) order. One dimension may be
 * `-1`; it is inferred from the others. No data is copied: the result shares `x.data`.
 * @example
 * reshape(x, [2, -1]) // x of shape [2, 3, 4] becomes [2, 12]
 * @throws ShapeError when the sizes differ or `shape` has more than one `-1`.
 * @since 0.1.0
 */
export const reshape = (x: Tensor, shape: ReadonlyArray<number>): Tensor => {
  requireConcrete('reshape', 'x', x)
  const inShape = x.shape
  const outShape = reshapeShape(inShape, shape)
  if (shapesEqual(inShape, outShape)) return x
  return unsafeTensor(x.dtype, outShape, x.data)
}

/**
 * The shape `reshape(x, shape)` gives for `x` of shape `inShape` (its one `-1` inferred), or the
 * error `reshape` would throw. For shapes alone (a traced value's, say), where `reshape` itself
 * needs a concrete tensor.
 * @example
 * reshapeShape([2, 3, 4], [2, -1]) // [2, 12]
 * @since 0.2.0
 */
export const reshapeShape = (inShape: Shape, shape: ReadonlyArray<number>): number[] =>
  resolveReshape('reshape', inShape, shape)

/**
 * Flattens `x` to rank 1 (`reshape(x, [-1])`), sharing its data.
 * @since 0.1.0
 */
export const ravel = (x: Tensor): Tensor => {
  requireConcrete('ravel', 'x', x)
  const inShape = x.shape
  if (inShape.length === 1) return x
  return unsafeTensor(x.dtype, [sizeOf(inShape)], x.data)
}

/**
 * Permutes the axes of `x`: output axis `k` is input axis `perm[k]`. Without `perm` the axes are
 * reversed (a matrix transpose for rank 2). Negative axes count from the end; the identity
 * permutation returns `x` itself.
 * @example
 * transpose(x)            // [2, 3] -> [3, 2]
 * transpose(y, [0, 2, 1]) // [b, m, n] -> [b, n, m]
 * @throws ValueError when `perm` is not a permutation of the axes of `x`.
 * @since 0.1.0
 */
export const transpose = (x: Tensor, perm?: ReadonlyArray<number>): Tensor => {
  requireConcrete('transpose', 'x', x)
  const axes = transposePerm(x.shape, perm)
  if (axes.every((axis, i) => axis === i)) return x
  return getBackend().transpose(x, axes)
}

/**
 * The permutation `transpose(x, perm)` applies for `x` of shape `inShape`: `perm` with negative
 * axes resolved, the reversed axes when `perm` is omitted, or the error `transpose` would throw.
 * @example
 * transposePerm([2, 3, 4], [0, -1, 1]) // [0, 2, 1]
 * transposePerm([2, 3])                // [1, 0]
 * @throws ValueError when `perm` is not a permutation of the axes.
 * @since 0.2.0
 */
export const transposePerm = (inShape: Shape, perm?: ReadonlyArray<number>): number[] => {
  const op = 'transpose'
  const rank = inShape.length
  if (perm === undefined) return Array.from({ length: rank }, (_, i) => rank - 1 - i)
  if (!Array.isArray(perm) || perm.length !== rank)
    throw new ValueError(
      op,
      `perm ${Array.isArray(perm) ? fmtShape(perm) : String(perm)} does not fit x of shape ${fmtShape(inShape)}; ` +
        `expected a permutation of the ${rank} axes`,
    )
  const axes = perm.map((axis) => resolveAxis(op, axis, rank, inShape, 'perm entry'))
  if (new Set(axes).size !== rank)
    throw new ValueError(
      op,
      `perm ${fmtShape(perm)} repeats an axis; expected a permutation of the ${rank} axes of x of shape ${fmtShape(inShape)}`,
    )
  return axes
}

/**
 * The shape `transpose(x, perm)` gives for `x` of shape `inShape`, or the error `transpose` would
 * throw. For shapes alone (a staged value's, say), where `transpose` itself needs a concrete tensor.
 * @example
 * transposeShape([2, 3, 4], [0, 2, 1]) // [2, 4, 3]
 * @since 0.2.0
 */
export const transposeShape = (inShape: Shape, perm?: ReadonlyArray<number>): number[] =>
  transposePerm(inShape, perm).map((axis) => inShape[axis]!)

/**
 * Broadcasts `x` to `shape` by NumPy's rules (align trailing axes; each dimension of `x` must equal
 * the target's or be 1) and materialises the result. Returns `x` when the shapes are already equal.
 * @example
 * broadcastTo(bias, [batch, features]) // bias of shape [features]
 * @throws ShapeError when `x` cannot be broadcast to `shape`.
 * @since 0.1.0
 */
export const broadcastTo = (x: Tensor, shape: ReadonlyArray<number>): Tensor => {
  requireConcrete('broadcastTo', 'x', x)
  const outShape = broadcastToShape(x.shape, shape)
  if (shapesEqual(x.shape, outShape)) return x
  return getBackend().broadcastTo(x, outShape)
}

/**
 * The shape `broadcastTo(x, shape)` gives for `x` of shape `inShape` (a copy of `shape`), or the
 * error `broadcastTo` would throw. For shapes alone (a staged value's, say), where `broadcastTo`
 * itself needs a concrete tensor.
 * @example
 * broadcastToShape([3], [2, 3]) // [2, 3]
 * broadcastToShape([2], [3])    // throws a ShapeError
 * @throws ShapeError when `inShape` cannot be broadcast to `shape`; ValueError for a bad `shape`.
 * @since 0.2.0
 */
export const broadcastToShape = (inShape: Shape, shape: ReadonlyArray<number>): number[] => {
  const op = 'broadcastTo'
  checkShape(op, shape)
  const lead = shape.length - inShape.length
  if (lead < 0)
    throw new ShapeError(
      op,
      `cannot broadcast x of shape ${fmtShape(inShape)} to ${fmtShape(shape)}: the target has fewer axes`,
    )
  for (let i = 0; i < inShape.length; i++) {
    const inDim = inShape[i]!
    const outDim = shape[i + lead]!
    if (inDim !== outDim && inDim !== 1)
      throw new ShapeError(
        op,
        `cannot broadcast x of shape ${fmtShape(inShape)} to ${fmtShape(shape)}: axis ${i} of x is ${inDim} ` +
          `but the target has ${outDim}; each dimension must equal the target's or be 1`,
      )
  }
  return [...shape]
}

/**
 * Inserts a size-1 axis at `axis` (in `[-(rank + 1), rank]`; negative counts from the end of the
 * result). Shares the data of `x`.
 * @example
 * expandDims(x, 0)  // [3, 4] -> [1, 3, 4]
 * expandDims(x, -1) // [3, 4] -> [3, 4, 1]
 * @since 0.1.0
 */
export const expandDims = (x: Tensor, axis: number): Tensor => {
  requireConcrete('expandDims', 'x', x)
  const inShape = x.shape
  const at = resolveAxis('expandDims', axis, inShape.length + 1, inShape)
  return unsafeTensor(x.dtype, [...inShape.slice(0, at), 1, ...inShape.slice(at)], x.data)
}

/**
 * Removes size-1 axes: all of them by default, or exactly `axes`. Shares the data of `x`.
 * @example
 * squeeze(x)     // [1, 3, 1] -> [3]
 * squeeze(x, 0)  // [1, 3, 1] -> [3, 1]
 * @throws ShapeError when one of `axes` does not have size 1.
 * @since 0.1.0
 */
export const squeeze = (x: Tensor, axes?: number | ReadonlyArray<number>): Tensor => {
  requireConcrete('squeeze', 'x', x)
  const outShape = squeezeShape(x.shape, axes)
  if (outShape.length === x.shape.length) return x
  return unsafeTensor(x.dtype, outShape, x.data)
}

/**
 * The shape `squeeze(x, axes)` gives for `x` of shape `inShape`, or the error `squeeze` would throw.
 * For shapes alone (a traced value's, say), where `squeeze` itself needs a concrete tensor.
 * @example
 * squeezeShape([1, 3, 1])    // [3]
 * squeezeShape([1, 3, 1], 0) // [3, 1]
 * @since 0.2.0
 */
export const squeezeShape = (inShape: Shape, axes?: number | ReadonlyArray<number>): number[] => {
  const op = 'squeeze'
  const rank = inShape.length
  const drop = new Array<boolean>(rank).fill(false)
  if (axes === undefined) {
    for (let i = 0; i < rank; i++) drop[i] = inShape[i] === 1
  } else {
    const list = typeof axes === 'number' ? [axes] : axes
    for (const axis of list) {
      const at = resolveAxis(op, axis, rank, inShape)
      if (drop[at])
        throw new ValueError(
          op,
          `axes [${list.join(',')}] repeat axis ${at} of x of shape ${fmtShape(inShape)}`,
        )
      if (inShape[at] !== 1)
        throw new ShapeError(
          op,
          `cannot squeeze axis ${at} of x of shape ${fmtShape(inShape)}: its size is ${inShape[at]}, not 1`,
        )
      drop[at] = true
    }
  }
  return inShape.filter((_, i) => !drop[i])
}
