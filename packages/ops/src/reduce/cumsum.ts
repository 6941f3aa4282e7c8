// y_k = Σ_{j ∈ J(k)} x_j along axis (J(k): j ≤ k, or j < k when exclusive, mirrored when reversed)
// x̄_i = Σ_{k : i ∈ J(k)} ȳ_k: the same cumulative sum of ȳ, run the other way
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { checkOptions, option, optionSchema } from '../core/options'

/**
 * Options of `cumsum`: the `axis` to run along (required; negative counts from the end), whether
 * each sum leaves its own element out (`exclusive`), and whether it runs from the end (`reverse`).
 * @since 0.2.0
 */
export interface CumsumOptions {
  readonly axis: number
  readonly exclusive?: boolean | undefined
  readonly reverse?: boolean | undefined
}

/** Canonical parameters of the cumsum op: a non-negative axis and both flags. @since 0.2.0 */
export interface CumsumParams {
  readonly axis: number
  readonly exclusive: boolean
  readonly reverse: boolean
}

const CUMSUM_OPTIONS = optionSchema({
  axis: option.required(option.axis),
  exclusive: option.boolean,
  reverse: option.boolean,
})

/** The same scan of `ct`, run the other way (a function declaration: the op refers to itself). */
function reversed(ct: Tensor, p: CumsumParams): Tensor {
  return applyOp(cumsumOp, [ct], { ...p, reverse: !p.reverse })
}

/** The cumsum op. @since 0.2.0 */
export const cumsumOp = defineOp<'cumsum', [Tensor], CumsumParams>({
  name: 'cumsum',
  forward: ([x], p) => T.cumsum(x, p.axis, p),
  // Linear, so its VJP is its transpose: x_i feeds y_k for k after i (or before, reversed), so
  // x̄_i sums ȳ over those k, the same scan in the other direction with the same exclusivity.
  vjp: (ct, _xs, _y, p) => [reversed(ct, p)],
  // The scanned axis is renumbered around the examples' axis, which stays where it is.
  // ONNX CumSum; float32 sums in float64 and rounds once, as backfold's kernel does.
  onnx: (b, [x], p, { inputs: [ax] }) => {
    const wide = ax.dtype === 'float32' ? 'float64' : ax.dtype
    const sums = b.node('CumSum', [b.cast(x, ax.dtype, wide), b.constant(p.axis, 'int64')], {
      exclusive: p.exclusive ? 1 : 0,
      reverse: p.reverse ? 1 : 0,
    })
    return b.cast(sums, wide, ax.dtype)
  },
  batch: ([x], [b], p, self) => {
    const batchAxis = b ?? 0
    return [self([x], { ...p, axis: p.axis >= batchAxis ? p.axis + 1 : p.axis }), batchAxis]
  },
  abstract: ([x], p) => ({ shape: T.cumsumShape(x.shape, p.axis, p), dtype: x.dtype }),
})

/**
 * Cumulative sum along `axis`: inclusive `y[k] = x[0] + ⋯ + x[k]`; with `exclusive`, `x[k]` is
 * left out (`y[0] = 0`); with `reverse`, the sums run from the last element. Keeps shape and dtype.
 * @example
 * cumsum(tensor([1, 2, 3]), { axis: 0 })                  // [1, 3, 6]
 * cumsum(tensor([1, 2, 3]), { axis: 0, exclusive: true }) // [0, 1, 3]
 * cumsum(tensor([1, 2, 3]), { axis: 0, reverse: true })   // [6, 5, 3]
 * @since 0.2.0
 */
export const cumsum = (x: Tensor, opts: CumsumOptions): Tensor => {
  checkOptions('cumsum', opts, CUMSUM_OPTIONS)
  const params: CumsumParams = {
    axis: T.normalizeAxis('cumsum', opts.axis, x.shape.length),
    exclusive: opts.exclusive ?? false,
    reverse: opts.reverse ?? false,
  }
  return applyOp(cumsumOp, [x], params)
}
