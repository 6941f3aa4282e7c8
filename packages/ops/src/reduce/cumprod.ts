// y_k = Π_{j ∈ J(k)} x_j along axis (J(k): j < k, j ≤ k, or mirrored when reversed)
// x̄_i = Σ_{k : i ∈ J(k)} ȳ_k · Π_{j ∈ J(k), j ≠ i} x_j, the inner products being a cumprod of x with x_i set to 1
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { checkOptions, option, optionSchema } from '../core/options'
import { mul } from '../binary/mul'
import { where } from '../binary/where'
import { expandDims } from '../shape/expandDims'
import { sum } from './sum'
import { shiftAlong } from '../internal/onnxLowering'

/**
 * Options of `cumprod`: the `axis` to run along (required; negative counts from the end), whether
 * each product leaves its own element out (`exclusive`), and whether it runs from the end (`reverse`).
 * @since 0.2.0
 */
export interface CumprodOptions {
  readonly axis: number
  readonly exclusive?: boolean | undefined
  readonly reverse?: boolean | undefined
}

/** Canonical parameters of the cumprod op: a non-negative axis and both flags. @since 0.2.0 */
export interface CumprodParams {
  readonly axis: number
  readonly exclusive: boolean
  readonly reverse: boolean
}

const CUMPROD_OPTIONS = optionSchema({
  axis: option.required(option.axis),
  exclusive: option.boolean,
  reverse: option.boolean,
})

/**
 * `included[i, k]`: whether x_i is a factor of y_k, shaped `[n, n, 1, ...]` to broadcast against
 * the `[..., i, k, ...trailing]` products (a constant: it depends on the shape alone).
 */
const inclusionMask = (n: number, trailing: number, p: CumprodParams): Tensor => {
  const ones = new Array<number>(trailing).fill(1)
  const i = T.reshape(T.arange(0, n, 1, 'int32'), [n, 1])
  const k = T.reshape(T.arange(0, n, 1, 'int32'), [1, n])
  const mask = p.reverse
    ? p.exclusive
      ? T.greater(i, k)
      : T.greaterEqual(i, k)
    : p.exclusive
      ? T.less(i, k)
      : T.lessEqual(i, k)
  return T.reshape(mask, [n, n, ...ones])
}

/** The cumprod op. @since 0.2.0 */
export const cumprodOp = defineOp<'cumprod', [Tensor], CumprodParams>({
  name: 'cumprod',
  forward: ([x], p) => T.cumprod(x, p.axis, p),
  vjp: (ct, [x], _y, p) => {
    // Exact at any zeros (no division): row i of `others` is the same cumprod of x with x_i
    // replaced by 1, built on a new axis i right before the scanned one. Costs n² per line, and
    // its own VJP (a cumprod again) is exact in the same way, to any order.
    const n = x.shape[p.axis] ?? 0
    const trailing = x.shape.length - p.axis - 1
    const diagonal = T.reshape(T.eye(n, n, 'int32'), [n, n, ...new Array<number>(trailing).fill(1)])
    const rows = where(diagonal, 1, expandDims(x, { axis: p.axis }))
    const others = cumprod(rows, { axis: p.axis + 1, exclusive: p.exclusive, reverse: p.reverse })
    const partials = where(inclusionMask(n, trailing, p), others, 0)
    return [sum(mul(partials, expandDims(ct, { axis: p.axis })), { axis: p.axis + 1 })]
  },
  // The scanned axis is renumbered around the examples' axis, which stays where it is.
  // ONNX has no CumProd (and exp(cumsum(log x)) is wrong at zeros and negatives): a log-depth
  // scan of exact products, y ← y · (y shifted by 1, 2, 4... with 1s), in float64 for float32 as
  // backfold's kernel. Products group differently from the sequential kernel's, so float results
  // agree to rounding; zeros, signs, infinities and NaN come out the same, and int32 wraps the same.
  onnx: (b, [x], p, { inputs: [ax] }) => {
    const wide = ax.dtype === 'float32' ? 'float64' : ax.dtype
    const n = ax.shape[p.axis] ?? 0
    const rank = ax.shape.length
    const one = b.scalar(1, wide)
    let y = b.cast(x, ax.dtype, wide)
    for (let by = 1; by < n; by *= 2)
      y = b.node('Mul', [y, shiftAlong(b, y, p.axis, rank, n, by, p.reverse, one)])
    if (p.exclusive && n > 0) y = shiftAlong(b, y, p.axis, rank, n, 1, p.reverse, one)
    return b.cast(y === x ? b.node('Identity', [x]) : y, wide, ax.dtype)
  },
  batch: ([x], [b], p, self) => {
    const batchAxis = b ?? 0
    return [self([x], { ...p, axis: p.axis >= batchAxis ? p.axis + 1 : p.axis }), batchAxis]
  },
  abstract: ([x], p) => ({ shape: T.cumprodShape(x.shape, p.axis, p), dtype: x.dtype }),
})

/**
 * Cumulative product along `axis`: inclusive `y[k] = x[0] ⋯ x[k]`; with `exclusive`, `x[k]` is left
 * out (`y[0] = 1`); with `reverse`, the products run from the last element. Keeps shape and dtype.
 * Its gradient is exact with zeros in `x` (no division), at every order.
 * @example
 * cumprod(tensor([2, 3, 4]), { axis: 0 })                  // [2, 6, 24]
 * cumprod(tensor([2, 3, 4]), { axis: 0, exclusive: true }) // [1, 2, 6]
 * cumprod(tensor([2, 3, 4]), { axis: 0, reverse: true })   // [24, 12, 4]
 * @since 0.2.0
 */
export const cumprod = (x: Tensor, opts: CumprodOptions): Tensor => {
  checkOptions('cumprod', opts, CUMPROD_OPTIONS)
  const params: CumprodParams = {
    axis: T.normalizeAxis('cumprod', opts.axis, x.shape.length),
    exclusive: opts.exclusive ?? false,
    reverse: opts.reverse ?? false,
  }
  return applyOp(cumprodOp, [x], params)
}
