import type { MatmulSpec } from '../../backend'
import type { Tensor } from '../../tensor'
import { sizeOf } from '../../shape'
import { unsafeTensor } from '../../tensor'
import { batchOffsets, matmul as referenceMatmul } from '../reference/matmul'
import { orFallback } from './runtime'
import { gemm, threadedArena } from './threads'

/**
 * Below this many multiply-adds (m·n·k per output matrix) the reference loop wins: copying into
 * wasm memory and packing cost more than the arithmetic they speed up.
 */
const MIN_WORK = 512

/**
 * float32 `Backend.matmul` on the wasm GEMM, whatever the size (the backend's `matmul` routes
 * small products to the reference instead). Both operands are copied whole into wasm memory once;
 * every output matrix is one GEMM reading its operands in place (no broadcast copies, no
 * materialised transposes).
 */
export const wasmMatmulFloat32 = (a: Tensor, b: Tensor, spec: MatmulSpec): Tensor => {
  const { transposeA, transposeB, batchShape, m, n, k } = spec
  const aData = a.data
  const bData = b.data
  const outShape = [...batchShape, m, n]
  const outSize = sizeOf(outShape)
  const out = new Float32Array(outSize)
  if (outSize === 0 || k === 0) return unsafeTensor('float32', outShape, out)
  const aOffsets = batchOffsets(a.shape, batchShape, m * k)
  const bOffsets = batchOffsets(b.shape, batchShape, k * n)
  const count = aOffsets.length
  // A stack of A matrices against one shared B (a dense layer on [batch, time, features]) is one
  // tall GEMM: the rows of consecutive A matrices are consecutive rows of op(A).
  let stacked = !transposeA
  for (let t = 0; stacked && t < count; t++) stacked = aOffsets[t] === t * m * k && bOffsets[t] === 0
  const { heap, base } = threadedArena(
    aData.length + bData.length + outSize,
    (stacked ? count : 1) * m * n * k,
  )
  const aAt = base
  const bAt = aAt + aData.length * 4
  const cAt = bAt + bData.length * 4
  heap.set(aData, aAt >> 2)
  heap.set(bData, bAt >> 2)
  if (stacked) {
    gemm(false, transposeB, count * m, n, k, aAt, bAt, cAt, n, false)
  } else {
    for (let t = 0; t < count; t++) {
      const aMatrix = aAt + aOffsets[t]! * 4
      const bMatrix = bAt + bOffsets[t]! * 4
      gemm(transposeA, transposeB, m, n, k, aMatrix, bMatrix, cAt + t * m * n * 4, n, false)
    }
  }
  // Not heap.slice: from a shared memory it copies element by element (32K floats: 18 µs vs 12).
  out.set(heap.subarray(cAt >> 2, (cAt >> 2) + outSize))
  return unsafeTensor('float32', outShape, out)
}

/**
 * `Backend.matmul` of the wasm backend: float32 products big enough to pay for the copies run
 * on the SIMD GEMM; float64, int32 and tiny products run on the reference loop.
 * @since 0.1.0
 */
export const matmul = (a: Tensor, b: Tensor, spec: MatmulSpec): Tensor =>
  a.dtype === 'float32' && spec.m * spec.n * spec.k >= MIN_WORK
    ? orFallback(
        () => wasmMatmulFloat32(a, b, spec),
        () => referenceMatmul(a, b, spec),
      )
    : referenceMatmul(a, b, spec)
