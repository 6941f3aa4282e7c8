// The existing matmul and conv2d test suites (validation, broadcasting, 1-D operands, dtype
// promotion, int32 wrap-around, zero-size axes, gradients as adjoints), rerun with the wasm backend
// selected: nothing above the backend may tell the difference.
import './use-wasm-backend'
import '../matmul.test'
import '../conv.test'
import { describe, it, expect } from 'vitest'
import { getBackend } from '../../src/backend'

describe('reference suites on the wasm backend', () => {
  it('run with the wasm backend selected', () => {
    expect(getBackend().name).toBe('wasm')
  })
})
