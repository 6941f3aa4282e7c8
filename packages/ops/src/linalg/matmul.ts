// C = op(A) op(B), op = identity or transpose per flag ; Ā, B̄ by matmuls with flags (no transposes materialised)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { checkOptions, option, optionSchema } from '../core/options'
import { unbroadcast } from '../core/unbroadcast'
import { reshape } from '../shape/reshape'

/** Options of `matmul`: read `a` or `b` (rank >= 2) as transposed in its last two axes. @since 0.1.0 */
export interface MatmulOptions {
  readonly transposeA?: boolean | undefined
  readonly transposeB?: boolean | undefined
}

const MATMUL_OPTIONS = optionSchema({ transposeA: option.boolean, transposeB: option.boolean })

/** Parameters of the matmul op (inputs of rank >= 2). @since 0.1.0 */
export interface MatmulParams {
  readonly transposeA: boolean
  readonly transposeB: boolean
}

/**
 * Cotangents of a and b for each flag combination (batch axes not yet summed); an operand whose
 * cotangent is not needed (a constant of the transformation) gets none, which saves a whole product.
 */
const matmulCotangents = (
  ct: Tensor,
  a: Tensor,
  b: Tensor,
  p: MatmulParams,
  needed: ReadonlyArray<boolean>,
): readonly [Tensor | undefined, Tensor | undefined] => {
  const mm = (x: Tensor, y: Tensor, transposeA: boolean, transposeB: boolean): Tensor =>
    applyOp(matmulOp, [x, y], { transposeA, transposeB })
  const [needA = true, needB = true] = needed
  if (!p.transposeA && !p.transposeB)
    // C = A B: Ā = C̄ Bᵀ, B̄ = Aᵀ C̄
    return [needA ? mm(ct, b, false, true) : undefined, needB ? mm(a, ct, true, false) : undefined]
  if (!p.transposeA)
    // C = A Bᵀ: Ā = C̄ B, B̄ = C̄ᵀ A
    return [needA ? mm(ct, b, false, false) : undefined, needB ? mm(ct, a, true, false) : undefined]
  if (!p.transposeB)
    // C = Aᵀ B: Ā = B C̄ᵀ, B̄ = A C̄
    return [needA ? mm(b, ct, false, true) : undefined, needB ? mm(a, ct, false, false) : undefined]
  // C = Aᵀ Bᵀ: Ā = Bᵀ C̄ᵀ, B̄ = C̄ᵀ Aᵀ
  return [needA ? mm(b, ct, true, true) : undefined, needB ? mm(ct, a, true, true) : undefined]
}

/** The batched matmul op on operands of rank >= 2 (the user-facing `matmul` reshapes vectors). @since 0.1.0 */
export const matmulOp = defineOp<MatmulParams>({
  name: 'matmul',
  forward: ([a, b], p) => T.matmul(a!, b!, p),
  vjp: (ct, [a, b], _y, p, needed) => {
    const [aCotangent, bCotangent] = matmulCotangents(ct, a!, b!, p, needed)
    // Batch axes broadcast in the forward pass are summed back here.
    return [aCotangent && unbroadcast(aCotangent, a!.shape), bCotangent && unbroadcast(bCotangent, b!.shape)]
  },
})

/**
 * Matrix product with NumPy's `matmul` semantics: operands of rank >= 2 multiply their last two
 * axes and broadcast the leading (batch) axes; a 1-D `a` is a row vector and a 1-D `b` a column
 * vector, and that axis is dropped from the result (so vector · vector is a scalar).
 * `transposeA`/`transposeB` read an operand of rank >= 2 as transposed in its last two axes
 * without copying it (ignored for 1-D operands).
 * @example
 * matmul(tensor([[1, 2], [3, 4]]), tensor([[5], [6]]))      // [[17], [39]]
 * matmul(x, w, { transposeB: true })                       // x wᵀ
 * matmul(tensor([1, 2]), tensor([3, 4]))                    // 11
 * @throws ShapeError for scalars or when the inner dimensions differ; ValueError for an unknown option.
 * @since 0.1.0
 */
export const matmul = (a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor => {
  checkOptions('matmul', opts, MATMUL_OPTIONS)
  const aShape = a.shape
  const bShape = b.shape
  if (aShape.length === 0 || bShape.length === 0)
    throw new T.ShapeError(
      'matmul',
      `cannot multiply a of shape ${T.fmtShape(aShape)} by b of shape ${T.fmtShape(bShape)}: ` +
        `scalars have no matrix axes; use mul for scalar multiplication`,
    )
  const aVector = aShape.length === 1
  const bVector = bShape.length === 1
  if (aVector || bVector) {
    const aInner = aVector
      ? aShape[0]!
      : opts.transposeA === true
        ? aShape[aShape.length - 2]!
        : aShape[aShape.length - 1]!
    const bInner = bVector
      ? bShape[0]!
      : opts.transposeB === true
        ? bShape[bShape.length - 1]!
        : bShape[bShape.length - 2]!
    if (aInner !== bInner)
      throw new T.ShapeError(
        'matmul',
        `inner dimensions differ: a of shape ${T.fmtShape(aShape)} contributes ${aInner}, b of shape ` +
          `${T.fmtShape(bShape)} contributes ${bInner} (transposeA ${opts.transposeA === true}, ` +
          `transposeB ${opts.transposeB === true}); expected them equal`,
      )
  }
  const params: MatmulParams = {
    transposeA: !aVector && opts.transposeA === true,
    transposeB: !bVector && opts.transposeB === true,
  }
  const product = applyOp(
    matmulOp,
    [aVector ? reshape(a, [1, aShape[0]!]) : a, bVector ? reshape(b, [bShape[0]!, 1]) : b],
    params,
  )
  if (!aVector && !bVector) return product
  const outShape = product.shape.slice(0, -2)
  if (!aVector) outShape.push(product.shape[product.shape.length - 2]!)
  if (!bVector) outShape.push(product.shape[product.shape.length - 1]!)
  return reshape(product, outShape)
}
