import type { Conv2dSpec } from '../../backend'
import type { Shape } from '../../shape'
import type { Tensor } from '../../tensor'
import { unsafeTensor } from '../../tensor'
import {
  conv2d as referenceConv2d,
  conv2dBackwardInput as referenceConv2dBackwardInput,
  conv2dBackwardFilter as referenceConv2dBackwardFilter,
  geometry as referenceGeometry,
  type Geometry as ReferenceGeometry,
} from '../reference/conv'
import { gemmInstance, orFallback } from './runtime'
import { gemm, threadedArena } from './threads'

// Convolution as GEMM, as in the reference backend, with im2col / col2im and the products all in
// wasm memory (im2col in TypeScript cost 60% of a forward pass before it moved into wasm). For one image, col is [C·kH·kW, outH·outW]:
//   forward          y[n]  = W · col[n]
//   backward-input   dx[n] = col2im(Wᵀ · dy[n])
//   backward-filter  dW    = Σ_n dy[n] · col[n]ᵀ
// Memory per call holds W (or dW), one col matrix and one image's input/output, not the batch.
// With groups, each group's rows of W, col and y are contiguous blocks: one GEMM per group on them.

/** Below this many multiply-adds per image the reference loop wins (see matmul.ts). */
const MIN_WORK = 512

/** The reference backend's geometry plus the GEMM view of one image. */
interface Geometry extends ReferenceGeometry {
  /** Rows of `col`: C·kH·kW. */
  readonly depth: number
  /** Rows of `col` per group: (C / groups)·kH·kW, the length of a row of W. */
  readonly groupDepth: number
  /** Columns of `col`: outH·outW. */
  readonly positions: number
  readonly imageSize: number
}

const geometry = (xShape: Shape, wShape: Shape, p: Conv2dSpec): Geometry => {
  const g = referenceGeometry(xShape, wShape, p)
  return {
    ...g,
    depth: g.channels * g.kernelH * g.kernelW,
    groupDepth: (g.channels / g.groups) * g.kernelH * g.kernelW,
    positions: g.outH * g.outW,
    imageSize: g.channels * g.inH * g.inW,
  }
}

/** Runs the wasm `im2col` (or `col2im` when `adjoint`) between the image and col at these byte addresses. */
const patches = (adjoint: boolean, imageAt: number, colAt: number, g: Geometry): void => {
  const { im2col, col2im } = gemmInstance()
  // Explicit arguments: a spread call into wasm costs more than the patch copy of a small image.
  ;(adjoint ? col2im : im2col)(
    imageAt,
    colAt,
    g.channels,
    g.inH,
    g.inW,
    g.kernelH,
    g.kernelW,
    g.outH,
    g.outW,
    g.strideH,
    g.strideW,
    g.padTop,
    g.padLeft,
    g.dilationH,
    g.dilationW,
  )
}

/** float32 `Backend.conv2d` on the wasm GEMM, whatever the size. */
export const wasmConv2dFloat32 = (x: Tensor, w: Tensor, p: Conv2dSpec): Tensor => {
  const xShape = x.shape
  const xData = x.data
  const wData = w.data
  const g = geometry(xShape, w.shape, p)
  const batch = xShape[0]!
  const outChannels = w.shape[0]!
  const { depth, groupDepth, positions, imageSize } = g
  const groupOut = outChannels / g.groups
  const outImage = outChannels * positions
  const outShape = [batch, outChannels, g.outH, g.outW]
  const out = new Float32Array(batch * outImage)
  // No input channels: every output is an empty sum.
  if (out.length === 0 || depth === 0) return unsafeTensor('float32', outShape, out)
  const colSize = g.pointwise ? 0 : depth * positions
  const { heap, base } = threadedArena(
    wData.length + imageSize + colSize + outImage,
    groupOut * groupDepth * positions,
  )
  const wAt = base
  const imageAt = wAt + wData.length * 4
  const colAt = g.pointwise ? imageAt : imageAt + imageSize * 4
  const yAt = imageAt + (imageSize + colSize) * 4
  heap.set(wData, wAt >> 2)
  heap.fill(0, colAt >> 2, (colAt >> 2) + colSize)
  for (let n = 0; n < batch; n++) {
    heap.set(xData.subarray(n * imageSize, (n + 1) * imageSize), imageAt >> 2)
    if (!g.pointwise) patches(false, imageAt, colAt, g)
    for (let group = 0; group < g.groups; group++) {
      const wBlock = wAt + group * groupOut * groupDepth * 4
      const colBlock = colAt + group * groupDepth * positions * 4
      const yBlock = yAt + group * groupOut * positions * 4
      gemm(false, false, groupOut, positions, groupDepth, wBlock, colBlock, yBlock, positions, false)
    }
    out.set(heap.subarray(yAt >> 2, (yAt >> 2) + outImage), n * outImage)
  }
  return unsafeTensor('float32', outShape, out)
}

