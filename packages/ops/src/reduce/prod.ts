// y = Π_axes x ; x̄ = ȳ · Π_{j≠i} x_j (y / x where x ≠ 0; the product of the others at a single zero; 0 at two or more)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { div } from '../binary/div'
import { equal } from '../binary/equal'
import { mul } from '../binary/mul'
import { where } from '../binary/where'
import {
  batchReduction,
  reduceParams,
  reductionAval,
  type ReduceOptions,
  type ReduceParams,
} from '../internal/reduceParams'
import { keepDims } from '../internal/reduceCotangent'
import { sum } from './sum'

/** The product reduction op. @since 0.1.0 */
export const prodOp = defineOp<'prod', [Tensor], ReduceParams>({
  name: 'prod',
  forward: ([x], p) => T.prod(x, p),
  vjp: (ct, [x], y, p) => {
    const inShape = x.shape
    const kept = { axis: p.axes, keepDims: true }
    const isZero = equal(x, 0)
    // Zeros replaced by 1: divides safely (no 0/0 even in the second derivative), and its product
    // is exactly the product of the others for the one zero of a set with a single zero.
    const safeX = where(isZero, 1, x)
    const zeroCount = sum(isZero, kept)
    const atZero = where(equal(zeroCount, 1), prod(safeX, kept), 0)
    const elsewhere = div(keepDims(y, inShape, p.axes), safeX)
    return [mul(keepDims(ct, inShape, p.axes), where(isZero, atZero, elsewhere))]
  },
  batch: batchReduction,
  abstract: reductionAval('prod'),
})

/**
 * Product over `axis` (default all). Keeps the dtype; the product over an empty axis is 1.
 * The gradient is exact with zeros in the input (no division by zero): at the only zero of a set
 * it is the product of the others, and with two or more zeros it is 0 everywhere in that set.
 * Second derivatives are exact except between two zeros of one set (that mixed term comes out 0).
 * @example
 * prod(tensor([[1, 2], [3, 4]]), { axis: 0 }) // [3, 8]
 * @since 0.1.0
 */
export const prod = (x: Tensor, opts?: ReduceOptions): Tensor =>
  applyOp(prodOp, [x], reduceParams('prod', x, opts))
