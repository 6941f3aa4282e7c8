import type { MatmulSpec } from '../../backend'
import type { DType, TypedArray } from '../../dtype'
import type { Shape } from '../../shape'
import type { Tensor } from '../../tensor'
import { allocate } from '../../dtype'
import { sizeOf } from '../../shape'
import { unsafeTensor } from '../../tensor'

// The reference GEMM: C += op(A) · op(B) on contiguous row-major matrices, cache-blocked over
// columns of C and the shared depth, i-k-j order so the inner loop is a contiguous axpy over a
// row of op(B) into a row of C. Four depth steps are fused per pass so each C element is loaded
// and stored once per four multiply-adds (that store traffic, not arithmetic, bounds plain JS).
// conv.ts reuses it for im2col convolutions and their gradients.

/** Columns of C per block: a row segment of C plus four of B stay in L1 while they are swept. */
const COL_BLOCK = 256
/** Depth per block: a DEPTH_BLOCK × COL_BLOCK panel of op(B) (≤ 256 KiB in float64) stays in L2 across all rows. */
const DEPTH_BLOCK = 128

/**
 * A scratch buffer for `gemm`: a transposed B is packed into it one panel at a time, so that the
 * inner loop still reads op(B) row by row. Empty when B is not transposed.
 */
export const gemmScratch = (dtype: DType, transB: boolean, n: number, k: number): TypedArray =>
  allocate(dtype, transB ? Math.min(DEPTH_BLOCK, k) * Math.min(COL_BLOCK, n) : 0)

/**
 * `C += op(A) · op(B)` where op(A) is m×k and op(B) is k×n; C (m×n, row stride n) starts at
 * `cOffset` of `c`. A is stored m×k (or k×m when `transA`), B is stored k×n (or n×k when
 * `transB`), each contiguous from its offset. All arrays share one element type; `scratch`
 * comes from `gemmScratch`.
 */
export const gemm = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  a: TypedArray,
  aOffset: number,
  b: TypedArray,
  bOffset: number,
  c: TypedArray,
  cOffset: number,
  scratch: TypedArray,
): void => {
  if (m === 0 || n === 0 || k === 0) return
  if (c instanceof Int32Array) gemmInt32(transA, transB, m, n, k, a, aOffset, b, bOffset, c, cOffset, scratch)
  else gemmFloat(transA, transB, m, n, k, a, aOffset, b, bOffset, c, cOffset, scratch)
}

/** Copies the `depth × width` panel of op(B) = Bᵀ starting at (row p0, column j0) into `panel`, row stride `width`. */
const packTransposed = (
  b: TypedArray,
  bOffset: number,
  k: number,
  p0: number,
  j0: number,
  depth: number,
  width: number,
  panel: TypedArray,
): void => {
  for (let jj = 0; jj < width; jj++) {
    const from = bOffset + (j0 + jj) * k + p0
    for (let pp = 0; pp < depth; pp++) panel[pp * width + jj] = b[from + pp]!
  }
}

const gemmFloat = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  a: TypedArray,
  aOffset: number,
  b: TypedArray,
  bOffset: number,
  c: TypedArray,
  cOffset: number,
  scratch: TypedArray,
): void => {
  // Element (i, p) of op(A) is a[aOffset + i * aRowStep + p * aDepthStep].
  const aRowStep = transA ? 1 : k
  const aDepthStep = transA ? m : 1
  const aQuadStep = 4 * aDepthStep
  for (let j0 = 0; j0 < n; j0 += COL_BLOCK) {
    const width = Math.min(COL_BLOCK, n - j0)
    for (let p0 = 0; p0 < k; p0 += DEPTH_BLOCK) {
      const depth = Math.min(DEPTH_BLOCK, k - p0)
      let panel = b
      let panelOffset = bOffset + p0 * n + j0
      let panelStride = n
      if (transB) {
        packTransposed(b, bOffset, k, p0, j0, depth, width, scratch)
        panel = scratch
        panelOffset = 0
        panelStride = width
      }
      const quadStride = 4 * panelStride
      for (let i = 0; i < m; i++) {
        const cRow = cOffset + i * n + j0
        const cEnd = cRow + width
        let aAt = aOffset + i * aRowStep + p0 * aDepthStep
        let row0 = panelOffset
        let p = 0
        for (; p + 4 <= depth; p += 4) {
          const a0 = a[aAt]!
          const a1 = a[aAt + aDepthStep]!
          const a2 = a[aAt + 2 * aDepthStep]!
          const a3 = a[aAt + 3 * aDepthStep]!
          const row1 = row0 + panelStride
          const row2 = row1 + panelStride
          const row3 = row2 + panelStride
          // Walk B's four rows with offsets relative to C's row so the loop carries one index.
          const d0 = row0 - cRow
          const d1 = row1 - cRow
          const d2 = row2 - cRow
          const d3 = row3 - cRow
          for (let at = cRow; at < cEnd; at++) {
            c[at] =
              c[at]! +
              a0 * panel[at + d0]! +
              a1 * panel[at + d1]! +
              a2 * panel[at + d2]! +
              a3 * panel[at + d3]!
          }
          aAt += aQuadStep
          row0 += quadStride
        }
        for (; p < depth; p++) {
          const a0 = a[aAt]!
          const d0 = row0 - cRow
          for (let at = cRow; at < cEnd; at++) c[at] = c[at]! + a0 * panel[at + d0]!
          aAt += aDepthStep
          row0 += panelStride
        }
      }
    }
  }
}

