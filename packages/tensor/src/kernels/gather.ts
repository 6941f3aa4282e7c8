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

/** Throws a `DTypeError` unless the indices (of `indexDtype` and `indexShape`) are int32. */
const checkIndexDtype = (op: string, indexDtype: DType, indexShape: Shape): void => {
  if (indexDtype !== 'int32')
    throw new DTypeError(
      op,
      `indices must be int32, got ${indexDtype} of shape ${fmtShape(indexShape)}; cast them to int32 first`,
    )
}

/**
 * Throws a `ValueError` naming the first index outside `[0, size)`. A validation pass, not a
 * compute loop: the backends rely on every index being in range. `where` may be a function, called
 * only for the error (oneHot checks a training step's labels every step).
 */
const checkIndexRange = (op: string, indices: Tensor, size: number, where: string | (() => string)): void => {
  const index = indices.data
  for (let k = 0; k < index.length; k++) {
    const value = index[k]!
    if (value < 0 || value >= size)
      throw new ValueError(
        op,
        `index ${value} (at flat position ${k} of indices) is out of range for ${typeof where === 'string' ? where : where()} of size ${size}; ` +
          `expected 0 <= index < ${size} (negative indices are not allowed)`,
      )
  }
}

/**
 * The geometry of `gather`: every check that needs no index values (dtype, axis), the resolved
 * axis and the output shape. Shared by the kernel and `gatherShape`.
 */
const gatherPlan = (
  xShape: Shape,
  indexShape: Shape,
  indexDtype: DType,
  axis: number,
): { readonly at: number; readonly outShape: number[] } => {
  const op = 'gather'
  checkIndexDtype(op, indexDtype, indexShape)
  const at = resolveAxis(op, axis, xShape.length, xShape, 'x')
  return { at, outShape: [...xShape.slice(0, at), ...indexShape, ...xShape.slice(at + 1)] }
}

/**
 * The shape of `gather(x, indices, axis)` for `x` of shape `xShape` and indices of `indexShape`
 * and `indexDtype`, or the error `gather` would throw for them. The index values are not checked
 * (that needs data): `gather` itself still rejects an out-of-range index.
 * @example
 * gatherShape([10, 4], [2, 3], 'int32') // [2, 3, 4]
 * @throws DTypeError for non-int32 indices; ValueError for an out-of-range axis.
 * @since 0.2.0
 */
export const gatherShape = (xShape: Shape, indexShape: Shape, indexDtype: DType, axis = 0): number[] =>
  gatherPlan(xShape, indexShape, indexDtype, axis).outShape

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
  const { at } = gatherPlan(xShape, indices.shape, indices.dtype, axis)
  checkIndexRange(op, indices, xShape[at]!, `axis ${at} of x of shape ${fmtShape(xShape)}`)
  return getBackend().gather(x, indices, at)
}

/**
 * The geometry of `scatterAdd`: the result shape, the index dtype, the axis and the updates'
 * shape checked (everything but the index values); returns the resolved axis.
 */
const scatterAddPlan = (
  updatesShape: Shape,
  indexShape: Shape,
  indexDtype: DType,
  axis: number,
  shape: ReadonlyArray<number>,
): number => {
  const op = 'scatterAdd'
  checkShape(op, shape)
  checkIndexDtype(op, indexDtype, indexShape)
  const at = resolveAxis(op, axis, shape.length, shape, 'the result')
  const expected = [...shape.slice(0, at), ...indexShape, ...shape.slice(at + 1)]
  if (!shapesEqual(updatesShape, expected))
    throw new ShapeError(
      op,
      `updates has shape ${fmtShape(updatesShape)} but gathering axis ${at} of shape ${fmtShape(shape)} with ` +
        `indices of shape ${fmtShape(indexShape)} gives ${fmtShape(expected)}; expected updates of that shape`,
    )
  return at
}

/**
 * The shape of `scatterAdd(updates, indices, axis, shape)` (that is, `shape`) for updates of
 * `updatesShape` and indices of `indexShape` and `indexDtype`, or the error `scatterAdd` would
 * throw for them. The index values are not checked (that needs data): `scatterAdd` still does.
 * @example
 * scatterAddShape([2, 3, 4], [2, 3], 'int32', 0, [10, 4]) // [10, 4]
 * @throws ShapeError when `updates` has the wrong shape; DTypeError / ValueError as for `gatherShape`.
 * @since 0.2.0
 */
export const scatterAddShape = (
  updatesShape: Shape,
  indexShape: Shape,
  indexDtype: DType,
  axis: number,
  shape: ReadonlyArray<number>,
): number[] => {
  scatterAddPlan(updatesShape, indexShape, indexDtype, axis, shape)
  return [...shape]
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
  const at = scatterAddPlan(updates.shape, indices.shape, indices.dtype, axis, shape)
  checkIndexRange(op, indices, shape[at]!, `axis ${at} of the result shape ${fmtShape(shape)}`)
  return getBackend().scatterAdd(updates, indices, at, [...shape])
}

