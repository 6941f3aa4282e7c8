// y = x where (j − i ≥ k) over the last two axes (i row, j column), else 0 ; x̄ = triu(ȳ)
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

/** Options of `triu`: the diagonal `k` (0 the main one, positive above it, negative below). @since 0.2.0 */
export type TriuOptions = TriangleOptions

/** Parameters of the triu op. @since 0.2.0 */
export type TriuParams = TriangleParams

/** The same mask on the cotangent (a declaration: the op refers to itself). */
function masked(ct: Tensor, p: TriuParams): Tensor {
  return applyOp(triuOp, [ct], p)
}

/** The triu op. @since 0.2.0 */
export const triuOp = defineOp<'triu', [Tensor], TriuParams>({
  name: 'triu',
  forward: ([x], p) => keepTriangle('triu', x, p.k),
  vjp: (ct, _xs, _y, p) => [masked(ct, p)],
  abstract: ([x]) => {
    checkTriangleRank('triu', x.shape.length)
    return { shape: [...x.shape], dtype: x.dtype }
  },
  onnx: triangleOnnx('triu'),
  // The matrices are the last two axes: the examples move to the front, out of their way.
  batch: ([x], [b], p, self) => [self([moveAxis(x, b ?? 0, 0)], p), 0],
})

/**
 * The upper triangle of each matrix in `x` (the last two axes): entries with column − row
 * ≥ `k` are kept, the others set to 0. Keeps shape and dtype.
 * @example
 * triu(tensor([[1, 2], [3, 4]])) // [[1, 2], [0, 4]]
 * @throws ValueError when `x` has rank below 2 or `k` is not an integer.
 * @since 0.2.0
 */
export const triu = (x: Tensor, opts: TriuOptions = {}): Tensor =>
  applyOp(triuOp, [x], triangleParams('triu', x, opts))