/**
 * `gemmFloat` with int32 wrap-around arithmetic (NumPy's int32 matmul): `Math.imul` keeps every
 * product exact modulo 2³², and a sum of five int32 values is exact in a double before `| 0` wraps it.
 */
const gemmInt32 = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  a: TypedArray,
  aOffset: number,
  b: TypedArray,
  bOffset: number,
  c: Int32Array,
  cOffset: number,
  scratch: TypedArray,
): void => {
  const aRowStep = transA ? 1 : k
  const aDepthStep = transA ? m : 1
  const aQuadStep = 4 * aDepthStep
  for (let j0 = 0; j0 < n; j0 += COL_BLOCK) {
    const width = Math.min(COL_BLOCK, n - j0)
    for (let p0 = 0; p0 < k; p0 += DEPTH_BLOCK) {
      const depth = Math.min(DEPTH_BLOCK, k - p0)
      let panel = b
      let panelOffset = bOffset + p0 * n + j0
      let panelStride = n
      if (transB) {
        packTransposed(b, bOffset, k, p0, j0, depth, width, scratch)
        panel = scratch
        panelOffset = 0
        panelStride = width
      }
      const quadStride = 4 * panelStride
      for (let i = 0; i < m; i++) {
        const cRow = cOffset + i * n + j0
        const cEnd = cRow + width
        let aAt = aOffset + i * aRowStep + p0 * aDepthStep
        let row0 = panelOffset
        let p = 0
        for (; p + 4 <= depth; p += 4) {
          const a0 = a[aAt]!
          const a1 = a[aAt + aDepthStep]!
          const a2 = a[aAt + 2 * aDepthStep]!
          const a3 = a[aAt + 3 * aDepthStep]!
          const d0 = row0 - cRow
          const d1 = d0 + panelStride
          const d2 = d1 + panelStride
          const d3 = d2 + panelStride
          for (let at = cRow; at < cEnd; at++) {
            c[at] =
              (c[at]! +
                Math.imul(a0, panel[at + d0]!) +
                Math.imul(a1, panel[at + d1]!) +
                Math.imul(a2, panel[at + d2]!) +
                Math.imul(a3, panel[at + d3]!)) |
              0
          }
          aAt += aQuadStep
          row0 += quadStride
        }
        for (; p < depth; p++) {
          const a0 = a[aAt]!
          const d0 = row0 - cRow
          for (let at = cRow; at < cEnd; at++) c[at] = (c[at]! + Math.imul(a0, panel[at + d0]!)) | 0
          aAt += aDepthStep
          row0 += panelStride
        }
      }
    }
  }
}

/**
 * Offset of each output batch's matrix inside an operand of shape `[...inBatch, r, c]`, for the
 * output batch shape `batchShape` (NumPy broadcasting: size-1 or missing leading axes repeat).
 */
export const batchOffsets = (inShape: Shape, batchShape: Shape, matrixSize: number): number[] => {
  const batchRank = batchShape.length
  const inBatchRank = inShape.length - 2
  const lead = batchRank - inBatchRank
  // Stride (in elements) of each output batch axis inside the operand; 0 where it broadcasts.
  const strides = new Array<number>(batchRank).fill(0)
  let stride = matrixSize
  for (let axis = batchRank - 1; axis >= lead; axis--) {
    const dim = inShape[axis - lead]!
    strides[axis] = dim === 1 ? 0 : stride
    stride *= dim
  }
  const count = sizeOf(batchShape)
  const offsets = new Array<number>(count)
  const counter = new Array<number>(batchRank).fill(0)
  let offset = 0
  for (let t = 0; t < count; t++) {
    offsets[t] = offset
    for (let axis = batchRank - 1; axis >= 0; axis--) {
      offset += strides[axis]!
      if (++counter[axis]! < batchShape[axis]!) break
      offset -= strides[axis]! * batchShape[axis]!
      counter[axis] = 0
    }
  }
  return offsets
}

/**
 * Reference `Backend.matmul`: one blocked GEMM per output batch matrix, reading each operand's
 * matrix in place (no broadcast copies, no materialised transposes).
 * @since 0.1.0
 */
export const matmul = (a: Tensor, b: Tensor, spec: MatmulSpec): Tensor => {
  const { transposeA, transposeB, batchShape, m, n, k } = spec
  const dtype = a.dtype
  const aData = a.data
  const bData = b.data
  const outShape = [...batchShape, m, n]
  const out = allocate(dtype, sizeOf(outShape))
  if (out.length === 0 || k === 0) return unsafeTensor(dtype, outShape, out)
  const scratch = gemmScratch(dtype, transposeB, n, k)
  const aOffsets = batchOffsets(a.shape, batchShape, m * k)
  const bOffsets = batchOffsets(b.shape, batchShape, k * n)
  const count = aOffsets.length
  // A stack of A matrices against one shared B (a dense layer on [batch, time, features]) is one
  // tall GEMM: the rows of consecutive A matrices are consecutive rows of op(A).
  let stacked = !transposeA
  for (let t = 0; stacked && t < count; t++) stacked = aOffsets[t] === t * m * k && bOffsets[t] === 0
  if (stacked) {
    gemm(false, transposeB, count * m, n, k, aData, 0, bData, 0, out, 0, scratch)
  } else {
    for (let t = 0; t < count; t++) {
      gemm(transposeA, transposeB, m, n, k, aData, aOffsets[t]!, bData, bOffsets[t]!, out, t * m * n, scratch)
    }
  }
  return unsafeTensor(dtype, outShape, out)
}
