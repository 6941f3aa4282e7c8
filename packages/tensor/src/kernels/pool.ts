import type { Pool2dSpec } from '../backend'
import type { DType } from '../dtype'
import type { Shape } from '../shape'
import type { Tensor } from '../tensor'
import type { Padding2d } from './conv'
import { getBackend } from '../backend'
import { promoteTypes, toFloat } from '../dtype'
import { ShapeError, ValueError, fmtShape } from '../errors'
import { checkShape, shapesEqual } from '../shape'
import { requireConcrete, unsafeTensor } from '../tensor'
import { positivePair2d, resolvePadding2d } from './conv'

/**
 * Options of the 2-D pooling ops (NCHW input). Scalars apply to both spatial axes; pairs are `[h, w]`.
 * @since 0.1.0
 */
export interface Pool2dOptions {
  /** Window size. */
  readonly kernelSize: number | readonly [number, number]
  /** Step between windows; defaults to `kernelSize` (non-overlapping windows). */
  readonly stride?: number | readonly [number, number]
  /** Default 0. See `Padding2d`; `'same'` gives output size `ceil(in / stride)`. */
  readonly padding?: Padding2d
}

/**
 * Validates and normalises pooling arguments for an NCHW input of shape `xShape`.
 * Throws a `ShapeError` for a rank other than 4, an empty spatial axis or a window larger than the
 * padded input, and a `ValueError` for a non-positive kernel size or stride, a malformed padding,
 * or a padding as large as the window (a window made only of padding has no maximum).
 * @example
 * pool2dSpec('maxPool2d', [1, 3, 8, 8], { kernelSize: 2 })
 * // { kernel: [2, 2], stride: [2, 2], padding: [0, 0, 0, 0] }
 * @since 0.1.0
 */
export const pool2dSpec = (op: string, xShape: Shape, opts: Pool2dOptions): Pool2dSpec => {
  const context = `x ${fmtShape(xShape)}`
  checkShape(op, xShape, 'x shape')
  if (xShape.length !== 4) throw new ShapeError(op, `x must be NCHW (rank 4), got x ${fmtShape(xShape)}`)
  const inH = xShape[2]!
  const inW = xShape[3]!
  if (inH === 0 || inW === 0) {
    throw new ShapeError(
      op,
      `x ${fmtShape(xShape)} has an empty spatial axis; expected height and width >= 1`,
    )
  }
  const kernel = positivePair2d(op, 'kernelSize', opts.kernelSize, context)
  const stride = positivePair2d(op, 'stride', opts.stride ?? kernel, context)
  const padding = resolvePadding2d(op, opts.padding, [inH, inW], kernel, stride, context)
  const [top, bottom, left, right] = padding
  if (top >= kernel[0] || bottom >= kernel[0] || left >= kernel[1] || right >= kernel[1]) {
    throw new ValueError(
      op,
      `padding ${fmtShape(padding)} must be smaller than the window ${fmtShape(kernel)} on each side, so every ` +
        `window covers some of x ${fmtShape(xShape)}`,
    )
  }
  if (kernel[0] > inH + top + bottom || kernel[1] > inW + left + right) {
    throw new ShapeError(
      op,
      `the window ${fmtShape(kernel)} is larger than the padded input ${inH + top + bottom}x${inW + left + right} ` +
        `(x ${fmtShape(xShape)}, padding ${fmtShape(padding)}); use a smaller kernelSize or more padding`,
    )
  }
  return { kernel, stride, padding }
}

/**
 * The output shape `[N, C, outH, outW]` of a pooling op with a spec from `pool2dSpec`, where
 * `outH = floor((H + top + bottom - kH) / strideH) + 1` (likewise `outW`).
 * @since 0.1.0
 */
export const pool2dOutputShape = (xShape: Shape, spec: Pool2dSpec): number[] => {
  const [top, bottom, left, right] = spec.padding
  const outH = Math.floor((xShape[2]! + top + bottom - spec.kernel[0]) / spec.stride[0]) + 1
  const outW = Math.floor((xShape[3]! + left + right - spec.kernel[1]) / spec.stride[1]) + 1
  return [xShape[0]!, xShape[1]!, outH, outW]
}

/** What a plan reads of a value: its shape and dtype, never its data (so it may be abstract). */
type Described = Pick<Tensor, 'shape' | 'dtype'>

