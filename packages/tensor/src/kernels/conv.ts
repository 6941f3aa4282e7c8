import type { Conv2dSpec } from '../backend'
import type { DType } from '../dtype'
import type { Shape } from '../shape'
import type { Tensor } from '../tensor'
import { getBackend } from '../backend'
import { promoteTypes } from '../dtype'
import { ShapeError, ValueError, fmtShape } from '../errors'
import { checkShape, shapesEqual } from '../shape'
import { requireConcrete, unsafeTensor } from '../tensor'

/**
 * Spatial padding of a 2-D window op:
 * - `p`: `p` rows/columns on every side;
 * - `[h, w]`: `h` rows top and bottom, `w` columns left and right;
 * - `[top, bottom, left, right]`;
 * - `'valid'`: none;
 * - `'same'`: output size `ceil(in / stride)`, padding split as TensorFlow does (the odd extra
 *   row or column goes to the bottom or right).
 * @since 0.1.0
 */
export type Padding2d =
  number | readonly [number, number] | readonly [number, number, number, number] | 'same' | 'valid'

/**
 * Options of `conv2d` and its gradients. Scalars apply to both spatial axes; pairs are `[h, w]`.
 * @since 0.1.0
 */
export interface Conv2dOptions {
  /** Step between window positions; default 1. */
  readonly stride?: number | readonly [number, number]
  /** Default 0. */
  readonly padding?: Padding2d
  /** Spacing between kernel taps; default 1. */
  readonly dilation?: number | readonly [number, number]
  /**
   * Channel groups, default 1 (PyTorch's `groups`): x's channels and w's output channels split into
   * this many blocks, output block g reading only input block g; w is then `[O, C / groups, kH, kW]`.
   * Depthwise convolution is `groups` equal to the input channels. @since 0.2.0
   */
  readonly groups?: number
}

const showOption = (value: unknown): string =>
  Array.isArray(value)
    ? `[${value.map(String).join(',')}]`
    : typeof value === 'string'
      ? `'${value}'`
      : String(value)

const isNonNegativeInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0

/**
 * A positive-integer `[h, w]` option from a scalar or a pair, or a `ValueError` naming `name`.
 * Shared by the conv and pooling specs.
 * @since 0.1.0
 */
export const positivePair2d = (
  op: string,
  name: string,
  value: number | readonly [number, number],
  context: string,
): readonly [number, number] => {
  const pair: ReadonlyArray<unknown> =
    typeof value === 'number' ? [value, value] : Array.isArray(value) ? value : []
  const [h, w] = pair
  if (pair.length !== 2 || !isNonNegativeInteger(h) || !isNonNegativeInteger(w) || h === 0 || w === 0) {
    throw new ValueError(
      op,
      `${name} must be a positive integer or a pair [h, w] of positive integers, got ${showOption(value)} (${context})`,
    )
  }
  return [h, w]
}

/**
 * Normalises a `Padding2d` to `[top, bottom, left, right]` for a window of extent `window`
 * (for a dilated kernel, `dilation * (size - 1) + 1`) moving by `stride` over an input of
 * spatial size `inSize`. Throws a `ValueError` (mentioning `context`) for a malformed value.
 * @example
 * resolvePadding2d('conv2d', 'same', [5, 5], [3, 3], [2, 2], '') // [1, 1, 1, 1]
 * resolvePadding2d('conv2d', 'same', [4, 4], [3, 3], [2, 2], '') // [0, 1, 0, 1]
 * @since 0.1.0
 */
export const resolvePadding2d = (
  op: string,
  padding: Padding2d | undefined,
  inSize: readonly [number, number],
  window: readonly [number, number],
  stride: readonly [number, number],
  context: string,
): readonly [number, number, number, number] => {
  if (padding === undefined || padding === 'valid') return [0, 0, 0, 0]
  if (padding === 'same') {
    const [top, bottom] = samePadding(inSize[0], window[0], stride[0])
    const [left, right] = samePadding(inSize[1], window[1], stride[1])
    return [top, bottom, left, right]
  }
  const list: ReadonlyArray<unknown> =
    typeof padding === 'number'
      ? [padding, padding, padding, padding]
      : Array.isArray(padding) && padding.length === 2
        ? [padding[0], padding[0], padding[1], padding[1]]
        : Array.isArray(padding) && padding.length === 4
          ? padding
          : []
  const [top, bottom, left, right] = list
  if (
    !isNonNegativeInteger(top) ||
    !isNonNegativeInteger(bottom) ||
    !isNonNegativeInteger(left) ||
    !isNonNegativeInteger(right)
  ) {
    throw new ValueError(
      op,
      `padding must be a non-negative integer, a pair [h, w], a quadruple [top, bottom, left, right] of ` +
        `non-negative integers, 'same' or 'valid'; got ${showOption(padding)} (${context})`,
    )
  }
  return [top, bottom, left, right]
}