/**
 * The shape of `oneHot(indices, depth, dtype)`, `indexShape + [depth]`, for indices of
 * `indexShape` and `indexDtype`, or the error `oneHot` would throw for them. The index values are
 * not checked (that needs data): `oneHot` itself still rejects an index outside `[0, depth)`.
 * @example
 * oneHotShape([32], 'int32', 10, 'float32') // [32, 10]
 * @throws DTypeError for non-int32 indices or an unknown dtype; ValueError for a bad depth.
 * @since 0.2.0
 */
export const oneHotShape = (indexShape: Shape, indexDtype: DType, depth: number, dtype: DType): number[] => {
  const op = 'oneHot'
  checkIndexDtype(op, indexDtype, indexShape)
  if (!Number.isInteger(depth) || depth < 0)
    throw new ValueError(
      op,
      `depth ${depth} is not a non-negative integer (indices have shape ${fmtShape(indexShape)})`,
    )
  if (!isDType(dtype))
    throw new DTypeError(op, `dtype ${String(dtype)} is not one of 'float32', 'float64', 'int32'`)
  return [...indexShape, depth]
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
  oneHotShape(indexShape, indices.dtype, depth, dtype)
  checkIndexRange(op, indices, depth, () => `depth (indices of shape ${fmtShape(indexShape)})`)
  return getBackend().oneHot(indices, depth, dtype)
}

/**
 * The `takeAlongAxis` geometry, every check that needs no index values: `indices` is int32, has
 * the rank of `shape` and matches it on every axis but `axis`. Returns the resolved axis.
 */
const alongAxisPlan = (
  op: string,
  shape: Shape,
  shapeName: string,
  indexShape: Shape,
  indexDtype: DType,
  axis: number,
): number => {
  checkIndexDtype(op, indexDtype, indexShape)
  const rank = shape.length
  const at = resolveAxis(op, axis, rank, shape, shapeName)
  const fits = indexShape.length === rank && indexShape.every((dim, i) => i === at || dim === shape[i])
  if (!fits)
    throw new ShapeError(
      op,
      `indices have shape ${fmtShape(indexShape)} but ${shapeName} has shape ${fmtShape(shape)}; ` +
        `expected the same rank and equal dimensions on every axis but ${at}`,
    )
  return at
}

/**
 * The shape of `takeAlongAxis(x, indices, axis)` (that of the indices) for `x` of shape `xShape`
 * and indices of `indexShape` and `indexDtype`, or the error `takeAlongAxis` would throw for them.
 * The index values are not checked (that needs data): `takeAlongAxis` itself still does.
 * @example
 * takeAlongAxisShape([32, 10], [32, 1], 'int32', 1) // [32, 1]
 * @throws DTypeError for non-int32 indices; ShapeError for mismatched shapes; ValueError for a bad axis.
 * @since 0.2.0
 */
export const takeAlongAxisShape = (
  xShape: Shape,
  indexShape: Shape,
  indexDtype: DType,
  axis: number,
): number[] => {
  alongAxisPlan('takeAlongAxis', xShape, 'x', indexShape, indexDtype, axis)
  return [...indexShape]
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
  const op = 'takeAlongAxis'
  requireConcrete(op, 'x', x)
  requireConcrete(op, 'indices', indices)
  const xShape = x.shape
  const at = alongAxisPlan(op, xShape, 'x', indices.shape, indices.dtype, axis)
  checkIndexRange(op, indices, xShape[at]!, `axis ${at} of x of shape ${fmtShape(xShape)}`)
  return getBackend().takeAlongAxis(x, indices, at)
}

/** The `scatterAddAlongAxis` geometry (see `alongAxisPlan`), `updates` shaped as the indices too. */
const scatterAlongAxisPlan = (
  updatesShape: Shape,
  indexShape: Shape,
  indexDtype: DType,
  axis: number,
  shape: ReadonlyArray<number>,
): number => {
  const op = 'scatterAddAlongAxis'
  checkShape(op, shape)
  if (!shapesEqual(updatesShape, indexShape))
    throw new ShapeError(
      op,
      `updates have shape ${fmtShape(updatesShape)} but indices have shape ${fmtShape(indexShape)}; expected equal shapes`,
    )
  return alongAxisPlan(op, shape, 'the result', indexShape, indexDtype, axis)
}

/**
 * The shape of `scatterAddAlongAxis(updates, indices, axis, shape)` (that is, `shape`) for
 * updates of `updatesShape` and indices of `indexShape` and `indexDtype`, or the error
 * `scatterAddAlongAxis` would throw for them. The index values are not checked (that needs data).
 * @example
 * scatterAddAlongAxisShape([32, 1], [32, 1], 'int32', 1, [32, 10]) // [32, 10]
 * @throws ShapeError for mismatched shapes; DTypeError / ValueError as for `takeAlongAxisShape`.
 * @since 0.2.0
 */
export const scatterAddAlongAxisShape = (
  updatesShape: Shape,
  indexShape: Shape,
  indexDtype: DType,
  axis: number,
  shape: ReadonlyArray<number>,
): number[] => {
  scatterAlongAxisPlan(updatesShape, indexShape, indexDtype, axis, shape)
  return [...shape]
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
  const at = scatterAlongAxisPlan(updates.shape, indices.shape, indices.dtype, axis, shape)
  checkIndexRange(op, indices, shape[at]!, `axis ${at} of the result of shape ${fmtShape(shape)}`)
  return getBackend().scatterAddAlongAxis(updates, indices, at, shape)
}
