/**
 * Cumulative products and sums along one axis, inclusive or exclusive, forward or reversed.
 * @since 0.2.0
 */
import { getBackend } from '../backend'
import { isDType } from '../dtype'
import { DTypeError, ValueError } from '../errors'
import { normalizeAxis, type Shape } from '../shape'
import { requireConcrete, type Tensor } from '../tensor'

/**
 * Options of `cumprod` and `cumsum`.
 * @since 0.2.0
 */
export interface CumulativeOptions {
  /** Leave each element out of its own result: the first result (last, reversed) is the identity. Default false. */
  readonly exclusive?: boolean
  /** Accumulate from the end of the axis toward its start. Default false. */
  readonly reverse?: boolean
}

/** Options of `cumprod` (the same as `cumsum`'s). @since 0.2.0 */
export type CumprodOptions = CumulativeOptions

type Cumulative = 'cumprod' | 'cumsum'

const checkFlag = (kernel: Cumulative, name: string, value: unknown): boolean => {
  if (value === undefined) return false
  if (typeof value !== 'boolean')
    throw new ValueError(kernel, `${name} must be a boolean, got ${String(value)}`)
  return value
}

const cumulativeShape = (
  kernel: Cumulative,
  inShape: Shape,
  axis: number,
  opts?: CumulativeOptions,
): number[] => {
  normalizeAxis(kernel, axis, inShape.length)
  checkFlag(kernel, 'exclusive', opts?.exclusive)
  checkFlag(kernel, 'reverse', opts?.reverse)
  return [...inShape]
}

/**
 * The shape `cumprod` gives for `x` of shape `inShape` (the same shape), or the error it would
 * throw (a bad axis or flag). For shapes alone (a staged value's, say).
 * @example
 * cumprodShape([2, 3], -1) // [2, 3]
 * @since 0.2.0
 */
export const cumprodShape = (inShape: Shape, axis: number, opts?: CumulativeOptions): number[] =>
  cumulativeShape('cumprod', inShape, axis, opts)

/**
 * The shape `cumsum` gives for `x` of shape `inShape` (the same shape), or the error it would
 * throw (a bad axis or flag).
 * @example
 * cumsumShape([2, 3], -1) // [2, 3]
 * @since 0.2.0
 */
export const cumsumShape = (inShape: Shape, axis: number, opts?: CumulativeOptions): number[] =>
  cumulativeShape('cumsum', inShape, axis, opts)

const run = (kernel: Cumulative, x: Tensor, axis: number, opts?: CumulativeOptions): Tensor => {
  requireConcrete(kernel, 'x', x)
  if (!isDType(x.dtype))
    throw new DTypeError(kernel, `x has dtype ${String(x.dtype)}; expected 'float32', 'float64' or 'int32'`)
  cumulativeShape(kernel, x.shape, axis, opts)
  return getBackend()[kernel](
    x,
    normalizeAxis(kernel, axis, x.shape.length),
    opts?.exclusive ?? false,
    opts?.reverse ?? false,
  )
}

/**
 * Cumulative product along `axis` (negative counts from the end); keeps the shape and dtype.
 * Inclusive: `y[k] = x[0] ⋯ x[k]`; `exclusive`: `y[k] = x[0] ⋯ x[k-1]` (so `y[0] = 1`); `reverse`
 * runs from the last element instead. Products accumulate in float64 (int32 wraps like `Math.imul`).
 * @example
 * cumprod(tensor([2, 3, 4]), 0)                         // [2, 6, 24]
 * cumprod(tensor([2, 3, 4]), 0, { exclusive: true })    // [1, 2, 6]
 * cumprod(tensor([2, 3, 4]), 0, { reverse: true })      // [24, 12, 4]
 * @since 0.2.0
 */
export const cumprod = (x: Tensor, axis: number, opts?: CumulativeOptions): Tensor =>
  run('cumprod', x, axis, opts)

/**
 * Cumulative sum along `axis` (negative counts from the end); keeps the shape and dtype.
 * Inclusive: `y[k] = x[0] + ⋯ + x[k]`; `exclusive`: `y[k] = x[0] + ⋯ + x[k-1]` (so `y[0] = 0`);
 * `reverse` runs from the last element instead. Sums accumulate in float64 (int32 wraps like C).
 * @example
 * cumsum(tensor([1, 2, 3]), 0)                      // [1, 3, 6]
 * cumsum(tensor([1, 2, 3]), 0, { exclusive: true }) // [0, 1, 3]
 * cumsum(tensor([1, 2, 3]), 0, { reverse: true })   // [6, 5, 3]
 * @since 0.2.0
 */
export const cumsum = (x: Tensor, axis: number, opts?: CumulativeOptions): Tensor =>
  run('cumsum', x, axis, opts)
