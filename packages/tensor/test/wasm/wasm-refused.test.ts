import { describe, it, expect, afterAll, vi } from 'vitest'
import { backendStatus, setBackend } from '../../src/backend'
import { wasmBackend } from '../../src/backends/wasm/index'
import { wasmAvailable } from '../../src/backends/wasm/runtime'
import { matmul } from '../../src/kernels/matmul'
import { tensor } from '../../src/create'
import { toArray } from '../../src/format'

// A page served with `Content-Security-Policy: script-src 'self'` (no 'wasm-unsafe-eval') may
// validate WebAssembly but not compile it. wasmAvailable() used to say true there, and then every
// matmul threw CompileError. Here the engine refuses every compile as Chromium does under that
// policy; the automatic backend must be the reference one, and backendStatus() must say why.

const refusal =
  "WebAssembly.Module(): Refused to compile or instantiate WebAssembly module because 'unsafe-eval' is not an allowed source of script in the following Content Security Policy directive: \"script-src 'self'\""
const real = WebAssembly
class RefusingModule {
  constructor() {
    throw new real.CompileError(refusal)
  }
}
vi.stubGlobal('WebAssembly', Object.create(real, { Module: { value: RefusingModule } }))

afterAll(() => {
  vi.unstubAllGlobals()
  setBackend(undefined)
})

describe('an engine that refuses to compile WebAssembly (a strict Content-Security-Policy)', () => {
  it('runs on the reference backend, and backendStatus says why', () => {
    // Validation is still allowed there: only a real compile shows the refusal.
    expect(WebAssembly.validate(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]))).toBe(true)
    expect(wasmAvailable()).toBe(false)
    const status = backendStatus()
    expect(status).toMatchObject({ backend: 'reference', chosenBy: 'automatic' })
    expect(status.wasmUnavailable).toMatch(
      /refuses to compile WebAssembly \(CompileError: .*Refused to compile/,
    )
    expect(status.wasmUnavailable).toMatch(/'wasm-unsafe-eval'/)
    const a = tensor([
      [1, 2],
      [3, 4],
    ])
    expect(toArray(matmul(a, a))).toEqual([7, 10, 15, 22])
  })

  it('says what to do when the wasm backend is set explicitly anyway', () => {
    setBackend(wasmBackend)
    expect(backendStatus()).toMatchObject({ backend: 'wasm', chosenBy: 'setBackend' })
    const a = tensor(
      Array.from({ length: 8 }, (_, i) => Array.from({ length: 8 }, (_, j) => i - j)),
      'float32',
    )
    expect(() => matmul(a, a)).toThrow(
      /wasm backend: this page or engine refuses to compile WebAssembly.*setBackend\(undefined\)/,
    )
    setBackend(undefined)
    expect(backendStatus().backend).toBe('reference')
  })
})
