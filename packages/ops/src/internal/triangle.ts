// What tril and triu share: their options, the diagonal mask, the rank check and the masked forward.
// Each op keeps its own file and `defineOp` (the op's record names it literally, as every op does).
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { checkOptions, option, optionSchema } from '../core/options'
import type { OnnxLowering } from '../staging/onnx/builder'

/** Options of `tril` and `triu`: the diagonal `k` (0 the main one, positive above it, negative below). @since 0.2.0 */
export interface TriangleOptions {
  readonly k?: number | undefined
}

/** Parameters of the tril and triu ops. @since 0.2.0 */
export interface TriangleParams {
  readonly k: number
}

const OPTIONS = optionSchema({ k: option.integer })

/** Which entries stay: column − row ≤ k (lower) or ≥ k (upper). */
type Side = 'tril' | 'triu'

/** Throws unless `x` has matrices (rank ≥ 2) to take a triangle of. @internal */
export const checkTriangleRank = (op: Side, rank: number): void => {
  if (rank < 2)
    throw new T.ValueError(op, `x has rank ${rank}; expected at least 2 (a matrix, or a batch of matrices)`)
}

/** Checked options as the op's parameters. @internal */
export const triangleParams = (op: Side, x: Tensor, opts: TriangleOptions): TriangleParams => {
  checkOptions(op, opts, OPTIONS)
  checkTriangleRank(op, x.shape.length)
  return { k: opts.k ?? 0 }
}

/** `x` with the entries outside the triangle set to 0, on its last two axes (tensor kernels). @internal */
export const keepTriangle = (op: Side, x: Tensor, k: number): Tensor => {
  const rank = x.shape.length
  const m = x.shape[rank - 2] ?? 0
  const n = x.shape[rank - 1] ?? 0
  const offset = T.sub(
    T.reshape(T.arange(0, n, 1, 'int32'), [1, n]),
    T.reshape(T.arange(0, m, 1, 'int32'), [m, 1]),
  )
  return T.where(op === 'tril' ? T.lessEqual(offset, k) : T.greaterEqual(offset, k), x, 0)
}

/**
 * The ONNX lowering of tril and triu: ONNX Trilu on the last two axes for floats (it keeps column −
 * row ≤ k or ≥ k, as backfold does, and copies the kept values, −0 and NaN included); for int32,
 * which ONNX Runtime's Trilu lacks, a Where on the constant mask.
 * @internal
 */
/* @__NO_SIDE_EFFECTS__ */
export function triangleOnnx(op: Side): OnnxLowering<readonly [unknown], TriangleParams> {
  return (b, [x], p, { inputs: [ax] }) => {
    if (ax.dtype !== 'int32')
      return b.node('Trilu', [x, b.constant(p.k, 'int64')], { upper: op === 'triu' ? 1 : 0 })
    const m = ax.shape[ax.shape.length - 2] ?? 0
    const n = ax.shape[ax.shape.length - 1] ?? 0
    const keep = Array.from({ length: m * n }, (_, i) => {
      const offset = (i % n) - Math.floor(i / n)
      return (op === 'tril' ? offset <= p.k : offset >= p.k) ? 1 : 0
    })
    return b.node('Where', [b.constant(keep, 'bool', [m, n]), x, b.scalar(0, 'int32')])
  }
}