/** TensorFlow's 'SAME': the total padding that makes the output `ceil(in / stride)`, extra at the end. */
const samePadding = (inSize: number, window: number, stride: number): readonly [number, number] => {
  const outSize = Math.ceil(inSize / stride)
  const total = Math.max((outSize - 1) * stride + window - inSize, 0)
  const before = Math.floor(total / 2)
  return [before, total - before]
}

/**
 * Validates and normalises conv2d arguments: `xShape` is NCHW, `wShape` is OIHW with
 * `I = C / groups`. Throws a `ShapeError` for ranks other than 4, a channel mismatch (including
 * channel counts that `groups` does not divide), an empty kernel or a kernel larger than the padded
 * input, and a `ValueError` for non-positive stride, dilation or groups or a malformed/negative
 * padding. Every message names `op` and both shapes. `groups` is in the result only when it is not 1.
 * @example
 * conv2dSpec('conv2d', [1, 3, 32, 32], [8, 3, 3, 3], { padding: 'same', stride: 2 })
 * // { stride: [2, 2], padding: [0, 1, 0, 1], dilation: [1, 1] }
 * @since 0.1.0
 */
export const conv2dSpec = (
  op: string,
  xShape: Shape,
  wShape: Shape,
  opts: Conv2dOptions = {},
): Conv2dSpec => {
  const context = `x ${fmtShape(xShape)}, w ${fmtShape(wShape)}`
  checkShape(op, xShape, 'x shape')
  checkShape(op, wShape, 'w shape')
  if (xShape.length !== 4) {
    throw new ShapeError(op, `x must be NCHW (rank 4), got x ${fmtShape(xShape)} (w ${fmtShape(wShape)})`)
  }
  if (wShape.length !== 4) {
    throw new ShapeError(op, `w must be OIHW (rank 4), got w ${fmtShape(wShape)} (x ${fmtShape(xShape)})`)
  }
  const groups = opts.groups ?? 1
  if (!isNonNegativeInteger(groups) || groups === 0) {
    throw new ValueError(op, `groups must be a positive integer, got ${showOption(groups)} (${context})`)
  }
  const channels = xShape[1]!
  const inChannels = wShape[1]!
  if (groups === 1 && channels !== inChannels) {
    throw new ShapeError(
      op,
      `channel mismatch: x ${fmtShape(xShape)} has ${channels} channels but w ${fmtShape(wShape)} expects ` +
        `${inChannels}; expected x.shape[1] === w.shape[1]`,
    )
  }
  if (groups !== 1 && (channels % groups !== 0 || wShape[0]! % groups !== 0)) {
    throw new ShapeError(
      op,
      `groups ${groups} must divide both the input channels (x ${fmtShape(xShape)}: ${channels}) and the ` +
        `output channels (w ${fmtShape(wShape)}: ${wShape[0]!})`,
    )
  }
  if (groups !== 1 && channels !== inChannels * groups) {
    throw new ShapeError(
      op,
      `channel mismatch: x ${fmtShape(xShape)} has ${channels} channels, so with groups ${groups} w ` +
        `${fmtShape(wShape)} must have ${channels / groups} input channels per group; expected ` +
        `x.shape[1] === w.shape[1] * groups`,
    )
  }
  const kernelH = wShape[2]!
  const kernelW = wShape[3]!
  if (kernelH === 0 || kernelW === 0) {
    throw new ShapeError(
      op,
      `w ${fmtShape(wShape)} has an empty kernel; expected kernel height and width >= 1 (${context})`,
    )
  }
  const stride = positivePair2d(op, 'stride', opts.stride ?? 1, context)
  const dilation = positivePair2d(op, 'dilation', opts.dilation ?? 1, context)
  const inH = xShape[2]!
  const inW = xShape[3]!
  const windowH = dilation[0] * (kernelH - 1) + 1
  const windowW = dilation[1] * (kernelW - 1) + 1
  const padding = resolvePadding2d(op, opts.padding, [inH, inW], [windowH, windowW], stride, context)
  const paddedH = inH + padding[0] + padding[1]
  const paddedW = inW + padding[2] + padding[3]
  if (windowH > paddedH || windowW > paddedW) {
    throw new ShapeError(
      op,
      `the kernel (extent ${windowH}x${windowW} with dilation ${fmtShape(dilation)}) is larger than the padded ` +
        `input ${paddedH}x${paddedW} (padding ${fmtShape(padding)}) for ${context}; ` +
        `use a smaller kernel or dilation, or more padding`,
    )
  }
  return groups === 1 ? { stride, padding, dilation } : { stride, padding, dilation, groups }
}

