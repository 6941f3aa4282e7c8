import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import type { MatmulSpec } from '../../src/backend'
import { wasmMatmulFloat32 } from '../../src/backends/wasm/matmul'
import { getThreads, setThreads, threadPoolStatus } from '../../src/backends/wasm/threads'
import { mulberry32, randomTensor } from './helpers'

// Where SharedArrayBuffer is missing (a browser page that is not cross-origin isolated), large
// float32 products used to throw `ReferenceError: SharedArrayBuffer is not defined` while
// getThreads() said 2. Threads must quietly be 1 there, and threadPoolStatus say why. This file runs
// in its own worker (vitest isolates test files), so removing the global affects nothing else.

const saved = globalThis.SharedArrayBuffer

beforeAll(() => {
  Reflect.deleteProperty(globalThis, 'SharedArrayBuffer')
})

afterAll(() => {
  globalThis.SharedArrayBuffer = saved
})

describe('wasm threads without SharedArrayBuffer', () => {
  it('run a 256² float32 matmul on one thread, report 1 thread and say why', () => {
    expect(typeof globalThis.SharedArrayBuffer).toBe('undefined')
    setThreads(2)
    const rand = mulberry32(5)
    const size = 256
    const a = randomTensor(rand, 'float32', [size, size])
    const b = randomTensor(rand, 'float32', [size, size])
    const spec: MatmulSpec = {
      transposeA: false,
      transposeB: false,
      batchShape: [],
      m: size,
      n: size,
      k: size,
    }
    const c = wasmMatmulFloat32(a, b, spec).data
    for (const [i, j] of [
      [0, 0],
      [17, 200],
      [255, 255],
    ] as const) {
      let sum = 0
      for (let p = 0; p < size; p++) sum += a.data[i * size + p]! * b.data[p * size + j]!
      expect(Math.abs(c[i * size + j]! - sum)).toBeLessThan(1e-4)
    }
    expect(getThreads()).toBe(1)
    const status = threadPoolStatus()
    expect(status).toMatchObject({ threads: 1, requested: 2, workers: 0, readyWorkers: 0, parallelJobs: 0 })
    expect(status.reason).toMatch(/SharedArrayBuffer is not available/)
  })
})
