import type { TypedArray } from '../../dtype'
import type { Shape } from '../../shape'
import type { Tensor } from '../../tensor'
import { allocate } from '../../dtype'
import { sizeOf, stridesOf } from '../../shape'
import { unsafeTensor } from '../../tensor'

// Layout loops of the reference backend: transpose, broadcastTo and slice are all one strided
// copy (a view of the input with per-axis strides, read into a fresh contiguous buffer); pad and
// concat copy contiguous rows into place.

/** Rows shorter than this are copied element by element: a `subarray` view costs an allocation. */
const MIN_ROW_FOR_SET = 32

/** Tile edge of the cache-blocked transpose: two 32×32 float64 tiles fit in L1. */
const TILE = 32

interface StridedView {
  readonly dims: number[]
  readonly strides: number[]
}

/**
 * Drops size-1 axes and merges neighbouring axes that are contiguous in the source, so a
 * transpose of `[b, m, n]` by `[0, 2, 1]` stays rank 3 while `[0, 1, 2]` collapses to one
 * flat copy and a broadcast over a trailing block becomes a single fill per row.
 */
const collapse = (shape: Shape, strides: ReadonlyArray<number>): StridedView => {
  const dims: number[] = []
  const merged: number[] = []
  for (let i = 0; i < shape.length; i++) {
    const dim = shape[i]!
    const stride = strides[i]!
    if (dim === 1) continue
    const last = dims.length - 1
    if (last >= 0 && merged[last] === stride * dim) {
      dims[last] = dims[last]! * dim
      merged[last] = stride
    } else {
      dims.push(dim)
      merged.push(stride)
    }
  }
  return { dims, strides: merged }
}

/** `out[dst + j] = src[from + j * stride]` for `j < length`. */
const copyRow = (
  src: TypedArray,
  from: number,
  stride: number,
  length: number,
  out: TypedArray,
  dst: number,
): void => {
  if (stride === 1) {
    if (length >= MIN_ROW_FOR_SET) out.set(src.subarray(from, from + length), dst)
    else for (let j = 0; j < length; j++) out[dst + j] = src[from + j]!
  } else if (stride === 0) {
    out.fill(src[from]!, dst, dst + length)
  } else {
    let at = from
    for (let j = 0; j < length; j++, at += stride) out[dst + j] = src[at]!
  }
}

/**
 * Reads the strided view of `src` (element `[i0, i1, ...]` at `offset + Σ ik * srcStrides[k]`)
 * into the contiguous buffer `out` of shape `outShape`. Strides may be 0 (broadcast) or negative
 * (reversed slice).
 */
const stridedCopy = (
  src: TypedArray,
  offset: number,
  outShape: Shape,
  srcStrides: ReadonlyArray<number>,
  out: TypedArray,
): void => {
  const size = out.length
  if (size === 0) return
  const { dims, strides } = collapse(outShape, srcStrides)
  const rank = dims.length
  if (rank === 0) {
    out[0] = src[offset]!
    return
  }
  const rowLength = dims[rank - 1]!
  const rowStride = strides[rank - 1]!
  // The source's contiguous axis is not the output's last axis (a transpose): reading rows would
  // stride through memory for every element, so copy square tiles of the two axes instead.
  if (rowStride !== 1 && rowStride !== 0) {
    const contiguousAxis = strides.lastIndexOf(1)
    if (contiguousAxis >= 0) {
      blockedTranspose(src, offset, dims, strides, contiguousAxis, out)
      return
    }
  }
  const outerRank = rank - 1
  const counter = new Array<number>(outerRank).fill(0)
  let base = offset
  for (let dst = 0; dst < size; dst += rowLength) {
    copyRow(src, base, rowStride, rowLength, out, dst)
    for (let axis = outerRank - 1; axis >= 0; axis--) {
      base += strides[axis]!
      if (++counter[axis]! < dims[axis]!) break
      base -= strides[axis]! * dims[axis]!
      counter[axis] = 0
    }
  }
}

