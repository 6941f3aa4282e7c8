import type { DType, TypedArray } from '../../dtype'
import type { Shape } from '../../shape'
import type { Tensor } from '../../tensor'
import { allocate } from '../../dtype'
import { sizeOf } from '../../shape'
import { unsafeTensor } from '../../tensor'

// Index loops of the reference backend. Every input arrives validated: indices are int32 and in
// range. `gather` and `scatterAdd` view the data as `[outer, axisSize, inner]` and move whole
// `inner` blocks per index.

/** Blocks shorter than this are copied element by element: a `subarray` view costs an allocation. */
const MIN_ROW_FOR_SET = 32

/** Sizes of the axes before and after `axis`. */
const outerInner = (shape: Shape, axis: number): readonly [number, number] => [
  sizeOf(shape.slice(0, axis)),
  sizeOf(shape.slice(axis + 1)),
]

/**
 * Reference `Backend.gather` (NumPy `take`): `out[o, j, i] = x[o, indices[j], i]`.
 * @since 0.1.0
 */
export const gather = (x: Tensor, indices: Tensor, axis: number): Tensor => {
  const shape = x.shape
  const dtype = x.dtype
  const data = x.data
  const indexShape = indices.shape
  const index = indices.data
  const count = sizeOf(indexShape)
  const axisSize = shape[axis]!
  const [outer, inner] = outerInner(shape, axis)
  const outShape = [...shape.slice(0, axis), ...indexShape, ...shape.slice(axis + 1)]
  const out = allocate(dtype, outer * count * inner)
  let dst = 0
  for (let o = 0; o < outer; o++) {
    const srcBase = o * axisSize * inner
    for (let j = 0; j < count; j++, dst += inner) {
      const from = srcBase + index[j]! * inner
      if (inner >= MIN_ROW_FOR_SET) out.set(data.subarray(from, from + inner), dst)
      else for (let i = 0; i < inner; i++) out[dst + i] = data[from + i]!
    }
  }
  return unsafeTensor(dtype, outShape, out)
}

/**
 * Reference `Backend.scatterAdd`, the adjoint of `gather`: zeros of `outShape`, then
 * `out[o, indices[j], i] += updates[o, j, i]` (repeated indices accumulate).
 * @since 0.1.0
 */
export const scatterAdd = (updates: Tensor, indices: Tensor, axis: number, outShape: Shape): Tensor => {
  const dtype = updates.dtype
  const data = updates.data
  const index = indices.data
  const count = sizeOf(indices.shape)
  const axisSize = outShape[axis]!
  const [outer, inner] = outerInner(outShape, axis)
  const shape = [...outShape]
  const out = allocate(dtype, sizeOf(shape))
  let from = 0
  for (let o = 0; o < outer; o++) {
    const dstBase = o * axisSize * inner
    for (let j = 0; j < count; j++, from += inner) {
      const dst = dstBase + index[j]! * inner
      for (let i = 0; i < inner; i++) out[dst + i] = out[dst + i]! + data[from + i]!
    }
  }
  return unsafeTensor(dtype, shape, out)
}

/**
 * One-hot encoding: `out[..., k] = 1` where `k = indices[...]`, else 0; shape `indices.shape + [depth]`.
 * Not (yet) a `Backend` method: `oneHot` in `kernels/gather` calls it directly.
 * @since 0.1.0
 */
export const oneHotLoop = (indices: Tensor, depth: number, dtype: DType): Tensor => {
  const index = indices.data
  const outShape = [...indices.shape, depth]
  const count = sizeOf(indices.shape)
  const out = allocate(dtype, count * depth)
  for (let j = 0; j < count; j++) out[j * depth + index[j]!] = 1
  return unsafeTensor(dtype, outShape, out)
}

/**
 * `indices` (and the result of `takeAlongAxis`) viewed as `[outer, indexAxis, inner]` around `axis`;
 * flat position `at` of it pairs with x's flat position `(o * axisSize + indices[at]) * inner + i`.
 */
const alongAxisGeometry = (
  indexShape: Shape,
  axis: number,
): { readonly outer: number; readonly indexAxis: number; readonly inner: number } => {
  const [outer, inner] = outerInner(indexShape, axis)
  return { outer, indexAxis: indexShape[axis]!, inner }
}

/**
 * NumPy `take_along_axis`: `out[o, j, i] = x[o, indices[o, j, i], i]`; `indices` has x's rank and
 * matches x on every axis but `axis`; the result has `indices.shape`.
 * Not (yet) a `Backend` method: `takeAlongAxis` in `kernels/gather` calls it directly.
 * @since 0.1.0
 */
export const takeAlongAxisLoop = (x: Tensor, indices: Tensor, axis: number): Tensor => {
  const dtype = x.dtype
  const data = x.data
  const axisSize = x.shape[axis]!
  const indexShape = [...indices.shape]
  const index = indices.data
  const { outer, indexAxis, inner } = alongAxisGeometry(indexShape, axis)
  const out: TypedArray = allocate(dtype, outer * indexAxis * inner)
  let at = 0
  for (let o = 0; o < outer; o++) {
    const srcBase = o * axisSize * inner
    for (let j = 0; j < indexAxis; j++) {
      for (let i = 0; i < inner; i++, at++) out[at] = data[srcBase + index[at]! * inner + i]!
    }
  }
  return unsafeTensor(dtype, indexShape, out)
}

/**
 * Adjoint of `takeAlongAxisLoop`: zeros of `shape`, then `out[o, indices[o, j, i], i] += updates[o, j, i]`.
 * Not (yet) a `Backend` method: `scatterAddAlongAxis` in `kernels/gather` calls it directly.
 * @since 0.1.0
 */
export const scatterAddAlongAxisLoop = (
  updates: Tensor,
  indices: Tensor,
  axis: number,
  shape: Shape,
): Tensor => {
  const dtype = updates.dtype
  const data = updates.data
  const index = indices.data
  const outShape = [...shape]
  const axisSize = outShape[axis]!
  const { outer, indexAxis, inner } = alongAxisGeometry(indices.shape, axis)
  const out = allocate(dtype, sizeOf(outShape))
  let at = 0
  for (let o = 0; o < outer; o++) {
    const dstBase = o * axisSize * inner
    for (let j = 0; j < indexAxis; j++) {
      for (let i = 0; i < inner; i++, at++) {
        const dst = dstBase + index[at]! * inner + i
        out[dst] = out[dst]! + data[at]!
      }
    }
  }
  return unsafeTensor(dtype, outShape, out)
}