/**
 * The output shape `[N, O, outH, outW]` of a conv2d with a spec from `conv2dSpec`, where
 * `outH = floor((H + top + bottom - dilationH * (kH - 1) - 1) / strideH) + 1` (likewise `outW`).
 * @since 0.1.0
 */
export const conv2dOutputShape = (xShape: Shape, wShape: Shape, spec: Conv2dSpec): number[] => {
  const [top, bottom, left, right] = spec.padding
  const outH =
    Math.floor((xShape[2]! + top + bottom - spec.dilation[0] * (wShape[2]! - 1) - 1) / spec.stride[0]) + 1
  const outW =
    Math.floor((xShape[3]! + left + right - spec.dilation[1] * (wShape[3]! - 1) - 1) / spec.stride[1]) + 1
  return [xShape[0]!, wShape[0]!, outH, outW]
}

/** What a plan reads of a value: its shape and dtype, never its data (so it may be abstract). */
type Described = Pick<Tensor, 'shape' | 'dtype'>

/**
 * A convolution's validated geometry with its result's shape and dtype: what the kernel computes
 * with, and all an abstract evaluation (staging) needs, from shapes and dtypes alone.
 * @since 0.2.0
 */
export interface Conv2dPlan {
  readonly spec: Conv2dSpec
  readonly shape: number[]
  readonly dtype: DType
}

const describeSpec = (spec: Conv2dSpec): string =>
  `stride ${fmtShape(spec.stride)}, padding ${fmtShape(spec.padding)}, dilation ${fmtShape(spec.dilation)}`

/** Throws unless `dy` has the shape conv2d of `xShape` with `wShape` produces. */
const checkCotangent = (op: string, dyShape: Shape, xShape: Shape, wShape: Shape, spec: Conv2dSpec): void => {
  const expected = conv2dOutputShape(xShape, wShape, spec)
  if (!shapesEqual(dyShape, expected)) {
    throw new ShapeError(
      op,
      `dy ${fmtShape(dyShape)} does not match the conv2d output ${fmtShape(expected)} of x ${fmtShape(xShape)} ` +
        `with w ${fmtShape(wShape)} (${describeSpec(spec)}); expected dy to have the output's shape`,
    )
  }
}

/**
 * Validates `conv2d(x, w, opts)` from the operands' shapes and dtypes (as `conv2dSpec`): the output
 * shape `[N, O, outH, outW]` and dtype `promoteTypes(x, w)`.
 * @example
 * conv2dPlan({ shape: [1, 3, 8, 8], dtype: 'float32' }, { shape: [4, 3, 3, 3], dtype: 'float32' }).shape
 * // [1, 4, 6, 6]
 * @since 0.2.0
 */
export const conv2dPlan = (x: Described, w: Described, opts: Conv2dOptions = {}): Conv2dPlan => {
  const spec = conv2dSpec('conv2d', x.shape, w.shape, opts)
  return { spec, shape: conv2dOutputShape(x.shape, w.shape, spec), dtype: promoteTypes(x.dtype, w.dtype) }
}

/**
 * Validates `conv2dBackwardInput(dy, w, xShape, opts)`: `dy` must have conv2d's output shape for
 * `xShape` and `w`; the result has shape `xShape` and dtype `promoteTypes(dy, w)`.
 * @since 0.2.0
 */
export const conv2dBackwardInputPlan = (
  dy: Described,
  w: Described,
  xShape: Shape,
  opts: Conv2dOptions = {},
): Conv2dPlan => {
  const op = 'conv2dBackwardInput'
  const spec = conv2dSpec(op, xShape, w.shape, opts)
  checkCotangent(op, dy.shape, xShape, w.shape, spec)
  return { spec, shape: [...xShape], dtype: promoteTypes(dy.dtype, w.dtype) }
}

