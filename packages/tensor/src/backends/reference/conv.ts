import type { Conv2dSpec } from '../../backend'
import type { TypedArray } from '../../dtype'
import type { Shape } from '../../shape'
import type { Tensor } from '../../tensor'
import { allocate } from '../../dtype'
import { unsafeTensor } from '../../tensor'
import { gemm, gemmScratch } from './matmul'

// Convolution as GEMM. For one image, im2col lays the input out as a [C·kH·kW, outH·outW]
// matrix `col` whose row (c, p, q) holds, for every output position, the input pixel that kernel
// tap (p, q) of channel c sees (zero in the padding). Then, with W viewed as [O, C·kH·kW]:
//   forward          y[n]  = W · col[n]
//   backward-input   dx[n] = col2im(Wᵀ · dy[n])     (col2im adds each col entry back to its pixel)
//   backward-filter  dW    = Σ_n dy[n] · col[n]ᵀ
// all through the blocked `gemm` of matmul.ts. A 1×1 kernel with stride 1 and no padding needs
// no im2col at all: `col` is the image itself.
// With groups, col's rows (c, p, q) fall into one contiguous block per group of channels, as do
// W's rows and y's channels, so each group is the same GEMM on offset blocks: one GEMM per group.

/** Everything the index arithmetic needs, resolved once per call (shared with the wasm backend). */
export interface Geometry {
  readonly channels: number
  readonly inH: number
  readonly inW: number
  readonly kernelH: number
  readonly kernelW: number
  readonly outH: number
  readonly outW: number
  readonly strideH: number
  readonly strideW: number
  readonly padTop: number
  readonly padLeft: number
  readonly dilationH: number
  readonly dilationW: number
  /** The conv reads the image as is: 1×1 kernel, stride 1, no padding. */
  readonly pointwise: boolean
  /** Channel groups (1 without). */
  readonly groups: number
}

export const geometry = (xShape: Shape, wShape: Shape, p: Conv2dSpec): Geometry => {
  const [strideH, strideW] = p.stride
  const [padTop, padBottom, padLeft, padRight] = p.padding
  const [dilationH, dilationW] = p.dilation
  const inH = xShape[2]!
  const inW = xShape[3]!
  const kernelH = wShape[2]!
  const kernelW = wShape[3]!
  return {
    channels: xShape[1]!,
    inH,
    inW,
    kernelH,
    kernelW,
    outH: Math.floor((inH + padTop + padBottom - dilationH * (kernelH - 1) - 1) / strideH) + 1,
    outW: Math.floor((inW + padLeft + padRight - dilationW * (kernelW - 1) - 1) / strideW) + 1,
    strideH,
    strideW,
    padTop,
    padLeft,
    dilationH,
    dilationW,
    pointwise:
      kernelH === 1 &&
      kernelW === 1 &&
      strideH === 1 &&
      strideW === 1 &&
      padTop === 0 &&
      padBottom === 0 &&
      padLeft === 0 &&
      padRight === 0,
    groups: p.groups ?? 1,
  }
}

/** First output index `o` in `[0, outSize)` with `o·stride + shift >= 0`. */
const firstInside = (shift: number, stride: number, outSize: number): number =>
  Math.min(Math.max(Math.ceil(-shift / stride), 0), outSize)

/** One past the last output index `o` with `o·stride + shift < inSize`, at least `from`. */
const endInside = (shift: number, stride: number, inSize: number, outSize: number, from: number): number =>
  Math.max(Math.min(Math.ceil((inSize - shift) / stride), outSize), from)

/**
 * Writes the in-bounds entries of image `src[srcOffset ...]` (C×H×W) into `col`. Padded entries are
 * never written: they depend only on the geometry, so a zero-filled `col` keeps them zero across images.
 */
