import type { Pool2dSpec } from '../../backend'
import type { TypedArray } from '../../dtype'
import type { Shape } from '../../shape'
import type { Tensor } from '../../tensor'
import { allocate } from '../../dtype'
import { sizeOf } from '../../shape'
import { unsafeTensor } from '../../tensor'

// Pooling loops. Each window is clipped to the image, which is how padding is honoured: max
// pooling never sees a padded position (as if it held -Infinity), and average pooling sees padded
// positions only through its divisor kH·kW (count_include_pad). The three max-pool ops share one
// pass that finds each window's first maximum.

const pooledShape = (xShape: Shape, p: Pool2dSpec): number[] => {
  const [top, bottom, left, right] = p.padding
  return [
    xShape[0]!,
    xShape[1]!,
    Math.floor((xShape[2]! + top + bottom - p.kernel[0]) / p.stride[0]) + 1,
    Math.floor((xShape[3]! + left + right - p.kernel[1]) / p.stride[1]) + 1,
  ]
}

/**
 * For every output element, the flat index into `x` of its window's first maximum in row-major
 * order. NaN beats every number (the first NaN wins), matching PyTorch. The caller guarantees every
 * window overlaps the image.
 */
const windowArgmax = (x: TypedArray, xShape: Shape, outShape: Shape, p: Pool2dSpec): Int32Array => {
  const planes = xShape[0]! * xShape[1]!
  const inH = xShape[2]!
  const inW = xShape[3]!
  const outH = outShape[2]!
  const outW = outShape[3]!
  const [kernelH, kernelW] = p.kernel
  const [strideH, strideW] = p.stride
  const padTop = p.padding[0]
  const padLeft = p.padding[2]
  const argmax = new Int32Array(planes * outH * outW)
  let o = 0
  for (let plane = 0; plane < planes; plane++) {
    const base = plane * inH * inW
    for (let oh = 0; oh < outH; oh++) {
      const top = oh * strideH - padTop
      const hStart = Math.max(top, 0)
      const hEnd = Math.min(top + kernelH, inH)
      for (let ow = 0; ow < outW; ow++, o++) {
        const left = ow * strideW - padLeft
        const wStart = Math.max(left, 0)
        const wEnd = Math.min(left + kernelW, inW)
        let bestAt = base + hStart * inW + wStart
        let best = x[bestAt]!
        for (let h = hStart; h < hEnd; h++) {
          const row = base + h * inW
          for (let at = row + wStart; at < row + wEnd; at++) {
            const value = x[at]!
            // `best === best` is false once a NaN has won; `value !== value` is true for NaN.
            if (value > best || (value !== value && best === best)) {
              best = value
              bestAt = at
            }
          }
        }
        argmax[o] = bestAt
      }
    }
  }
  return argmax
}

/**
 * Reference `Backend.maxPool2d`.
 * @since 0.1.0
 */
export const maxPool2d = (x: Tensor, p: Pool2dSpec): Tensor => {
  const dtype = x.dtype
  const xShape = x.shape
  const data = x.data
  const outShape = pooledShape(xShape, p)
  const argmax = windowArgmax(data, xShape, outShape, p)
  const out = allocate(dtype, argmax.length)
  for (let o = 0; o < argmax.length; o++) out[o] = data[argmax[o]!]!
  return unsafeTensor(dtype, outShape, out)
}

/**
 * Reference `Backend.maxPool2dBackward`: the result has `dy`'s dtype and `x`'s shape.
 * @since 0.1.0
 */
export const maxPool2dBackward = (dy: Tensor, x: Tensor, p: Pool2dSpec): Tensor => {
  const dtype = dy.dtype
  const xShape = x.shape
  const cotangent = dy.data
  const argmax = windowArgmax(x.data, xShape, pooledShape(xShape, p), p)
  const dx = allocate(dtype, sizeOf(xShape))
  for (let o = 0; o < argmax.length; o++) {
    const at = argmax[o]!
    dx[at] = dx[at]! + cotangent[o]!
  }
  return unsafeTensor(dtype, [...xShape], dx)
}