/**
 * A pooling op's validated geometry with its result's shape and dtype: what the kernel computes
 * with, and all an abstract evaluation (staging) needs, from shapes and dtypes alone.
 * @since 0.2.0
 */
export interface Pool2dPlan {
  readonly spec: Pool2dSpec
  readonly shape: number[]
  readonly dtype: DType
}

const checkPooledShape = (op: string, name: string, actual: Shape, xShape: Shape, spec: Pool2dSpec): void => {
  const expected = pool2dOutputShape(xShape, spec)
  if (!shapesEqual(actual, expected)) {
    throw new ShapeError(
      op,
      `${name} ${fmtShape(actual)} does not match the pooled shape ${fmtShape(expected)} of x ${fmtShape(xShape)} ` +
        `(kernel ${fmtShape(spec.kernel)}, stride ${fmtShape(spec.stride)}, padding ${fmtShape(spec.padding)})`,
    )
  }
}

/**
 * Validates `maxPool2d(x, opts)` from `x`'s shape and dtype: the pooled shape, `x`'s dtype.
 * @example
 * maxPool2dPlan({ shape: [1, 3, 8, 8], dtype: 'float32' }, { kernelSize: 2 }).shape // [1, 3, 4, 4]
 * @since 0.2.0
 */
export const maxPool2dPlan = (x: Described, opts: Pool2dOptions): Pool2dPlan => {
  const spec = pool2dSpec('maxPool2d', x.shape, opts)
  return { spec, shape: pool2dOutputShape(x.shape, spec), dtype: x.dtype }
}

/**
 * Validates `maxPool2dBackward(dy, x, opts)`: `dy` must have the pooled shape of `x`; the result has
 * `x`'s shape and dtype `promoteTypes(dy, x)`.
 * @since 0.2.0
 */
export const maxPool2dBackwardPlan = (dy: Described, x: Described, opts: Pool2dOptions): Pool2dPlan => {
  const op = 'maxPool2dBackward'
  const spec = pool2dSpec(op, x.shape, opts)
  checkPooledShape(op, 'dy', dy.shape, x.shape, spec)
  return { spec, shape: [...x.shape], dtype: promoteTypes(dy.dtype, x.dtype) }
}

/**
 * Validates `maxPool2dSelect(src, x, opts)`: `src` must have `x`'s shape; the result has the pooled
 * shape and `src`'s dtype.
 * @since 0.2.0
 */
export const maxPool2dSelectPlan = (src: Described, x: Described, opts: Pool2dOptions): Pool2dPlan => {
  const op = 'maxPool2dSelect'
  const spec = pool2dSpec(op, x.shape, opts)
  if (!shapesEqual(src.shape, x.shape)) {
    throw new ShapeError(op, `src ${fmtShape(src.shape)} must have the shape of x ${fmtShape(x.shape)}`)
  }
  return { spec, shape: pool2dOutputShape(x.shape, spec), dtype: src.dtype }
}

/**
 * Validates `avgPool2d(x, opts)`: the pooled shape, dtype `toFloat(x.dtype)` (int32 averages to float32).
 * @since 0.2.0
 */
export const avgPool2dPlan = (x: Described, opts: Pool2dOptions): Pool2dPlan => {
  const spec = pool2dSpec('avgPool2d', x.shape, opts)
  return { spec, shape: pool2dOutputShape(x.shape, spec), dtype: toFloat(x.dtype) }
}

/**
 * Validates `avgPool2dBackward(dy, xShape, opts)`: `dy` must have the pooled shape of `xShape`; the
 * result has shape `xShape` and dtype `toFloat(dy.dtype)`.
 * @since 0.2.0
 */
export const avgPool2dBackwardPlan = (dy: Described, xShape: Shape, opts: Pool2dOptions): Pool2dPlan => {
  const op = 'avgPool2dBackward'
  const spec = pool2dSpec(op, xShape, opts)
  checkPooledShape(op, 'dy', dy.shape, xShape, spec)
  return { spec, shape: [...xShape], dtype: toFloat(dy.dtype) }
}

/** A plain record of `x`'s fields, so a tracer's getters run once. */
const snapshot = (x: Tensor): Tensor => unsafeTensor(x.dtype, x.shape, x.data)

const castTo = (x: Tensor, dtype: DType): Tensor => (x.dtype === dtype ? x : getBackend().cast(x, dtype))