const im2col = (src: TypedArray, srcOffset: number, g: Geometry, col: TypedArray): void => {
  const { channels, inH, inW, kernelH, kernelW, outH, outW, strideH, strideW } = g
  const positions = outH * outW
  for (let c = 0; c < channels; c++) {
    const plane = srcOffset + c * inH * inW
    for (let p = 0; p < kernelH; p++) {
      const shiftH = p * g.dilationH - g.padTop
      const ohStart = firstInside(shiftH, strideH, outH)
      const ohEnd = endInside(shiftH, strideH, inH, outH, ohStart)
      for (let q = 0; q < kernelW; q++) {
        const shiftW = q * g.dilationW - g.padLeft
        const owStart = firstInside(shiftW, strideW, outW)
        const owEnd = endInside(shiftW, strideW, inW, outW, owStart)
        const colRow = ((c * kernelH + p) * kernelW + q) * positions
        for (let oh = ohStart; oh < ohEnd; oh++) {
          const srcRow = plane + (oh * strideH + shiftH) * inW + shiftW
          const dstRow = colRow + oh * outW
          if (strideW === 1) {
            for (let ow = owStart; ow < owEnd; ow++) col[dstRow + ow] = src[srcRow + ow]!
          } else {
            for (let ow = owStart; ow < owEnd; ow++) col[dstRow + ow] = src[srcRow + ow * strideW]!
          }
        }
      }
    }
  }
}

/** The adjoint of `im2col`: adds every in-bounds entry of `col` to its pixel of `dst[dstOffset ...]`. */
const col2im = (col: TypedArray, g: Geometry, dst: TypedArray, dstOffset: number): void => {
  const { channels, inH, inW, kernelH, kernelW, outH, outW, strideH, strideW } = g
  const positions = outH * outW
  for (let c = 0; c < channels; c++) {
    const plane = dstOffset + c * inH * inW
    for (let p = 0; p < kernelH; p++) {
      const shiftH = p * g.dilationH - g.padTop
      const ohStart = firstInside(shiftH, strideH, outH)
      const ohEnd = endInside(shiftH, strideH, inH, outH, ohStart)
      for (let q = 0; q < kernelW; q++) {
        const shiftW = q * g.dilationW - g.padLeft
        const owStart = firstInside(shiftW, strideW, outW)
        const owEnd = endInside(shiftW, strideW, inW, outW, owStart)
        const colRow = ((c * kernelH + p) * kernelW + q) * positions
        for (let oh = ohStart; oh < ohEnd; oh++) {
          const dstRow = plane + (oh * strideH + shiftH) * inW + shiftW
          const srcRow = colRow + oh * outW
          for (let ow = owStart; ow < owEnd; ow++) {
            const at = dstRow + ow * strideW
            dst[at] = dst[at]! + col[srcRow + ow]!
          }
        }
      }
    }
  }
}

/**
 * Reference `Backend.conv2d`: per image, im2col then `y[n] = W · col` with the blocked GEMM.
 * @since 0.1.0
 */
export const conv2d = (x: Tensor, w: Tensor, p: Conv2dSpec): Tensor => {
  const dtype = x.dtype
  const xShape = x.shape
  const wShape = w.shape
  const xData = x.data
  const wData = w.data
  const g = geometry(xShape, wShape, p)
  const batch = xShape[0]!
  const outChannels = wShape[0]!
  const depth = g.channels * g.kernelH * g.kernelW
  const positions = g.outH * g.outW
  const imageSize = g.channels * g.inH * g.inW
  const outShape = [batch, outChannels, g.outH, g.outW]
  const out = allocate(dtype, batch * outChannels * positions)
  if (out.length === 0) return unsafeTensor(dtype, outShape, out)
  // Per group: W's rows [groupOut, groupDepth] times col's rows [groupDepth, positions].
  const groupOut = outChannels / g.groups
  const groupDepth = depth / g.groups
  const scratch = gemmScratch(dtype, false, positions, groupDepth)
  const col = g.pointwise ? xData : allocate(dtype, depth * positions)
  for (let n = 0; n < batch; n++) {
    let colOffset = n * imageSize
    if (!g.pointwise) {
      im2col(xData, n * imageSize, g, col)
      colOffset = 0
    }
    for (let group = 0; group < g.groups; group++) {
      gemm(
        false,
        false,
        groupOut,
        positions,
        groupDepth,
        wData,
        group * groupOut * groupDepth,
        col,
        colOffset + group * groupDepth * positions,
        out,
        (n * outChannels + group * groupOut) * positions,
        scratch,
      )
    }
  }
  return unsafeTensor(dtype, outShape, out)
}

