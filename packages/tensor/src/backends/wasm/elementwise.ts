import type { UnaryOp } from '../../backend'
import type { DType } from '../../dtype'
import type { Tensor } from '../../tensor'
import { unsafeTensor } from '../../tensor'
import { unary as referenceUnary } from '../reference/elementwise'
import { arena, gemmInstance, orFallback } from './runtime'

// Elementwise kernels on wasm only where measured faster after paying for the copy in and out
// (≈ 1.5 ns per float32 element on the development machine). relu: reference 7.4 ns/element
// (Math.max per element), wasm ≈ 1.5. add/mul (1.7–1.8 ns) would not gain; exp/tanh would
// need polynomial approximations of their own and are left to the reference.

/** Below this many elements the copies' fixed costs outweigh the gain. */
const MIN_ELEMENTS = 256

/** float32 relu on wasm, whatever the size. */
export const wasmReluFloat32 = (x: Tensor): Tensor => {
  const data = x.data
  const size = data.length
  const out = new Float32Array(size)
  if (size === 0) return unsafeTensor('float32', x.shape, out)
  const { heap, base } = arena(size)
  heap.set(data, base >> 2)
  gemmInstance().relu(base, size)
  out.set(heap.subarray(base >> 2, (base >> 2) + size))
  return unsafeTensor('float32', x.shape, out)
}

/**
 * `Backend.unary` of the wasm backend: float32 relu on wasm, everything else on the reference.
 * @since 0.1.0
 */
export const unary = (op: UnaryOp, x: Tensor, outDtype: DType): Tensor =>
  op === 'relu' && x.dtype === 'float32' && outDtype === 'float32' && x.data.length >= MIN_ELEMENTS
    ? orFallback(
        () => wasmReluFloat32(x),
        () => referenceUnary(op, x, outDtype),
      )
    : referenceUnary(op, x, outDtype)
