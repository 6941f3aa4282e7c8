import type { DType } from '../dtype'
import type { Shape } from '../shape'
import { requireConcrete, type Tensor } from '../tensor'
import { getBackend } from '../backend'
import { isDType } from '../dtype'
import { DTypeError, ShapeError, ValueError, fmtShape } from '../errors'
import { checkShape, shapesEqual } from '../shape'

// Indexing kernels and their adjoints. Indices are int32 and must lie in [0, size): a negative
// index is far more often a bug (an unmasked padding label, say) than a wish to count from the end.

/** Resolves an axis in `[-rank, rank)`, or throws a `ValueError` naming the op and the shape. */
const resolveAxis = (op: string, axis: number, rank: number, shape: Shape, what: string): number => {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
    throw new ValueError(
      op,
      `axis ${axis} is out of range for ${what} of shape ${fmtShape(shape)}; expected an integer in [${-rank}, ${rank})`,
    )
  return axis < 0 ? axis + rank : axis
}

/** Throws a `DTypeError` unless `indices` is int32. */
const checkIndexDtype = (op: string, indices: Tensor, indexShape: Shape): void => {
  if (indices.dtype !== 'int32')
    throw new DTypeError(
      op,
      `indices must be int32, got ${indices.dtype} of shape ${fmtShape(indexShape)}; cast them to int32 first`,
    )
}

/**
 * Throws a `ValueError` naming the first index outside `[0, size)`. A validation pass, not a
 * compute loop: the backends rely on every index being in range.
 */
const checkIndexRange = (op: string, indices: Tensor, size: number, where: string): void => {
  const index = indices.data
  for (let k = 0; k < index.length; k++) {
    const value = index[k]!
    if (value < 0 || value >= size)
      throw new ValueError(
        op,
        `index ${value} (at flat position ${k} of indices) is out of range for ${where} of size ${size}; ` +
          `expected 0 <= index < ${size} (negative indices are not allowed)`,
      )
  }
}

/**
 * Picks entries of `x` along `axis` (NumPy `take`): the result has shape
 * `x.shape[:axis] + indices.shape + x.shape[axis+1:]`. Indices are int32 in `[0, x.shape[axis])`.
 * @example
 * gather(embeddings, tokenIds)  // [vocab, dim] with ids [batch, seq] -> [batch, seq, dim]
 * gather(x, columns, 1)         // picks columns of a matrix
 * @throws DTypeError for non-int32 indices; ValueError for an out-of-range index or axis.
 * @since 0.1.0
 */
export const gather = (x: Tensor, indices: Tensor, axis = 0): Tensor => {
  const op = 'gather'
  requireConcrete(op, 'x', x)
  requireConcrete(op, 'indices', indices)
  const xShape = x.shape
  checkIndexDtype(op, indices, indices.shape)
  const at = resolveAxis(op, axis, xShape.length, xShape, 'x')
  checkIndexRange(op, indices, xShape[at]!, `axis ${at} of x of shape ${fmtShape(xShape)}`)
  return getBackend().gather(x, indices, at)
}

/**
 * The adjoint of `gather`: a zero tensor of `shape` (the shape of `gather`'s `x`) into which each
 * slice of `updates` is added at the position its index names; repeated indices accumulate.
 * `updates` must have the shape `gather(x, indices, axis)` would return.
 * @example
 * scatterAdd(cotangent, tokenIds, 0, [vocab, dim]) // the gradient of an embedding lookup
 * @throws ShapeError when `updates` has the wrong shape; DTypeError / ValueError as for `gather`.
 * @since 0.1.0
 */
export const scatterAdd = (
  updates: Tensor,
  indices: Tensor,
  axis: number,
  shape: ReadonlyArray<number>,
): Tensor => {
  const op = 'scatterAdd'
  requireConcrete(op, 'updates', updates)
  requireConcrete(op, 'indices', indices)
  checkShape(op, shape)
  const indexShape = indices.shape
  const updatesShape = updates.shape
  checkIndexDtype(op, indices, indexShape)
  const at = resolveAxis(op, axis, shape.length, shape, 'the result')
  const expected = [...shape.slice(0, at), ...indexShape, ...shape.slice(at + 1)]
  if (!shapesEqual(updatesShape, expected))
    throw new ShapeError(
      op,
      `updates has shape ${fmtShape(updatesShape)} but gathering axis ${at} of shape ${fmtShape(shape)} with ` +
        `indices of shape ${fmtShape(indexShape)} gives ${fmtShape(expected)}; expected updates of that shape`,
    )
  checkIndexRange(op, indices, shape[at]!, `axis ${at} of the result shape ${fmtShape(shape)}`)
  return getBackend().scatterAdd(updates, indices, at, [...shape])
}