/**
 * Reference `Backend.maxPool2dSelect`: the result has `src`'s dtype and the pooled shape.
 * @since 0.1.0
 */
export const maxPool2dSelect = (src: Tensor, x: Tensor, p: Pool2dSpec): Tensor => {
  const dtype = src.dtype
  const source = src.data
  const xShape = x.shape
  const outShape = pooledShape(xShape, p)
  const argmax = windowArgmax(x.data, xShape, outShape, p)
  const out = allocate(dtype, argmax.length)
  for (let o = 0; o < argmax.length; o++) out[o] = source[argmax[o]!]!
  return unsafeTensor(dtype, outShape, out)
}

/**
 * Reference `Backend.avgPool2d` (float input): window sums over the image divided by kH·kW.
 * @since 0.1.0
 */
export const avgPool2d = (x: Tensor, p: Pool2dSpec): Tensor => {
  const dtype = x.dtype
  const xShape = x.shape
  const data = x.data
  const outShape = pooledShape(xShape, p)
  const planes = xShape[0]! * xShape[1]!
  const inH = xShape[2]!
  const inW = xShape[3]!
  const outH = outShape[2]!
  const outW = outShape[3]!
  const [kernelH, kernelW] = p.kernel
  const [strideH, strideW] = p.stride
  const padTop = p.padding[0]
  const padLeft = p.padding[2]
  const area = kernelH * kernelW
  const out = allocate(dtype, planes * outH * outW)
  let o = 0
  for (let plane = 0; plane < planes; plane++) {
    const base = plane * inH * inW
    for (let oh = 0; oh < outH; oh++) {
      const top = oh * strideH - padTop
      const hStart = Math.max(top, 0)
      const hEnd = Math.min(top + kernelH, inH)
      for (let ow = 0; ow < outW; ow++, o++) {
        const left = ow * strideW - padLeft
        const wStart = Math.max(left, 0)
        const wEnd = Math.min(left + kernelW, inW)
        let sum = 0
        for (let h = hStart; h < hEnd; h++) {
          const row = base + h * inW
          for (let at = row + wStart; at < row + wEnd; at++) sum += data[at]!
        }
        out[o] = sum / area
      }
    }
  }
  return unsafeTensor(dtype, outShape, out)
}

/**
 * Reference `Backend.avgPool2dBackward` (float `dy`): each `dy / (kH·kW)` added over its window's in-image part.
 * @since 0.1.0
 */
export const avgPool2dBackward = (dy: Tensor, xShape: Shape, p: Pool2dSpec): Tensor => {
  const dtype = dy.dtype
  const cotangent = dy.data
  const outShape = pooledShape(xShape, p)
  const planes = xShape[0]! * xShape[1]!
  const inH = xShape[2]!
  const inW = xShape[3]!
  const outH = outShape[2]!
  const outW = outShape[3]!
  const [kernelH, kernelW] = p.kernel
  const [strideH, strideW] = p.stride
  const padTop = p.padding[0]
  const padLeft = p.padding[2]
  const area = kernelH * kernelW
  const dx = allocate(dtype, planes * inH * inW)
  let o = 0
  for (let plane = 0; plane < planes; plane++) {
    const base = plane * inH * inW
    for (let oh = 0; oh < outH; oh++) {
      const top = oh * strideH - padTop
      const hStart = Math.max(top, 0)
      const hEnd = Math.min(top + kernelH, inH)
      for (let ow = 0; ow < outW; ow++, o++) {
        const left = ow * strideW - padLeft
        const wStart = Math.max(left, 0)
        const wEnd = Math.min(left + kernelW, inW)
        const share = cotangent[o]! / area
        for (let h = hStart; h < hEnd; h++) {
          const row = base + h * inW
          for (let at = row + wStart; at < row + wEnd; at++) dx[at] = dx[at]! + share
        }
      }
    }
  }
  return unsafeTensor(dtype, [...xShape], dx)
}
