import { setBackend } from '../../src/backend'
import { wasmBackend } from '../../src/backends/wasm/index'

// Imported first by reference-suite.test.ts: every kernel call of the test files imported after it
// runs on the wasm backend (vitest isolates each test file, so no other file sees this).
setBackend(wasmBackend)
