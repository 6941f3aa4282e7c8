// The automatic backend choice (`getBackend` without `setBackend`). The build resolved under the
// `backfold-reference` export condition replaces this module with `automatic.reference.ts` (see
// tsup.config.ts), so that bundle never reaches the WebAssembly backend.
import type { Backend } from './backend'
import { referenceBackend } from './backends/reference/index'
import { wasmAvailable, wasmBackend } from './backends/wasm/index'
import { wasmUnavailableReason } from './backends/wasm/runtime'

/** WebAssembly SIMD where the engine supports it and may compile it, else the reference backend. */
export const automaticBackend = (): Backend => (wasmAvailable() ? wasmBackend : referenceBackend)

/** Why the automatic choice cannot use the WebAssembly backend here; undefined when it can. */
export const automaticWasmUnavailable = (): string | undefined => wasmUnavailableReason()
