// The automatic backend choice of the build resolved under the `backfold-reference` export
// condition (tsup.config.ts puts it in place of `automatic.ts`): the reference backend, always. It
// imports nothing of the WebAssembly backend, so a bundle of that build carries none of it unless
// the user imports `wasmBackend` and sets it explicitly.
import type { Backend } from './backend'
import { referenceBackend } from './backends/reference/index'

/** The reference backend: this build never chooses WebAssembly by itself. */
export const automaticBackend = (): Backend => referenceBackend

/** This build's automatic choice never uses the WebAssembly backend, whatever the engine supports. */
export const automaticWasmUnavailable = (): string | undefined =>
  'this build of @backfold/tensor was resolved under the "backfold-reference" export condition, ' +
  'whose automatic choice is the reference backend (setBackend(wasmBackend) still selects WebAssembly)'