/** float32 `Backend.conv2dBackwardInput` on the wasm GEMM, whatever the size. */
export const wasmConv2dBackwardInputFloat32 = (
  dy: Tensor,
  w: Tensor,
  xShape: Shape,
  p: Conv2dSpec,
): Tensor => {
  const dyData = dy.data
  const wData = w.data
  const g = geometry(xShape, w.shape, p)
  const batch = xShape[0]!
  const outChannels = w.shape[0]!
  const { depth, groupDepth, positions, imageSize } = g
  const groupOut = outChannels / g.groups
  const dyImage = outChannels * positions
  const dx = new Float32Array(batch * imageSize)
  const outShape = [...xShape]
  if (dx.length === 0 || positions === 0 || outChannels === 0) return unsafeTensor('float32', outShape, dx)
  const colSize = depth * positions
  const { heap, base } = threadedArena(
    wData.length + dyImage + colSize + imageSize,
    groupOut * groupDepth * positions,
  )
  const wAt = base
  const dyAt = wAt + wData.length * 4
  const colAt = dyAt + dyImage * 4
  const imageAt = colAt + colSize * 4
  heap.set(wData, wAt >> 2)
  for (let n = 0; n < batch; n++) {
    heap.set(dyData.subarray(n * dyImage, (n + 1) * dyImage), dyAt >> 2)
    for (let group = 0; group < g.groups; group++) {
      const wBlock = wAt + group * groupOut * groupDepth * 4
      const dyBlock = dyAt + group * groupOut * positions * 4
      const colBlock = colAt + group * groupDepth * positions * 4
      gemm(true, false, groupDepth, positions, groupOut, wBlock, dyBlock, colBlock, positions, false)
    }
    if (g.pointwise) {
      dx.set(heap.subarray(colAt >> 2, (colAt >> 2) + colSize), n * imageSize)
    } else {
      heap.fill(0, imageAt >> 2, (imageAt >> 2) + imageSize)
      patches(true, imageAt, colAt, g)
      dx.set(heap.subarray(imageAt >> 2, (imageAt >> 2) + imageSize), n * imageSize)
    }
  }
  return unsafeTensor('float32', outShape, dx)
}

/** float32 `Backend.conv2dBackwardFilter` on the wasm GEMM, whatever the size. */
export const wasmConv2dBackwardFilterFloat32 = (
  x: Tensor,
  dy: Tensor,
  wShape: Shape,
  p: Conv2dSpec,
): Tensor => {
  const xShape = x.shape
  const xData = x.data
  const dyData = dy.data
  const g = geometry(xShape, wShape, p)
  const batch = xShape[0]!
  const outChannels = wShape[0]!
  const { depth, groupDepth, positions, imageSize } = g
  const groupOut = outChannels / g.groups
  const dyImage = outChannels * positions
  const dwSize = outChannels * groupDepth
  const outShape = [...wShape]
  if (dwSize === 0 || batch === 0 || positions === 0) {
    return unsafeTensor('float32', outShape, new Float32Array(dwSize))
  }
  const colSize = g.pointwise ? 0 : depth * positions
  const { heap, base } = threadedArena(
    dwSize + dyImage + imageSize + colSize,
    groupOut * groupDepth * positions,
  )
  const dwAt = base
  const dyAt = dwAt + dwSize * 4
  const imageAt = dyAt + dyImage * 4
  const colAt = g.pointwise ? imageAt : imageAt + imageSize * 4
  heap.fill(0, colAt >> 2, (colAt >> 2) + colSize)
  for (let n = 0; n < batch; n++) {
    heap.set(dyData.subarray(n * dyImage, (n + 1) * dyImage), dyAt >> 2)
    heap.set(xData.subarray(n * imageSize, (n + 1) * imageSize), imageAt >> 2)
    if (!g.pointwise) patches(false, imageAt, colAt, g)
    for (let group = 0; group < g.groups; group++) {
      const dyBlock = dyAt + group * groupOut * positions * 4
      const colBlock = colAt + group * groupDepth * positions * 4
      const dwBlock = dwAt + group * groupOut * groupDepth * 4
      gemm(false, true, groupOut, groupDepth, positions, dyBlock, colBlock, dwBlock, groupDepth, n > 0)
    }
  }
  return unsafeTensor('float32', outShape, heap.slice(dwAt >> 2, (dwAt >> 2) + dwSize))
}

const workPerImage = (xShape: Shape, wShape: Shape, p: Conv2dSpec): number => {
  const g = geometry(xShape, wShape, p)
  return wShape[0]! * g.groupDepth * g.positions
}

/**
 * `Backend.conv2d` of the wasm backend: float32 on the SIMD GEMM, everything else on the reference.
 * @since 0.1.0
 */
export const conv2d = (x: Tensor, w: Tensor, p: Conv2dSpec): Tensor =>
  x.dtype === 'float32' && workPerImage(x.shape, w.shape, p) >= MIN_WORK
    ? orFallback(
        () => wasmConv2dFloat32(x, w, p),
        () => referenceConv2d(x, w, p),
      )
    : referenceConv2d(x, w, p)

/**
 * `Backend.conv2dBackwardInput` of the wasm backend.
 * @since 0.1.0
 */
export const conv2dBackwardInput = (dy: Tensor, w: Tensor, xShape: Shape, p: Conv2dSpec): Tensor =>
  dy.dtype === 'float32' && workPerImage(xShape, w.shape, p) >= MIN_WORK
    ? orFallback(
        () => wasmConv2dBackwardInputFloat32(dy, w, xShape, p),
        () => referenceConv2dBackwardInput(dy, w, xShape, p),
      )
    : referenceConv2dBackwardInput(dy, w, xShape, p)

/**
 * `Backend.conv2dBackwardFilter` of the wasm backend.
 * @since 0.1.0
 */
export const conv2dBackwardFilter = (x: Tensor, dy: Tensor, wShape: Shape, p: Conv2dSpec): Tensor =>
  x.dtype === 'float32' && workPerImage(x.shape, wShape, p) >= MIN_WORK
    ? orFallback(
        () => wasmConv2dBackwardFilterFloat32(x, dy, wShape, p),
        () => referenceConv2dBackwardFilter(x, dy, wShape, p),
      )
    : referenceConv2dBackwardFilter(x, dy, wShape, p)