/**
 * `stridedCopy` when output axis `rowAxis` (not the last) has source stride 1. For each index of
 * the other axes, the `rowAxis × last` plane is read as `src[base + r + c * colStride]` and
 * copied tile by tile, so both the reads and the writes stay within a few cache lines.
 */
const blockedTranspose = (
  src: TypedArray,
  offset: number,
  dims: ReadonlyArray<number>,
  strides: ReadonlyArray<number>,
  rowAxis: number,
  out: TypedArray,
): void => {
  const rank = dims.length
  const outStrides = stridesOf(dims)
  const rows = dims[rowAxis]!
  const cols = dims[rank - 1]!
  const colStride = strides[rank - 1]!
  const rowOutStride = outStrides[rowAxis]!
  // Odometer over every axis but `rowAxis` and the last one, tracking source and output offsets.
  const batchAxes: number[] = []
  for (let axis = 0; axis < rank - 1; axis++) if (axis !== rowAxis) batchAxes.push(axis)
  const batchCount = out.length / (rows * cols)
  const counter = new Array<number>(batchAxes.length).fill(0)
  let base = offset
  let dstBase = 0
  for (let batch = 0; batch < batchCount; batch++) {
    for (let r0 = 0; r0 < rows; r0 += TILE) {
      const rEnd = Math.min(r0 + TILE, rows)
      for (let c0 = 0; c0 < cols; c0 += TILE) {
        const cEnd = Math.min(c0 + TILE, cols)
        // Writes run along the output's contiguous axis: strided writes hit cache-set conflicts
        // when the stride is a power of two (1024×1024 float32 ran ~3× slower that way).
        for (let r = r0; r < rEnd; r++) {
          let from = base + r + c0 * colStride
          const rowStart = dstBase + r * rowOutStride
          for (let c = c0; c < cEnd; c++, from += colStride) out[rowStart + c] = src[from]!
        }
      }
    }
    for (let k = batchAxes.length - 1; k >= 0; k--) {
      const axis = batchAxes[k]!
      base += strides[axis]!
      dstBase += outStrides[axis]!
      if (++counter[k]! < dims[axis]!) break
      base -= strides[axis]! * dims[axis]!
      dstBase -= outStrides[axis]! * dims[axis]!
      counter[k] = 0
    }
  }
}

/**
 * Reference `Backend.transpose`: output axis `k` is input axis `perm[k]`.
 * @since 0.1.0
 */
export const transpose = (x: Tensor, perm: ReadonlyArray<number>): Tensor => {
  const inShape = x.shape
  const dtype = x.dtype
  const inStrides = stridesOf(inShape)
  const outShape = perm.map((axis) => inShape[axis]!)
  const permutedStrides = perm.map((axis) => inStrides[axis]!)
  const out = allocate(dtype, sizeOf(outShape))
  stridedCopy(x.data, 0, outShape, permutedStrides, out)
  return unsafeTensor(dtype, outShape, out)
}

/**
 * Reference `Backend.broadcastTo`: a view with stride 0 on every broadcast axis, materialised.
 * @since 0.1.0
 */
export const broadcastTo = (x: Tensor, shape: Shape): Tensor => {
  const inShape = x.shape
  const dtype = x.dtype
  const inStrides = stridesOf(inShape)
  const lead = shape.length - inShape.length
  const strides = shape.map((_, i) => (i < lead || inShape[i - lead] === 1 ? 0 : inStrides[i - lead]!))
  const outShape = [...shape]
  const out = allocate(dtype, sizeOf(outShape))
  stridedCopy(x.data, 0, outShape, strides, out)
  return unsafeTensor(dtype, outShape, out)
}

/**
 * Reference `Backend.slice`: element `j` along axis `i` is input element `start[i] + j * step[i]`.
 * @since 0.1.0
 */
