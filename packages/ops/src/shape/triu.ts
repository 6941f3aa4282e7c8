// y = x where (j − i ≥ k) over the last two axes (i row, j column), else 0 ; x̄ = triu(ȳ)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { moveAxis } from '../core/batching'
import { checkOptions, option, optionSchema } from '../core/options'

/** Options of `triu`: the diagonal `k` (0 the main one, positive above it, negative below). @since 0.2.0 */
export interface TriuOptions {
  readonly k?: number | undefined
}

/** Parameters of the triu op. @since 0.2.0 */
export interface TriuParams {
  readonly k: number
}

const OPTIONS = optionSchema({ k: option.integer })

/** The int32 mask [m, n] of the kept entries. */
const mask = (m: number, n: number, k: number): Tensor =>
  T.greaterEqual(
    T.sub(T.reshape(T.arange(0, n, 1, 'int32'), [1, n]), T.reshape(T.arange(0, m, 1, 'int32'), [m, 1])),
    k,
  )

const check = (rank: number): void => {
  if (rank < 2)
    throw new T.ValueError(
      'triu',
      `x has rank ${rank}; expected at least 2 (a matrix, or a batch of matrices)`,
    )
}

/** The same mask on the cotangent (a declaration: the op refers to itself). */
function masked(ct: Tensor, p: TriuParams): Tensor {
  return applyOp(triuOp, [ct], p)
}

/** The triu op. @since 0.2.0 */
export const triuOp = defineOp<'triu', [Tensor], TriuParams>({
  name: 'triu',
  forward: ([x], p) => {
    const rank = x.shape.length
    return T.where(mask(x.shape[rank - 2] ?? 0, x.shape[rank - 1] ?? 0, p.k), x, 0)
  },
  vjp: (ct, _xs, _y, p) => [masked(ct, p)],
  abstract: ([x]) => {
    check(x.shape.length)
    return { shape: [...x.shape], dtype: x.dtype }
  },
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
export const triu = (x: Tensor, opts: TriuOptions = {}): Tensor => {
  checkOptions('triu', opts, OPTIONS)
  check(x.shape.length)
  return applyOp(triuOp, [x], { k: opts.k ?? 0 })
}
