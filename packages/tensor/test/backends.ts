import { referenceBackend, wasmAvailable, wasmBackend, type Backend } from '../src/index'

/** Every backend a kernel must agree on: the reference, and the wasm backend where WebAssembly SIMD runs. */
export const backends: ReadonlyArray<readonly [string, Backend]> = [
  ['reference', referenceBackend],
  ...(wasmAvailable() ? [['wasm', wasmBackend] as const] : []),
]