export const slice = (
  x: Tensor,
  start: ReadonlyArray<number>,
  step: ReadonlyArray<number>,
  outShape: Shape,
): Tensor => {
  const dtype = x.dtype
  const inStrides = stridesOf(x.shape)
  const shape = [...outShape]
  const out = allocate(dtype, sizeOf(shape))
  // An empty result may carry a start one past the end (Python's clamping); never read it.
  if (out.length === 0) return unsafeTensor(dtype, shape, out)
  let offset = 0
  for (let i = 0; i < inStrides.length; i++) offset += start[i]! * inStrides[i]!
  const strides = inStrides.map((stride, i) => stride * step[i]!)
  stridedCopy(x.data, offset, shape, strides, out)
  return unsafeTensor(dtype, shape, out)
}

/**
 * Reference `Backend.pad`: a buffer filled with `value`, then `x` copied row by row into its interior.
 * @since 0.1.0
 */
export const pad = (x: Tensor, pads: ReadonlyArray<readonly [number, number]>, value: number): Tensor => {
  const inShape = x.shape
  const dtype = x.dtype
  const data = x.data
  const outShape = inShape.map((dim, i) => pads[i]![0] + dim + pads[i]![1])
  const out = allocate(dtype, sizeOf(outShape))
  if (value !== 0) out.fill(value)
  if (data.length === 0) return unsafeTensor(dtype, outShape, out)
  const outStrides = stridesOf(outShape)
  let offset = 0
  for (let i = 0; i < outStrides.length; i++) offset += pads[i]![0] * outStrides[i]!
  // The source is contiguous, so the destination's contiguity alone decides which axes merge.
  const { dims, strides } = collapse(inShape, outStrides)
  const rank = dims.length
  if (rank === 0) {
    out[offset] = data[0]!
    return unsafeTensor(dtype, outShape, out)
  }
  const rowLength = dims[rank - 1]!
  const rowStride = strides[rank - 1]!
  const outerRank = rank - 1
  const counter = new Array<number>(outerRank).fill(0)
  let base = offset
  for (let from = 0; from < data.length; from += rowLength) {
    if (rowStride === 1 && rowLength >= MIN_ROW_FOR_SET) out.set(data.subarray(from, from + rowLength), base)
    else for (let j = 0; j < rowLength; j++) out[base + j * rowStride] = data[from + j]!
    for (let axis = outerRank - 1; axis >= 0; axis--) {
      base += strides[axis]!
      if (++counter[axis]! < dims[axis]!) break
      base -= strides[axis]! * dims[axis]!
      counter[axis] = 0
    }
  }
  return unsafeTensor(dtype, outShape, out)
}

/**
 * Reference `Backend.concat`: for each index of the axes before `axis`, one contiguous block per input.
 * @since 0.1.0
 */
export const concat = (xs: ReadonlyArray<Tensor>, axis: number): Tensor => {
  const first = xs[0]!
  const dtype = first.dtype
  const firstShape = first.shape
  const datas = xs.map((x) => x.data)
  const blocks = xs.map((x) => sizeOf(x.shape.slice(axis)))
  const outer = sizeOf(firstShape.slice(0, axis))
  const inner = sizeOf(firstShape.slice(axis + 1))
  let axisTotal = 0
  for (const x of xs) axisTotal += x.shape[axis]!
  const outShape = [...firstShape.slice(0, axis), axisTotal, ...firstShape.slice(axis + 1)]
  const out = allocate(dtype, outer * axisTotal * inner)
  let dst = 0
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < datas.length; k++) {
      const data = datas[k]!
      const block = blocks[k]!
      const from = o * block
      if (block >= MIN_ROW_FOR_SET) out.set(data.subarray(from, from + block), dst)
      else for (let j = 0; j < block; j++) out[dst + j] = data[from + j]!
      dst += block
    }
  }
  return unsafeTensor(dtype, outShape, out)
}