/**
 * One-hot encoding: shape `indices.shape + [depth]`, 1 where the last coordinate equals the index,
 * 0 elsewhere.
 * @example
 * oneHot(labels, 10) // int32 labels [batch] -> float32 [batch, 10]
 * @throws DTypeError for non-int32 indices; ValueError for a bad depth or an index outside `[0, depth)`.
 * @since 0.1.0
 */
export const oneHot = (indices: Tensor, depth: number, dtype: DType = 'float32'): Tensor => {
  const op = 'oneHot'
  requireConcrete(op, 'indices', indices)
  const indexShape = indices.shape
  checkIndexDtype(op, indices, indexShape)
  if (!Number.isInteger(depth) || depth < 0)
    throw new ValueError(
      op,
      `depth ${depth} is not a non-negative integer (indices have shape ${fmtShape(indexShape)})`,
    )
  if (!isDType(dtype))
    throw new DTypeError(op, `dtype ${String(dtype)} is not one of 'float32', 'float64', 'int32'`)
  checkIndexRange(op, indices, depth, `depth (indices of shape ${fmtShape(indexShape)})`)
  return getBackend().oneHot(indices, depth, dtype)
}

/**
 * Checks the `takeAlongAxis` geometry: `indices` has the rank of `shape` and matches it on every
 * axis but `axis`, and is int32 and in range. Returns the resolved axis.
 */
const checkAlongAxis = (
  op: string,
  shape: Shape,
  shapeName: string,
  indices: Tensor,
  indexShape: Shape,
  axis: number,
): number => {
  checkIndexDtype(op, indices, indexShape)
  const rank = shape.length
  const at = resolveAxis(op, axis, rank, shape, shapeName)
  const fits = indexShape.length === rank && indexShape.every((dim, i) => i === at || dim === shape[i])
  if (!fits)
    throw new ShapeError(
      op,
      `indices have shape ${fmtShape(indexShape)} but ${shapeName} has shape ${fmtShape(shape)}; ` +
        `expected the same rank and equal dimensions on every axis but ${at}`,
    )
  checkIndexRange(op, indices, shape[at]!, `axis ${at} of ${shapeName} of shape ${fmtShape(shape)}`)
  return at
}

/**
 * NumPy `take_along_axis`: `out[..., j, ...] = x[..., indices[..., j, ...], ...]` along `axis`.
 * `indices` has the rank of `x` and matches it on every other axis (no broadcasting); the result
 * has the shape of `indices`.
 * @example
 * takeAlongAxis(logProbs, expandDims(labels, 1), 1) // [batch, classes] -> [batch, 1]
 * @throws DTypeError for non-int32 indices; ShapeError for mismatched shapes; ValueError for an out-of-range index.
 * @since 0.1.0
 */
export const takeAlongAxis = (x: Tensor, indices: Tensor, axis: number): Tensor => {
  requireConcrete('takeAlongAxis', 'x', x)
  requireConcrete('takeAlongAxis', 'indices', indices)
  const at = checkAlongAxis('takeAlongAxis', x.shape, 'x', indices, indices.shape, axis)
  return getBackend().takeAlongAxis(x, indices, at)
}

/**
 * The adjoint of `takeAlongAxis`: zeros of `shape` (x's shape), then each element of `updates` is
 * added at the position its index names along `axis`; repeated indices accumulate. `updates` has
 * the shape of `indices`.
 * @example
 * scatterAddAlongAxis(cotangent, expandDims(labels, 1), 1, [batch, classes])
 * @throws ShapeError for mismatched shapes; DTypeError / ValueError as for `takeAlongAxis`.
 * @since 0.1.0
 */
export const scatterAddAlongAxis = (
  updates: Tensor,
  indices: Tensor,
  axis: number,
  shape: ReadonlyArray<number>,
): Tensor => {
  const op = 'scatterAddAlongAxis'
  requireConcrete(op, 'updates', updates)
  requireConcrete(op, 'indices', indices)
  checkShape(op, shape)
  const indexShape = indices.shape
  const updatesShape = updates.shape
  if (!shapesEqual(updatesShape, indexShape))
    throw new ShapeError(
      op,
      `updates have shape ${fmtShape(updatesShape)} but indices have shape ${fmtShape(indexShape)}; expected equal shapes`,
    )
  const at = checkAlongAxis(op, shape, 'the result', indices, indexShape, axis)
  return getBackend().scatterAddAlongAxis(updates, indices, at, shape)
}
