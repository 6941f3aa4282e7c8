// y = x where (j − i ≤ k) over the last two axes (i row, j column), else 0 ; x̄ = tril(ȳ)
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { moveAxis } from '../core/batching'
import {
  checkTriangleRank,
  keepTriangle,
  triangleOnnx,
  triangleParams,
  type TriangleOptions,
  type TriangleParams,
} from '../internal/triangle'

/** Options of `tril`: the diagonal `k` (0 the main one, positive above it, negative below). @since 0.2.0 */
export type TrilOptions = TriangleOptions

/** Parameters of the tril op. @since 0.2.0 */
export type TrilParams = TriangleParams

/** The same mask on the cotangent (a declaration: the op refers to itself). */
function masked(ct: Tensor, p: TrilParams): Tensor {
  return applyOp(trilOp, [ct], p)
}

/** The tril op. @since 0.2.0 */
export const trilOp = defineOp<'tril', [Tensor], TrilParams>({
  name: 'tril',
  forward: ([x], p) => keepTriangle('tril', x, p.k),
  vjp: (ct, _xs, _y, p) => [masked(ct, p)],
  abstract: ([x]) => {
    checkTriangleRank('tril', x.shape.length)
    return { shape: [...x.shape], dtype: x.dtype }
  },
  onnx: triangleOnnx('tril'),
  // The matrices are the last two axes: the examples move to the front, out of their way.
  batch: ([x], [b], p, self) => [self([moveAxis(x, b ?? 0, 0)], p), 0],
})

/**
 * The lower triangle of each matrix in `x` (the last two axes): entries with column − row
 * ≤ `k` are kept, the others set to 0. Keeps shape and dtype.
 * @example
 * tril(tensor([[1, 2], [3, 4]])) // [[1, 0], [3, 4]]
 * @throws ValueError when `x` has rank below 2 or `k` is not an integer.
 * @since 0.2.0
 */
export const tril = (x: Tensor, opts: TrilOptions = {}): Tensor =>
  applyOp(trilOp, [x], triangleParams('tril', x, opts))