/**
 * Reference `Backend.conv2dBackwardInput`: per image, `dcol = Wᵀ · dy[n]`, then col2im into `dx[n]`.
 * @since 0.1.0
 */
export const conv2dBackwardInput = (dy: Tensor, w: Tensor, xShape: Shape, p: Conv2dSpec): Tensor => {
  const dtype = dy.dtype
  const wShape = w.shape
  const dyData = dy.data
  const wData = w.data
  const g = geometry(xShape, wShape, p)
  const batch = xShape[0]!
  const outChannels = wShape[0]!
  const depth = g.channels * g.kernelH * g.kernelW
  const positions = g.outH * g.outW
  const imageSize = g.channels * g.inH * g.inW
  const dx = allocate(dtype, batch * imageSize)
  const outShape = [...xShape]
  if (dx.length === 0 || positions === 0 || outChannels === 0) return unsafeTensor(dtype, outShape, dx)
  const groupOut = outChannels / g.groups
  const groupDepth = depth / g.groups
  const scratch = gemmScratch(dtype, false, positions, groupOut)
  const dcol = g.pointwise ? undefined : allocate(dtype, depth * positions)
  // Per group: W's rows [groupOut, groupDepth]ᵀ times dy's channels [groupOut, positions].
  const product = (n: number, into: TypedArray, offset: number): void => {
    for (let group = 0; group < g.groups; group++) {
      gemm(
        true,
        false,
        groupDepth,
        positions,
        groupOut,
        wData,
        group * groupOut * groupDepth,
        dyData,
        (n * outChannels + group * groupOut) * positions,
        into,
        offset + group * groupDepth * positions,
        scratch,
      )
    }
  }
  for (let n = 0; n < batch; n++) {
    if (dcol === undefined) {
      product(n, dx, n * imageSize)
    } else {
      // gemm accumulates, and dcol still holds the previous image's columns.
      dcol.fill(0)
      product(n, dcol, 0)
      col2im(dcol, g, dx, n * imageSize)
    }
  }
  return unsafeTensor(dtype, outShape, dx)
}

/**
 * Reference `Backend.conv2dBackwardFilter`: `dW = Σ_n dy[n] · col[n]ᵀ`, accumulated in place by the GEMM.
 * @since 0.1.0
 */
export const conv2dBackwardFilter = (x: Tensor, dy: Tensor, wShape: Shape, p: Conv2dSpec): Tensor => {
  const dtype = x.dtype
  const xShape = x.shape
  const xData = x.data
  const dyData = dy.data
  const g = geometry(xShape, wShape, p)
  const batch = xShape[0]!
  const outChannels = wShape[0]!
  const depth = g.channels * g.kernelH * g.kernelW
  const positions = g.outH * g.outW
  const imageSize = g.channels * g.inH * g.inW
  const groupOut = outChannels / g.groups
  const groupDepth = depth / g.groups
  const dw = allocate(dtype, outChannels * groupDepth)
  const outShape = [...wShape]
  if (dw.length === 0 || batch === 0 || positions === 0) return unsafeTensor(dtype, outShape, dw)
  // Bᵀ with B = col ([depth, positions]) is packed panel by panel inside the GEMM.
  const scratch = gemmScratch(dtype, true, groupDepth, positions)
  const col = g.pointwise ? xData : allocate(dtype, depth * positions)
  for (let n = 0; n < batch; n++) {
    let colOffset = n * imageSize
    if (!g.pointwise) {
      im2col(xData, n * imageSize, g, col)
      colOffset = 0
    }
    // Per group: dy's channels [groupOut, positions] times col's rows [groupDepth, positions]ᵀ.
    for (let group = 0; group < g.groups; group++) {
      gemm(
        false,
        true,
        groupOut,
        groupDepth,
        positions,
        dyData,
        (n * outChannels + group * groupOut) * positions,
        col,
        colOffset + group * groupDepth * positions,
        dw,
        group * groupOut * groupDepth,
        scratch,
      )
    }
  }
  return unsafeTensor(dtype, outShape, dw)
}