/**
 * Validates `conv2dBackwardFilter(x, dy, wShape, opts)`: `dy` must have conv2d's output shape for
 * `x` and `wShape`; the result has shape `wShape` and dtype `promoteTypes(x, dy)`.
 * @since 0.2.0
 */
export const conv2dBackwardFilterPlan = (
  x: Described,
  dy: Described,
  wShape: Shape,
  opts: Conv2dOptions = {},
): Conv2dPlan => {
  const op = 'conv2dBackwardFilter'
  const spec = conv2dSpec(op, x.shape, wShape, opts)
  checkCotangent(op, dy.shape, x.shape, wShape, spec)
  return { spec, shape: [...wShape], dtype: promoteTypes(x.dtype, dy.dtype) }
}

/** A plain record of `x`'s fields, so a tracer's getters run once. */
const snapshot = (x: Tensor): Tensor => unsafeTensor(x.dtype, x.shape, x.data)

const castTo = (x: Tensor, dtype: DType): Tensor => (x.dtype === dtype ? x : getBackend().cast(x, dtype))

/**
 * 2-D convolution (cross-correlation, as in every deep-learning library): `x` is NCHW, `w` is
 * OIHW with `I = C / groups` (`groups` default 1). `out[n, o, i, j] = Σ_{c, p, q} x[n, c, i·sH + p·dH - top, j·sW + q·dW - left] · w[o, c, p, q]`,
 * reading zeros in the padding. dtypes promote. Throws `ShapeError`/`ValueError` as `conv2dSpec` does.
 * @example
 * import { conv2d, unsafeTensor } from '@backfold/tensor'
 * const x = unsafeTensor('float32', [1, 1, 3, 3], Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9))
 * const w = unsafeTensor('float32', [1, 1, 2, 2], Float32Array.of(1, 0, 0, 1))
 * conv2d(x, w).data // Float32Array [6, 8, 12, 14]  (shape [1, 1, 2, 2])
 * conv2d(x, w, { padding: 'same' }).shape // [1, 1, 3, 3]
 * @since 0.1.0
 */
export const conv2d = (x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor => {
  requireConcrete('conv2d', 'x', x)
  requireConcrete('conv2d', 'w', w)
  const input = snapshot(x)
  const weights = snapshot(w)
  const { spec, dtype } = conv2dPlan(input, weights, opts)
  return getBackend().conv2d(castTo(input, dtype), castTo(weights, dtype), spec)
}

/**
 * Gradient of `conv2d(x, w, opts)` with respect to `x`, given the output cotangent `dy`: a
 * transposed convolution, the adjoint of `x ↦ conv2d(x, w, opts)`. Takes the same `opts` as the
 * forward call and the forward input's shape `xShape` (needed because a strided conv maps several
 * input sizes to one output size). Result shape `xShape`, dtype `promoteTypes(dy, w)`.
 * @since 0.1.0
 */
export const conv2dBackwardInput = (
  dy: Tensor,
  w: Tensor,
  xShape: Shape,
  opts: Conv2dOptions = {},
): Tensor => {
  const op = 'conv2dBackwardInput'
  requireConcrete(op, 'dy', dy)
  requireConcrete(op, 'w', w)
  const cotangent = snapshot(dy)
  const weights = snapshot(w)
  const { spec, dtype } = conv2dBackwardInputPlan(cotangent, weights, xShape, opts)
  return getBackend().conv2dBackwardInput(castTo(cotangent, dtype), castTo(weights, dtype), [...xShape], spec)
}

/**
 * Gradient of `conv2d(x, w, opts)` with respect to `w`, given the output cotangent `dy`: the
 * correlation of `x` with `dy`, the adjoint of `w ↦ conv2d(x, w, opts)`. Takes the same `opts`
 * as the forward call and the weights' shape `wShape`. Result shape `wShape`, dtype `promoteTypes(x, dy)`.
 * @since 0.1.0
 */
export const conv2dBackwardFilter = (
  x: Tensor,
  dy: Tensor,
  wShape: Shape,
  opts: Conv2dOptions = {},
): Tensor => {
  const op = 'conv2dBackwardFilter'
  requireConcrete(op, 'x', x)
  requireConcrete(op, 'dy', dy)
  const input = snapshot(x)
  const cotangent = snapshot(dy)
  const { spec, dtype } = conv2dBackwardFilterPlan(input, cotangent, wShape, opts)
  return getBackend().conv2dBackwardFilter(castTo(input, dtype), castTo(cotangent, dtype), [...wShape], spec)
}
