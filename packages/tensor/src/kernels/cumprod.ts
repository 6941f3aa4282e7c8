/**
 * Cumulative product along one axis, inclusive or exclusive, forward or reversed.
 * @since 0.2.0
 */
import { getBackend } from '../backend'
import { isDType } from '../dtype'
import { DTypeError, ValueError } from '../errors'
import { normalizeAxis, type Shape } from '../shape'
import { requireConcrete, type Tensor } from '../tensor'

/**
 * Options of `cumprod`.
 * @since 0.2.0
 */
export interface CumprodOptions {
  /** Leave each element's own factor out: the first product (last, reversed) is 1. Default false. */
  readonly exclusive?: boolean
  /** Multiply from the end of the axis toward its start. Default false. */
  readonly reverse?: boolean
}

const checkFlag = (name: string, value: unknown): boolean => {
  if (value === undefined) return false
  if (typeof value !== 'boolean')
    throw new ValueError('cumprod', `${name} must be a boolean, got ${String(value)}`)
  return value
}

/**
 * The shape `cumprod` gives for `x` of shape `inShape` (the same shape), or the error it would
 * throw (a bad axis or flag). For shapes alone (a staged value's, say).
 * @example
 * cumprodShape([2, 3], -1) // [2, 3]
 * @since 0.2.0
 */
export const cumprodShape = (inShape: Shape, axis: number, opts?: CumprodOptions): number[] => {
  normalizeAxis('cumprod', axis, inShape.length)
  checkFlag('exclusive', opts?.exclusive)
  checkFlag('reverse', opts?.reverse)
  return [...inShape]
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
export const cumprod = (x: Tensor, axis: number, opts?: CumprodOptions): Tensor => {
  requireConcrete('cumprod', 'x', x)
  if (!isDType(x.dtype))
    throw new DTypeError(
      'cumprod',
      `x has dtype ${String(x.dtype)}; expected 'float32', 'float64' or 'int32'`,
    )
  cumprodShape(x.shape, axis, opts)
  return getBackend().cumprod(
    x,
    normalizeAxis('cumprod', axis, x.shape.length),
    opts?.exclusive ?? false,
    opts?.reverse ?? false,
  )
}
