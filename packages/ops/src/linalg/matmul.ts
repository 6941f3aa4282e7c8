// C = op(A) op(B), op = identity or transpose per flag ; Ā, B̄ by matmuls with flags (no transposes materialised)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp, type Batched, type Needed } from '../core/op'
import { moveAxis } from '../core/batching'
import { checkOptions, option, optionSchema } from '../core/options'
import { unbroadcast } from '../core/unbroadcast'
import { reshape } from '../shape/reshape'
import { swapLastTwo } from '../staging/onnx/rules'

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
  [needA, needB]: Needed<[Tensor, Tensor]>,
): readonly [Tensor | undefined, Tensor | undefined] => {
  const mm = (x: Tensor, y: Tensor, transposeA: boolean, transposeB: boolean): Tensor =>
    applyOp(matmulOp, [x, y], { transposeA, transposeB })
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

/**
 * One mapped operand, the other shared. The examples fold into the operand's free axis (the rows
 * m of `a`, the columns n of `b`) when they sit next to it: one product `B` times as tall (or
 * wide) instead of `B` small ones, and only reshapes. Among the leading (batch) axes they stay
 * where they are and the shared operand gets a size-1 axis to broadcast against them. In the one
 * remaining position, right of the contracted axis, one transpose moves them next to the free axis.
 */
const batchOneSide = (
  mapped: Tensor,
  axis: number,
  shared: Tensor,
  mappedIsA: boolean,
  p: MatmulParams,
  self: (xs: [Tensor, Tensor], p: MatmulParams) => Tensor,
): Batched => {
  const rank = mapped.shape.length
  const size = mapped.shape[axis]!
  const apply = (x: Tensor, y: Tensor): Tensor => self(mappedIsA ? [x, y] : [y, x], p)
  const transposed = mappedIsA ? p.transposeA : p.transposeB
  // The free axis (a's rows, b's columns) of one example, counted without the examples' axis; in
  // the batch the examples sit right before it (axis === free) or right after (free + 1) to fold.
  const free = (mappedIsA ? !transposed : transposed) ? rank - 3 : rank - 2
  if (axis !== free && axis !== free + 1 && axis < rank - 2) {
    // Among the batch axes, the j-th from the right: `shared` gets a size-1 axis there to broadcast.
    const fromRight = rank - 2 - axis
    const sharedBatch = shared.shape.length - 2
    const cut = sharedBatch - (fromRight - 1)
    const aligned =
      cut <= 0 ? shared : reshape(shared, [...shared.shape.slice(0, cut), 1, ...shared.shape.slice(cut)])
    const y = apply(mapped, aligned)
    return [y, y.shape.length - 2 - fromRight]
  }
  // Right of the contracted axis (a read untransposed, b read transposed): one transpose.
  const adjacent = axis === free || axis === free + 1 ? mapped : moveAxis(mapped, axis, free + 1)
  const before = axis === free
  const freeSize = adjacent.shape[before ? free + 1 : free]!
  const folded = reshape(adjacent, [
    ...adjacent.shape.slice(0, free),
    size * freeSize,
    ...adjacent.shape.slice(free + 2),
  ])
  const y = apply(folded, shared)
  const outFree = mappedIsA ? y.shape.length - 2 : y.shape.length - 1
  const pair = before ? [size, freeSize] : [freeSize, size]
  const out = reshape(y, [...y.shape.slice(0, outFree), ...pair, ...y.shape.slice(outFree + 1)])
  return [out, before ? outFree : outFree + 1]
}

/** Both operands mapped: the examples become one batch axis of the batched product. */
const batchBothSides = (
  a: Tensor,
  aAxis: number,
  b: Tensor,
  bAxis: number,
  p: MatmulParams,
  self: (xs: [Tensor, Tensor], p: MatmulParams) => Tensor,
): Batched => {
  const aFromRight = a.shape.length - 2 - aAxis
  const bFromRight = b.shape.length - 2 - bAxis
  // Already the same batch axis counted from the right: broadcasting lines the examples up as they are.
  if (aFromRight >= 1 && aFromRight === bFromRight) {
    const y = self([a, b], p)
    return [y, y.shape.length - 2 - aFromRight]
  }
  // Otherwise examples first, then size-1 axes pad the shorter example's batch axes.
  const batchRank = Math.max(a.shape.length, b.shape.length) - 3
  const atFront = (x: Tensor, axis: number): Tensor => {
    const front = moveAxis(x, axis, 0)
    const missing = batchRank - (x.shape.length - 3)
    return missing === 0
      ? front
      : reshape(front, [front.shape[0]!, ...new Array<number>(missing).fill(1), ...front.shape.slice(1)])
  }
  return [self([atFront(a, aAxis), atFront(b, bAxis)], p), 0]
}

/** The batched matmul op on operands of rank >= 2 (the user-facing `matmul` reshapes vectors). @since 0.1.0 */
export const matmulOp = defineOp<'matmul', [Tensor, Tensor], MatmulParams>({
  name: 'matmul',
  forward: ([a, b], p) => T.matmul(a, b, p),
  vjp: (ct, [a, b], _y, p, needed) => {
    // A matrix b shared by every matrix of a batched a (a layer's weight against [batch, seq, in]):
    // B̄ sums Aᵢᵀ C̄ᵢ over the batch, which is one product of the stacked rows, [rows, k]ᵀ [rows, n],
    // instead of a batch of products and a sum over it.
    if (needed[1] && b.shape.length === 2 && a.shape.length > 2 && !p.transposeA) {
      const [aCotangent] = matmulCotangents(ct, a, b, p, [needed[0], false])
      const rows = a.shape.slice(0, -1).reduce((x, y) => x * y, 1)
      const stacked = reshape(a, [rows, a.shape[a.shape.length - 1]!])
      const stackedCt = reshape(ct, [rows, ct.shape[ct.shape.length - 1]!])
      const mm = (x: Tensor, y: Tensor): Tensor =>
        applyOp(matmulOp, [x, y], { transposeA: true, transposeB: false })
      return [
        aCotangent && unbroadcast(aCotangent, a.shape),
        p.transposeB ? mm(stackedCt, stacked) : mm(stacked, stackedCt),
      ]
    }
    const [aCotangent, bCotangent] = matmulCotangents(ct, a, b, p, needed)
    // Batch axes broadcast in the forward pass are summed back here.
    return [aCotangent && unbroadcast(aCotangent, a.shape), bCotangent && unbroadcast(bCotangent, b.shape)]
  },
  batch: ([a, b], [aAxis, bAxis], p, self) => {
    if (aAxis !== undefined && bAxis !== undefined) return batchBothSides(a, aAxis, b, bAxis, p, self)
    if (aAxis !== undefined) return batchOneSide(a, aAxis, b, true, p, self)
    if (bAxis !== undefined) return batchOneSide(b, bAxis, a, false, p, self)
    throw new T.TraceError('matmul', 'a batching rule ran with no mapped input (a bug in backfold)')
  },
  // The kernel's own shape function and dtype promotion, so staging throws what the kernel would.
  abstract: ([a, b], p) => ({
    shape: T.matmulShape(a.shape, b.shape, p),
    dtype: T.promoteTypes(a.dtype, b.dtype),
  }),
  onnx: (g, [a, b], p, { inputs: [aa, ab], output }) => {
    const x = g.cast(a, aa.dtype, output.dtype)
    const y = g.cast(b, ab.dtype, output.dtype)
    // Two matrices of floats: one Gemm with its transpose flags (ORT has no int Gemm).
    if (aa.shape.length === 2 && ab.shape.length === 2 && output.dtype !== 'int32')
      return g.node('Gemm', [x, y], { transA: p.transposeA ? 1 : 0, transB: p.transposeB ? 1 : 0 })
    // Otherwise MatMul (batch axes broadcast as backfold's do) of explicitly transposed operands.
    return g.node('MatMul', [
      p.transposeA ? swapLastTwo(g, x, aa.shape.length) : x,
      p.transposeB ? swapLastTwo(g, y, ab.shape.length) : y,
    ])
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
