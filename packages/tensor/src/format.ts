/**
 * Reading tensors back out: flat and nested arrays, single items, a NumPy-style `toString`, and
 * `allClose` for comparing results.
 * @since 0.1.0
 */
import type { DType, TypedArray } from './dtype'
import { ValueError, fmtShape } from './errors'
import type { NestedArray } from './create'
import { sizeOf, stridesOf } from './shape'
import type { Shape } from './shape'
import type { Tensor } from './tensor'

// ---------------------------------------------------------------------------------------------
// destructors
// ---------------------------------------------------------------------------------------------

/**
 * The elements as a plain array, flat and row-major (a copy).
 * @example
 * toArray(tensor([[1, 2], [3, 4]])) // [1, 2, 3, 4]
 * @since 0.1.0
 */
export const toArray = (x: Tensor): number[] => Array.from(x.data)

/**
 * The elements as nested plain arrays shaped like `x`; a scalar gives a plain number.
 * `toNested(tensor(v))` is `v` for any rectangular `v`.
 * @example
 * toNested(tensor([[1, 2], [3, 4]])) // [[1, 2], [3, 4]]
 * toNested(scalar(3)) // 3
 * @since 0.1.0
 */
export const toNested = (x: Tensor): NestedArray => {
  const shape = x.shape
  const data = x.data
  if (shape.length === 0) return data[0]!
  const strides = stridesOf(shape)
  const build = (axis: number, offset: number): NestedArray[] => {
    const length = shape[axis]!
    if (axis === shape.length - 1) return Array.from(data.subarray(offset, offset + length))
    const rows = new Array<NestedArray>(length)
    const stride = strides[axis]!
    for (let i = 0; i < length; i++) rows[i] = build(axis + 1, offset + i * stride)
    return rows
  }
  return build(0, 0)
}

/**
 * The single element of a one-element tensor (any shape of size 1); `ValueError` otherwise.
 * @example
 * item(sum(x)) // a plain number
 * @since 0.1.0
 */
export const item = (x: Tensor): number => {
  const shape = x.shape
  const size = sizeOf(shape)
  if (size !== 1)
    throw new ValueError(
      'item',
      `tensor of shape ${fmtShape(shape)} has ${size} elements; expected exactly 1 (reduce or index it first)`,
    )
  return x.data[0]!
}

// ---------------------------------------------------------------------------------------------
// toString
// ---------------------------------------------------------------------------------------------

/** Options of {@link toString}. @since 0.1.0 */
export interface FormatOptions {
  /** Most digits after the decimal point (default 8, NumPy's). */
  readonly precision?: number
  /** Tensors with more elements than this are abbreviated with `...` (default 1000). */
  readonly threshold?: number
  /** Items kept at each end of every abbreviated axis (default 3). */
  readonly edgeItems?: number
}

const LINE_WIDTH = 75
const PREFIX = 'tensor('

type Formatter = (value: number) => string

const checkOption = (what: string, value: number, min: number, max: number): number => {
  if (
    typeof value !== 'number' ||
    !(value === Infinity || Number.isInteger(value)) ||
    value < min ||
    value > max
  )
    throw new ValueError('toString', `${what} must be an integer in [${min}, ${max}], got ${String(value)}`)
  return value
}

const roundTrips = (text: string, value: number, dtype: DType): boolean => {
  const parsed = Number(text)
  return (dtype === 'float32' ? Math.fround(parsed) : parsed) === value
}

/**
 * Shortest text for `value` with at most `precision` digits after the point that reads back as the
 * same `dtype` value (NumPy's unique, trimmed Dragon4 output); rounded to `precision` when no
 * shorter text is exact. `write(d)` renders with `d` digits (`toFixed` or `toExponential`).
 */
const shortest = (
  value: number,
  precision: number,
  dtype: DType,
  write: (digits: number) => string,
): string => {
  for (let digits = 0; digits < precision; digits++) {
    const text = write(digits)
    if (roundTrips(text, value, dtype)) return text
  }
  return write(precision)
}

const splitPoint = (text: string): [string, string] => {
  const point = text.indexOf('.')
  if (point < 0) return [text, '']
  // Trailing zeros can only come from rounding to `precision`; NumPy trims them.
  return [text.slice(0, point), text.slice(point + 1).replace(/0+$/, '')]
}

