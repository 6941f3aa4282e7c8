import type { MatmulSpec } from '../backend'
import type { DType } from '../dtype'
import type { Shape } from '../shape'
import type { Tensor } from '../tensor'
import { getBackend } from '../backend'
import { promoteTypes } from '../dtype'
import { ShapeError, fmtShape } from '../errors'
import { requireConcrete, unsafeTensor } from '../tensor'

/**
 * Options of `matmul`. A transpose flag swaps the last two axes of that operand (rank >= 2 only;
 * it is ignored for a 1-D operand, which has nothing to transpose).
 * @since 0.1.0
 */
export interface MatmulOptions {
  readonly transposeA?: boolean
  readonly transposeB?: boolean
}

/**
 * A `MatmulSpec` plus the result shape: `[...batchShape, m, n]` with the `m` axis dropped when
 * `a` is 1-D and the `n` axis dropped when `b` is 1-D.
 * @since 0.1.0
 */
export interface MatmulPlan {
  readonly spec: MatmulSpec
  readonly outShape: ReadonlyArray<number>
}

const describeOperands = (aShape: Shape, bShape: Shape, transposeA: boolean, transposeB: boolean): string =>
  `a is ${fmtShape(aShape)} (transposeA=${transposeA}), b is ${fmtShape(bShape)} (transposeB=${transposeB})`

/**
 * Pure shape inference for `matmul` (NumPy semantics): validates the shapes and returns the
 * backend spec and the result shape. A 1-D `a` acts as `[1, k]`, a 1-D `b` as `[k, 1]`, and
 * that axis is dropped from the result; batch axes broadcast.
 * @example
 * matmulPlan([2, 1, 3, 4], [5, 4, 2]).outShape // [2, 5, 3, 2]
 * @since 0.1.0
 */
export const matmulPlan = (aShape: Shape, bShape: Shape, opts: MatmulOptions = {}): MatmulPlan => {
  const transposeA = opts.transposeA === true
  const transposeB = opts.transposeB === true
  const aRank = aShape.length
  const bRank = bShape.length
  if (aRank === 0 || bRank === 0) {
    throw new ShapeError(
      'matmul',
      `${describeOperands(aShape, bShape, transposeA, transposeB)}; matmul needs operands of rank >= 1, ` +
        `not scalars (use mul to scale by a scalar)`,
    )
  }
  // Transposition only means something for matrices; a vector is read as given.
  const flipA = transposeA && aRank >= 2
  const flipB = transposeB && bRank >= 2
  const m = aRank === 1 ? 1 : aShape[flipA ? aRank - 1 : aRank - 2]!
  const kA = aRank === 1 ? aShape[0]! : aShape[flipA ? aRank - 2 : aRank - 1]!
  const kB = bRank === 1 ? bShape[0]! : bShape[flipB ? bRank - 1 : bRank - 2]!
  const n = bRank === 1 ? 1 : bShape[flipB ? bRank - 2 : bRank - 1]!
  if (kA !== kB) {
    throw new ShapeError(
      'matmul',
      `inner dimensions differ: ${describeOperands(aShape, bShape, transposeA, transposeB)}; ` +
        `a contributes k=${kA} but b contributes k=${kB}; expected them equal`,
    )
  }
  const aBatch = aRank > 2 ? aShape.slice(0, aRank - 2) : []
  const bBatch = bRank > 2 ? bShape.slice(0, bRank - 2) : []
  const batchRank = Math.max(aBatch.length, bBatch.length)
  const batchShape = new Array<number>(batchRank)
  for (let i = 0; i < batchRank; i++) {
    const da = i < batchRank - aBatch.length ? 1 : aBatch[i - (batchRank - aBatch.length)]!
    const db = i < batchRank - bBatch.length ? 1 : bBatch[i - (batchRank - bBatch.length)]!
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        'matmul',
        `batch dimensions do not broadcast: ${describeOperands(aShape, bShape, transposeA, transposeB)}; ` +
          `batch axis ${i} is ${da} vs ${db}; expected equal sizes or 1`,
      )
    }
    batchShape[i] = da === 1 ? db : da
  }
  const outShape = [...batchShape]
  if (aRank >= 2) outShape.push(m)
  if (bRank >= 2) outShape.push(n)
  return { spec: { transposeA: flipA, transposeB: flipB, batchShape, m, n, k: kA }, outShape }
}

/**
 * The shape of `matmul(a, b, opts)` for operands of shapes `aShape` and `bShape`, or a
 * `ShapeError` thrown exactly as `matmul` would.
 * @example
 * matmulShape([3], [3, 4]) // [4]
 * @since 0.1.0
 */
export const matmulShape = (aShape: Shape, bShape: Shape, opts: MatmulOptions = {}): number[] => [
  ...matmulPlan(aShape, bShape, opts).outShape,
]

/** Views a tensor as rank >= 2 (a vector as one row or one column) in `dtype`, casting if needed. */
const asMatrixOperand = (x: Tensor, shape: Shape, dtype: DType, vectorShape: Shape): Tensor => {
  const fromDtype = x.dtype
  const viewed = unsafeTensor(fromDtype, shape.length === 1 ? vectorShape : shape, x.data)
  return fromDtype === dtype ? viewed : getBackend().cast(viewed, dtype)
}

/**
 * Matrix product with NumPy `matmul` semantics.
 *
 * - rank >= 2 operands are stacks of matrices whose leading (batch) axes broadcast;
 * - a 1-D `a` is a row vector `[1, k]` and a 1-D `b` a column vector `[k, 1]`, and that axis is
 *   dropped from the result (so 1-D @ 1-D is a scalar);
 * - `transposeA` / `transposeB` swap the last two axes of a rank >= 2 operand without copying it;
 * - dtypes promote (`int32 @ float32` is float32); int32 products wrap like NumPy's.
 *
 * Throws a `ShapeError` for scalar operands, mismatched inner dimensions or batch axes that do
 * not broadcast; the message names both shapes and both flags.
 * @example
 * import { matmul, unsafeTensor } from '@backfold/tensor'
 * const a = unsafeTensor('float32', [2, 3], Float32Array.of(1, 2, 3, 4, 5, 6))
 * const b = unsafeTensor('float32', [2, 3], Float32Array.of(1, 0, 0, 0, 1, 0))
 * matmul(a, b, { transposeB: true }).data // Float32Array [1, 2, 4, 5]  (a · bᵀ, shape [2, 2])
 * @since 0.1.0
 */
export const matmul = (a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor => {
  requireConcrete('matmul', 'a', a)
  requireConcrete('matmul', 'b', b)
  const aShape = a.shape
  const bShape = b.shape
  const { spec, outShape } = matmulPlan(aShape, bShape, opts)
  const dtype = promoteTypes(a.dtype, b.dtype)
  const left = asMatrixOperand(a, aShape, dtype, [1, spec.k])
  const right = asMatrixOperand(b, bShape, dtype, [spec.k, 1])
  const product = getBackend().matmul(left, right, spec)
  // The backend returns [...batch, m, n]; dropping the vector axes is a free reshape.
  return unsafeTensor(dtype, outShape, product.data)
}