/**
 * 2-D max pooling over NCHW input. Padded positions never win (they act as -Infinity); NaN wins
 * over numbers, as in PyTorch. Keeps `x`'s dtype.
 * @example
 * import { maxPool2d, unsafeTensor } from '@backfold/tensor'
 * const x = unsafeTensor('float32', [1, 1, 2, 4], Float32Array.of(1, 5, 2, 0, 3, 4, 7, 6))
 * maxPool2d(x, { kernelSize: 2 }).data // Float32Array [5, 7]  (shape [1, 1, 1, 2])
 * @since 0.1.0
 */
export const maxPool2d = (x: Tensor, opts: Pool2dOptions): Tensor => {
  requireConcrete('maxPool2d', 'x', x)
  const input = snapshot(x)
  return getBackend().maxPool2d(input, maxPool2dPlan(input, opts).spec)
}

/**
 * Gradient of `maxPool2d(x, opts)` with respect to `x`: each element of the cotangent `dy` goes to
 * the first maximum (row-major within its window) of `x`, as in PyTorch. Result shape `x.shape`,
 * dtype `promoteTypes(dy, x)`.
 * @since 0.1.0
 */
export const maxPool2dBackward = (dy: Tensor, x: Tensor, opts: Pool2dOptions): Tensor => {
  const op = 'maxPool2dBackward'
  requireConcrete(op, 'dy', dy)
  requireConcrete(op, 'x', x)
  const cotangent = snapshot(dy)
  const input = snapshot(x)
  const { spec, dtype } = maxPool2dBackwardPlan(cotangent, input, opts)
  return getBackend().maxPool2dBackward(castTo(cotangent, dtype), input, spec)
}

/**
 * For each pooling window of `x`, the element of `src` at the position of `x`'s first maximum.
 * `src` has `x`'s shape; the result has the pooled shape and `src`'s dtype. This is the adjoint of
 * `maxPool2dBackward` in `dy` (so max pooling can be differentiated twice), and
 * `maxPool2dSelect(x, x, opts)` equals `maxPool2d(x, opts)`.
 * @since 0.1.0
 */
export const maxPool2dSelect = (src: Tensor, x: Tensor, opts: Pool2dOptions): Tensor => {
  const op = 'maxPool2dSelect'
  requireConcrete(op, 'src', src)
  requireConcrete(op, 'x', x)
  const source = snapshot(src)
  const input = snapshot(x)
  return getBackend().maxPool2dSelect(source, input, maxPool2dSelectPlan(source, input, opts).spec)
}

/**
 * 2-D average pooling over NCHW input. Padded positions count as zeros in the divisor
 * (PyTorch's default `count_include_pad = true`), so every window divides by `kH · kW`.
 * int32 input gives float32 (like `mean`).
 * @example
 * import { avgPool2d, unsafeTensor } from '@backfold/tensor'
 * const x = unsafeTensor('float32', [1, 1, 2, 2], Float32Array.of(1, 2, 3, 6))
 * avgPool2d(x, { kernelSize: 2 }).data // Float32Array [3]
 * avgPool2d(x, { kernelSize: 2, stride: 1, padding: 1 }).shape // [1, 1, 3, 3]
 * @since 0.1.0
 */
export const avgPool2d = (x: Tensor, opts: Pool2dOptions): Tensor => {
  requireConcrete('avgPool2d', 'x', x)
  const input = snapshot(x)
  const { spec, dtype } = avgPool2dPlan(input, opts)
  return getBackend().avgPool2d(castTo(input, dtype), spec)
}

/**
 * Gradient of `avgPool2d(x, opts)` with respect to `x` (for `x` of shape `xShape`): each element
 * of the cotangent `dy` is spread evenly, `dy / (kH · kW)`, over the in-bounds part of its window.
 * Result dtype `toFloat(dy.dtype)`.
 * @since 0.1.0
 */
export const avgPool2dBackward = (dy: Tensor, xShape: Shape, opts: Pool2dOptions): Tensor => {
  requireConcrete('avgPool2dBackward', 'dy', dy)
  const cotangent = snapshot(dy)
  const { spec, dtype } = avgPool2dBackwardPlan(cotangent, xShape, opts)
  return getBackend().avgPool2dBackward(castTo(cotangent, dtype), [...xShape], spec)
}
