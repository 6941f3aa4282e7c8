// y = Π_axes x ; x̄ = ȳ · Π_{j≠i} x_j (exclusive prefix product × exclusive suffix product)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { mul } from '../binary/mul'
import {
  batchReduction,
  reduceParams,
  reductionAval,
  type ReduceOptions,
  type ReduceParams,
} from '../internal/reduceParams'
import { keepDims } from '../internal/reduceCotangent'
import { reshape } from '../shape/reshape'
import { transpose } from '../shape/transpose'
import { cumprod } from './cumprod'
import { reduceOnnx } from '../staging/onnx/rules'

/**
 * Π_{j≠i} x_j within each reduced set, shaped like `x`. The reduced axes are moved last and
 * flattened into one, where the product of the others is the product of those before times the
 * product of those after: no division, so exact at any number of zeros, and its derivatives
 * (through cumprod's) are exact too.
 */
const productOfOthers = (x: Tensor, axes: ReadonlyArray<number>): Tensor => {
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i))
  const perm = [...kept, ...axes]
  const moved = perm.every((axis, i) => axis === i) ? x : transpose(x, perm)
  const setSize = axes.reduce((size, axis) => size * x.shape[axis]!, 1)
  const flat = reshape(moved, [...kept.map((i) => x.shape[i]!), setSize])
  const before = cumprod(flat, { axis: -1, exclusive: true })
  const after = cumprod(flat, { axis: -1, exclusive: true, reverse: true })
  const others = reshape(mul(before, after), moved.shape)
  if (moved === x) return others
  const inverse = new Array<number>(perm.length)
  perm.forEach((axis, i) => (inverse[axis] = i))
  return transpose(others, inverse)
}

/** The product reduction op. @since 0.1.0 */
export const prodOp = defineOp<'prod', [Tensor], ReduceParams>({
  name: 'prod',
  forward: ([x], p) => T.prod(x, p),
  vjp: (ct, [x], _y, p) => [mul(keepDims(ct, x.shape, p.axes), productOfOthers(x, p.axes))],
  batch: batchReduction,
  abstract: reductionAval('prod'),
  onnx: reduceOnnx('ReduceProd'),
})

/**
 * Product over `axis` (default all). Keeps the dtype; the product over an empty axis is 1.
 * The gradient is the product of the other elements of each set, computed without division, so
 * it and its derivatives of every order are exact with any number of zeros in a set.
 * @example
 * prod(tensor([[1, 2], [3, 4]]), { axis: 0 }) // [3, 8]
 * @since 0.1.0
 */
export const prod = (x: Tensor, opts?: ReduceOptions): Tensor =>
  applyOp(prodOp, [x], reduceParams('prod', x, opts))
