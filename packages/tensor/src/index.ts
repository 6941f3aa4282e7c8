/**
 * @backfold/tensor: immutable n-d arrays, dtypes, broadcasting, splittable random keys and
 * the kernels (behind a swappable backend) that everything else in backfold computes with.
 *
 * @example
 * import { tensor, matmul, toString } from '@backfold/tensor'
 * const a = tensor([[1, 2], [3, 4]])
 * console.log(toString(matmul(a, a))) // tensor([[ 7., 10.], [15., 22.]]) (one row per line)
 * @packageDocumentation
 * @module @backfold/tensor
 */
export * from './dtype'
export * from './errors'
export * from './shape'
export * from './tensor'
export * from './donation'
export * from './tree'
export * from './create'
export * from './format'
/**
 * Splittable random keys (Threefry-2x32, bit-compatible with JAX) and the samplers that draw from
 * them: `random.key(seed)`, `random.split(key)`, `random.normal(key, shape)`, ...
 */
export * as random from './random'
export type { Key } from './random'
export { getBackend, setBackend } from './backend'
export { backendStatus, type BackendStatus } from './backend'
export type { Backend, UnaryOp, BinaryOp, ReduceOp, MatmulSpec, Conv2dSpec, Pool2dSpec } from './backend'
export { referenceBackend } from './backends/reference/index'
export {
  wasmBackend,
  wasmAvailable,
  setThreads,
  getThreads,
  threadPoolStatus,
  type ThreadPoolStatus,
} from './backends/wasm/index'
export {
  wasmResident,
  residentBufferBytes,
  RegionTensor,
  type ResidentOperand,
  type ResidentStep,
  type OperandKind,
} from './backends/wasm/index'
export * from './kernels/unary'
export * from './kernels/binary'
export * from './kernels/reduce'
export * from './kernels/cumulative'
export * from './kernels/sort'
export * from './kernels/matmul'
export * from './kernels/shape'
export * from './kernels/slice'
export * from './kernels/gather'
export * from './kernels/conv'
export * from './kernels/pool'
export * from './kernels/program'
export * from './kernels/reductionProgram'
export * from './kernels/matmulEpilogue'
export { claimSingleCopy, type LoadedCopy } from './copies'