/** NumPy's float formatting: one shared layout for all shown values, aligned on the point. */
const floatFormatter = (values: ReadonlyArray<number>, precision: number, dtype: DType): Formatter => {
  let minAbs = Infinity
  let maxAbs = 0
  let anyFinite = false
  let anyNonFinite = false
  let negativeInfinity = false
  for (const v of values) {
    if (Number.isFinite(v)) {
      anyFinite = true
      const magnitude = Math.abs(v)
      if (magnitude !== 0) {
        if (magnitude < minAbs) minAbs = magnitude
        if (magnitude > maxAbs) maxAbs = magnitude
      }
    } else {
      anyNonFinite = true
      if (v === -Infinity) negativeInfinity = true
    }
  }
  const exponential = maxAbs > 0 && (maxAbs >= 1e8 || minAbs < 1e-4 || maxAbs / minAbs > 1e3)
  const nonFiniteText = (v: number): string => (Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf')
  const sign = (v: number): string => (v === 0 && 1 / v < 0 ? '-' : '')
  let padLeft = 0
  let padRight = 0
  let render: (v: number) => string
  if (exponential) {
    let fractionDigits = 0
    let exponentDigits = 2
    const parts = (v: number): [string, string, string] => {
      const text = sign(v) + shortest(v, precision, dtype, (d) => v.toExponential(d))
      const at = text.indexOf('e')
      const [whole, fraction] = splitPoint(text.slice(0, at))
      return [whole, fraction, text.slice(at + 1)]
    }
    for (const v of values) {
      if (!Number.isFinite(v)) continue
      const [whole, fraction, exponent] = parts(v)
      padLeft = Math.max(padLeft, whole.length)
      fractionDigits = Math.max(fractionDigits, fraction.length)
      exponentDigits = Math.max(exponentDigits, exponent.length - 1)
    }
    padRight = fractionDigits + exponentDigits + 2
    render = (v) => {
      const [whole, fraction, exponent] = parts(v)
      const digits = exponent.slice(1).padStart(exponentDigits, '0')
      return `${whole.padStart(padLeft)}.${fraction.padEnd(fractionDigits, '0')}e${exponent[0]}${digits}`
    }
  } else {
    const parts = (v: number): [string, string] =>
      splitPoint(sign(v) + shortest(v, precision, dtype, (d) => v.toFixed(d)))
    for (const v of values) {
      if (!Number.isFinite(v)) continue
      const [whole, fraction] = parts(v)
      padLeft = Math.max(padLeft, whole.length)
      padRight = Math.max(padRight, fraction.length)
    }
    render = (v) => {
      const [whole, fraction] = parts(v)
      return `${whole.padStart(padLeft)}.${fraction.padEnd(padRight)}`
    }
  }
  if (!anyFinite) padLeft = padRight = 0
  // Room for 'nan' / 'inf' / '-inf' (only when present), right-aligned in the same total width.
  if (anyNonFinite) padLeft = Math.max(padLeft, (negativeInfinity ? 4 : 3) - (padRight + 1))
  const width = padLeft + padRight + 1
  return (v) => (Number.isFinite(v) ? render(v) : nonFiniteText(v).padStart(width))
}

const intFormatter = (values: ReadonlyArray<number>): Formatter => {
  let width = 0
  for (const v of values) width = Math.max(width, String(v).length)
  return (v) => String(v).padStart(width)
}

/**
 * NumPy's `_formatArray`: nested brackets, one row per line for rank >= 2 with blank lines between
 * blocks, the last axis wrapped at the line width, and `...` for abbreviated axes.
 */
const formatNested = (
  data: TypedArray,
  shape: Shape,
  format: Formatter,
  summarize: boolean,
  edgeItems: number,
): string => {
  const rank = shape.length
  const strides = stridesOf(shape)
  const extendLine = (
    acc: { text: string; line: string },
    word: string,
    lineWidth: number,
    hangingIndent: string,
  ): void => {
    if (acc.line.length + word.length > lineWidth && acc.line.length > hangingIndent.length) {
      acc.text += acc.line.trimEnd() + '\n'
      acc.line = hangingIndent
    }
    acc.line += word
  }
  const recurse = (axis: number, offset: number, hangingIndent: string, width: number): string => {
    if (axis === rank) return format(data[offset]!)
    const nextIndent = hangingIndent + ' '
    const nextWidth = width - 1
    const length = shape[axis]!
    const stride = strides[axis]!
    const abbreviate = summarize && length > 2 * edgeItems
    const leading = abbreviate ? edgeItems : 0
    const trailing = abbreviate ? edgeItems : length
    let text: string
    if (axis === rank - 1) {
      const acc = { text: '', line: hangingIndent }
      const elementWidth = width - 1
      for (let i = 0; i < leading; i++) {
        extendLine(
          acc,
          recurse(axis + 1, offset + i * stride, nextIndent, nextWidth),
          elementWidth,
          hangingIndent,
        )
        acc.line += ', '
      }
      if (abbreviate) {
        extendLine(acc, '...', elementWidth, hangingIndent)
        acc.line += ', '
      }
      for (let i = trailing; i > 1; i--) {
        const index = length - i
        extendLine(
          acc,
          recurse(axis + 1, offset + index * stride, nextIndent, nextWidth),
          elementWidth,
          hangingIndent,
        )
        acc.line += ', '
      }
      extendLine(
        acc,
        recurse(axis + 1, offset + (length - 1) * stride, nextIndent, nextWidth),
        nextWidth,
        hangingIndent,
      )
      text = acc.text + acc.line
    } else {
      const separator = ',' + '\n'.repeat(rank - axis - 1)
      text = ''
      for (let i = 0; i < leading; i++)
        text += hangingIndent + recurse(axis + 1, offset + i * stride, nextIndent, nextWidth) + separator
      if (abbreviate) text += hangingIndent + '...' + separator
      for (let i = trailing; i > 1; i--)
        text +=
          hangingIndent + recurse(axis + 1, offset + (length - i) * stride, nextIndent, nextWidth) + separator
      text += hangingIndent + recurse(axis + 1, offset + (length - 1) * stride, nextIndent, nextWidth)
    }
    return '[' + text.slice(hangingIndent.length) + ']'
  }
  return recurse(0, 0, ' '.repeat(PREFIX.length + 1), LINE_WIDTH - 1)
}

/** The values `formatNested` will print, so column widths fit exactly what is shown. */
const shownValues = (data: TypedArray, shape: Shape, summarize: boolean, edgeItems: number): number[] => {
  const strides = stridesOf(shape)
  const values: number[] = []
  const visit = (axis: number, offset: number): void => {
    if (axis === shape.length) {
      values.push(data[offset]!)
      return
    }
    const length = shape[axis]!
    const stride = strides[axis]!
    const abbreviate = summarize && length > 2 * edgeItems
    for (let i = 0; i < length; i++) {
      if (abbreviate && i === edgeItems) i = length - edgeItems
      visit(axis + 1, offset + i * stride)
    }
  }
  visit(0, 0)
  return values
}

/**
 * A NumPy-style `repr` of `x`. The exact format:
 *
 * - `tensor(` + nested brackets + `)`, with `, dtype=int32` / `, dtype=float64` before the closing
 *   parenthesis when the dtype is not float32 (moved to its own line when it would pass column 75);
 * - rank >= 2: one row per line, indented under the first, with one blank line between 2-D blocks
 *   (two between 3-D blocks, ...); the innermost rows wrap at 75 columns;
 * - floats: NumPy's rules: fixed-point with at most `precision` digits, the shortest text that reads
 *   back as the same float32/float64 value (values needing more digits are rounded as `toFixed` rounds,
 *   ties away from zero), a trailing point for whole numbers (`1.`), columns aligned
 *   on the point (shorter fractions padded with spaces); scientific notation (`1.5e-05`, mantissas
 *   zero-padded to equal length) when the largest magnitude is >= 1e8, the smallest non-zero one
 *   < 1e-4, or their ratio > 1000; `nan`, `inf`, `-inf` right-aligned;
 * - int32: integers right-aligned to the widest;
 * - more than `threshold` elements: every axis longer than `2 * edgeItems` shows its first and last
 *   `edgeItems` entries around `...` (column widths fit only the shown values);
 * - scalars print bare (`tensor(5.)`); empty tensors print as `tensor([])`, or
 *   `tensor([], shape=[2,0])` when the shape is not `[0]`.
 *
 * Errors (`ValueError`): `precision` not an integer in [0, 20], `threshold` not a non-negative integer
 * (or Infinity), `edgeItems` not a positive integer.
 * @example
 * toString(tensor([[1, 2], [3, 4]], 'int32'))
 * // tensor([[1, 2],
 * //         [3, 4]], dtype=int32)
 * toString(tensor([0.5, 1, -2.25])) // 'tensor([ 0.5 ,  1.  , -2.25])'
 * @since 0.1.0
 */
export const toString = (x: Tensor, opts: FormatOptions = {}): string => {
  const precision = checkOption('precision', opts.precision ?? 8, 0, 20)
  const threshold = checkOption('threshold', opts.threshold ?? 1000, 0, Infinity)
  const edgeItems = checkOption('edgeItems', opts.edgeItems ?? 3, 1, 2 ** 31)
  const dtype = x.dtype
  const shape = x.shape
  const data = x.data
  const size = sizeOf(shape)
  let body: string
  if (size === 0) body = shape.length === 1 ? '[]' : `[], shape=${fmtShape(shape)}`
  else {
    const summarize = size > threshold
    const values = shownValues(data, shape, summarize, edgeItems)
    const format = dtype === 'int32' ? intFormatter(values) : floatFormatter(values, precision, dtype)
    body = formatNested(data, shape, format, summarize, edgeItems)
  }
  if (dtype === 'float32') return `${PREFIX}${body})`
  const head = `${PREFIX}${body},`
  const dtypeText = `dtype=${dtype})`
  const lastLineLength = head.length - (head.lastIndexOf('\n') + 1)
  const spacer = lastLineLength + dtypeText.length + 1 > LINE_WIDTH ? '\n' + ' '.repeat(PREFIX.length) : ' '
  return head + spacer + dtypeText
}

// ---------------------------------------------------------------------------------------------
// comparison
// ---------------------------------------------------------------------------------------------

/** Options of {@link allClose}. @since 0.1.0 */
export interface AllCloseOptions {
  /** Relative tolerance, scaled by `|b|` (default 1e-5). */
  readonly rtol?: number
  /** Absolute tolerance (default 1e-8). */
  readonly atol?: number
  /** Treat NaN as equal to NaN (default false). */
  readonly equalNaN?: boolean
}

const checkTolerance = (what: string, value: number): number => {
  if (typeof value !== 'number' || !(value >= 0))
    throw new ValueError('allClose', `${what} must be a non-negative number, got ${String(value)}`)
  return value
}

/**
 * True when every pair of elements satisfies NumPy's `|a - b| <= atol + rtol * |b|` (so it is not
 * symmetric in `a` and `b`), after broadcasting the shapes. Infinities are close only to the same
 * infinity; NaN is close to nothing unless `equalNaN`. Shapes that do not broadcast give `false`
 * (not an error); dtypes may differ (values are compared as numbers). Bad tolerances → `ValueError`.
 * @example
 * allClose(tensor([1, 2]), tensor([1, 2.000001])) // true
 * allClose(tensor([[1], [2]]), tensor([1, 1])) // false ([2,1] vs [2] broadcast; 2 differs from 1)
 * @since 0.1.0
 */
export const allClose = (a: Tensor, b: Tensor, opts: AllCloseOptions = {}): boolean => {
  const rtol = checkTolerance('rtol', opts.rtol ?? 1e-5)
  const atol = checkTolerance('atol', opts.atol ?? 1e-8)
  const equalNaN = opts.equalNaN ?? false
  const aShape = a.shape
  const bShape = b.shape
  const aData = a.data
  const bData = b.data
  const rank = Math.max(aShape.length, bShape.length)
  const outShape = new Array<number>(rank)
  // Per output axis, the element step in a and b (0 where that operand is broadcast).
  const aSteps = new Array<number>(rank).fill(0)
  const bSteps = new Array<number>(rank).fill(0)
  const aStrides = stridesOf(aShape)
  const bStrides = stridesOf(bShape)
  for (let axis = 0; axis < rank; axis++) {
    const aAxis = axis - (rank - aShape.length)
    const bAxis = axis - (rank - bShape.length)
    const aDim = aAxis < 0 ? 1 : aShape[aAxis]!
    const bDim = bAxis < 0 ? 1 : bShape[bAxis]!
    if (aDim !== bDim && aDim !== 1 && bDim !== 1) return false
    outShape[axis] = aDim === 1 ? bDim : aDim
    if (aDim !== 1) aSteps[axis] = aStrides[aAxis]!
    if (bDim !== 1) bSteps[axis] = bStrides[bAxis]!
  }
  const size = sizeOf(outShape)
  const counter = new Array<number>(rank).fill(0)
  let aIndex = 0
  let bIndex = 0
  for (let n = 0; n < size; n++) {
    const x = aData[aIndex]!
    const y = bData[bIndex]!
    if (x !== y) {
      if (Number.isNaN(x) || Number.isNaN(y)) {
        if (!(equalNaN && Number.isNaN(x) && Number.isNaN(y))) return false
      } else if (
        !Number.isFinite(x) ||
        !Number.isFinite(y) ||
        !(Math.abs(x - y) <= atol + rtol * Math.abs(y))
      )
        // NumPy's isclose: an infinity is close only to the identical infinity (x !== y here)
        return false
    }
    // odometer over the output index
    for (let axis = rank - 1; axis >= 0; axis--) {
      aIndex += aSteps[axis]!
      bIndex += bSteps[axis]!
      if (++counter[axis]! < outShape[axis]!) break
      aIndex -= aSteps[axis]! * outShape[axis]!
      bIndex -= bSteps[axis]! * outShape[axis]!
      counter[axis] = 0
    }
  }
  return true
}
