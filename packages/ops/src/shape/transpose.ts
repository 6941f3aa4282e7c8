// y = x permuted by perm ; x̄ = ȳ permuted by perm⁻¹
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'

/** Parameters of the transpose op: a full permutation of non-negative axes. @since 0.1.0 */
export interface TransposeParams {
  readonly perm: ReadonlyArray<number>
}

/** The transpose op. @since 0.1.0 */
export const transposeOp = defineOp<'transpose', [Tensor], TransposeParams>({
  name: 'transpose',
  forward: ([x], p) => T.transpose(x, p.perm),
  vjp: (ct, _xs, _y, p) => {
    const inverse = new Array<number>(p.perm.length)
    p.perm.forEach((axis, i) => (inverse[axis] = i))
    return [transpose(ct, inverse)]
  },
  abstract: ([x], p) => ({ shape: T.transposeShape(x.shape, p.perm), dtype: x.dtype }),
  // The examples' axis stays where it is; the permutation of one example's axes is renumbered
  // around it, so the whole batch takes one transpose.
  batch: ([x], [axis], p, self) => {
    const b = axis ?? 0
    const lift = (a: number): number => (a >= b ? a + 1 : a)
    const perm = p.perm.map(lift)
    perm.splice(b, 0, b)
    return [self([x], { perm }), b]
  },
  onnx: (b, [x], p) => b.node('Transpose', [x], { perm: p.perm }),
})

/**
 * Permutes the axes of `x`: output axis `k` is input axis `perm[k]` (negative axes count from the
 * end). Without `perm` the axes are reversed. The identity permutation returns `x` itself.
 * @example
 * transpose(tensor([[1, 2, 3], [4, 5, 6]]))   // [[1, 4], [2, 5], [3, 6]]
 * transpose(x, [0, 2, 1])                      // [b, m, n] -> [b, n, m]
 * @throws ValueError when `perm` is not a permutation of the axes of `x`.
 * @since 0.1.0
 */
export const transpose = (x: Tensor, perm?: ReadonlyArray<number>): Tensor => {
  // The kernel's own permutation rule: its exact errors, on the shape alone (x may be traced).
  const axes = T.transposePerm(x.shape, perm)
  if (axes.every((axis, i) => axis === i)) return x
  return applyOp(transposeOp, [x], { perm: axes })
}
