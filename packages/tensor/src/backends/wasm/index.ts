import type { Backend } from '../../backend'
import { referenceBackend } from '../reference/index'
import { matmul } from './matmul'
import { unary } from './elementwise'
import { conv2d, conv2dBackwardInput, conv2dBackwardFilter } from './conv'
import { elementwiseProgram } from './program'
import { reductionProgram } from './reduction'
import { matmulEpilogue } from './epilogue'

export { wasmAvailable } from './runtime'
export { wasmResident, type ResidentOperand, type ResidentStep } from './resident'
export { RegionTensor } from './regionTensor'
export { bufferBytes as residentBufferBytes, type OperandKind } from './epilogue'
export { setThreads, getThreads, threadPoolStatus, type ThreadPoolStatus } from './threads'

// Object.assign marked pure, not a spread: bundlers keep an unused `{ ...x }` (a spread may run
// getters), which would ship this backend in every bundle, even one that never selects it.
/**
 * The reference backend with its hot float32 kernels (matmul, conv2d and both conv2d gradients,
 * relu) on WebAssembly SIMD code generated at load time, and float32 elementwise and reduction programs (arithmetic, min/max, rounding, exp, log,
 * tanh, sigmoid, softplus, sin, cos, row sums and maxima, ...: see `elementwiseProgram` and
 * `reductionProgram`) as one generated kernel per program. Other dtypes, tiny
 * products and every other op run on the reference loops. Large float32
 * products are split across worker threads (see `setThreads`), bit-identically to one thread. Use it only where `wasmAvailable()` is true.
 * @example
 * import { setBackend, wasmAvailable, wasmBackend } from '@backfold/tensor'
 * if (wasmAvailable()) setBackend(wasmBackend)
 * @since 0.1.0
 */
export const wasmBackend: Backend = /* @__PURE__ */ Object.assign({}, referenceBackend, {
  name: 'wasm',
  unary,
  matmul,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardFilter,
  elementwiseProgram,
  reductionProgram,
  matmulEpilogue,
})
