import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest'
import type { MatmulSpec } from '../../src/backend'
import type { Tensor } from '../../src/tensor'
import { ValueError } from '../../src/errors'
import { wasmMatmulFloat32 } from '../../src/backends/wasm/matmul'
import {
  MAX_THREADS,
  getThreads,
  injectWorkerFault,
  readyWorkers,
  setStallTimeout,
  setThreads,
  threadPoolStatus,
} from '../../src/backends/wasm/threads'
import { mulberry32, randomTensor } from './helpers'

// The thread pool's faults: a worker that dies or freezes holding a part of a product, a worker
// that fails to start, a thread count past the bound. None may hang the process or change a bit
// of a product; each must show in threadPoolStatus with its reason. Faults are injected inside
// the worker program through an internal hook (`injectWorkerFault`, not exported by the package).

const rand = mulberry32(23)
const m = 256
const n = 256
const k = 512
const a: Tensor = randomTensor(rand, 'float32', [m, k])
const b: Tensor = randomTensor(rand, 'float32', [k, n])
const spec: MatmulSpec = { transposeA: false, transposeB: false, batchShape: [], m, n, k }
const run = (): Float32Array => wasmMatmulFloat32(a, b, spec).data as Float32Array

const sameBits = (x: Float32Array, y: Float32Array): boolean => {
  const xs = new Int32Array(x.buffer, x.byteOffset, x.length)
  const ys = new Int32Array(y.buffer, y.byteOffset, y.length)
  return xs.length === ys.length && xs.every((v, i) => v === ys[i])
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits (bounded) until `ready()` holds; returns whether it did. */
const until = async (ready: () => boolean, ms = 10_000): Promise<boolean> => {
  for (let waited = 0; !ready() && waited < ms; waited += 10) await sleep(10)
  return ready()
}

/** A fresh two-thread pool with its worker ready (the first large product starts it). */
const freshPool = async (): Promise<void> => {
  setThreads(1)
  setThreads(2)
  run()
  expect(await until(() => readyWorkers() === 1)).toBe(true)
}

/**
 * Runs the product until worker 1 has claimed a part, so that an injected fault fired (the calling
 * thread claims parts too, and under load may claim them all for a while); at most 20 s. Returns
 * the runs it took, or -1.
 */
const runUntilFaultFires = (check: (c: Float32Array) => void): number => {
  const started = performance.now()
  for (let attempt = 1; performance.now() - started < 20_000; attempt++) {
    const before = threadPoolStatus()
    check(run())
    const after = threadPoolStatus()
    if (after.failedWorkers > 0 || after.readyWorkers < before.readyWorkers) return attempt
  }
  return -1
}

let expected: Float32Array = new Float32Array(0)
const threadsBefore = getThreads()

beforeAll(() => {
  setThreads(1)
  expected = run()
})

afterEach(() => {
  setStallTimeout(10_000)
})

afterAll(() => setThreads(threadsBefore))

describe('wasm thread pool faults', () => {
  it('redoes on the calling thread the part of a worker that died holding it; bit-identical, reported', async () => {
    await freshPool()
    injectWorkerFault('die-holding-part')
    const attempts = runUntilFaultFires((c) => expect(sameBits(c, expected)).toBe(true))
    expect(attempts).toBeGreaterThan(0)
    // The death is known at once (GONE); its error event, with the fault's message, comes next.
    expect(await until(() => /fault injection: worker 1 died/.test(threadPoolStatus().reason ?? ''))).toBe(
      true,
    )
    expect(threadPoolStatus()).toMatchObject({ threads: 2, workers: 1, readyWorkers: 0, failedWorkers: 1 })
    // With its only worker dead, the pool's products still complete (the caller runs every part).
    for (let i = 0; i < 3; i++) expect(sameBits(run(), expected)).toBe(true)
    // setThreads with the same count replaces a pool that lost workers.
    setThreads(2)
    run()
    expect(await until(() => readyWorkers() === 1)).toBe(true)
    expect(threadPoolStatus()).toMatchObject({ failedWorkers: 0 })
    expect(threadPoolStatus().reason).toBeUndefined()
  })

  it('fails clearly, without hanging, when a worker holding a part stops without a word', async () => {
    await freshPool()
    setStallTimeout(300)
    injectWorkerFault('hang-holding-part')
    const started = performance.now()
    let failure: unknown
    while (failure === undefined && performance.now() - started < 20_000) {
      try {
        expect(sameBits(run(), expected)).toBe(true)
      } catch (error) {
        failure = error
      }
    }
    expect(String(failure)).toMatch(
      /worker thread 1 showed no sign of life for \d+ ms while holding part of a 256×256×512 product/,
    )
    expect(String(failure)).toMatch(/setThreads\(n\) starts a new pool/)
    expect(performance.now() - started).toBeLessThan(20_000)
    // Threads are off, and say why, until setThreads; products run (right) on this thread meanwhile.
    expect(getThreads()).toBe(1)
    expect(threadPoolStatus()).toMatchObject({ threads: 1, requested: 2, workers: 0 })
    expect(threadPoolStatus().reason).toMatch(/no sign of life/)
    expect(sameBits(run(), expected)).toBe(true)
    // setThreads, even with the same count, starts over with a new pool that works.
    setThreads(2)
    expect(getThreads()).toBe(2)
    await freshPool()
    const before = threadPoolStatus().parallelJobs
    for (let i = 0; i < 3; i++) expect(sameBits(run(), expected)).toBe(true)
    expect(threadPoolStatus().parallelJobs - before).toBe(3)
  })

  it('reports a worker that failed to start, with its reason; products still complete', async () => {
    setThreads(1)
    injectWorkerFault('fail-at-start')
    setThreads(2)
    expect(sameBits(run(), expected)).toBe(true)
    expect(await until(() => threadPoolStatus().failedWorkers === 1)).toBe(true)
    const status = threadPoolStatus()
    expect(status).toMatchObject({ threads: 2, workers: 1, readyWorkers: 0, failedWorkers: 1 })
    expect(status.reason).toMatch(/worker 1: .*fault injection: worker 1 failed to start/)
    expect(sameBits(run(), expected)).toBe(true)
  })

  it('bounds setThreads: past MAX_THREADS it throws (no clamping) and leaves threading on', async () => {
    await freshPool()
    expect(MAX_THREADS).toBe(64)
    expect(() => setThreads(1000)).toThrow(ValueError)
    expect(() => setThreads(1000)).toThrow(/integer from 1 to 64, got 1000/)
    expect(() => setThreads(MAX_THREADS + 1)).toThrow(ValueError)
    expect(() => setThreads(Number.POSITIVE_INFINITY)).toThrow(ValueError)
    expect(getThreads()).toBe(2)
    const before = threadPoolStatus().parallelJobs
    expect(sameBits(run(), expected)).toBe(true)
    expect(threadPoolStatus().parallelJobs - before).toBe(1)
    expect(threadPoolStatus()).toMatchObject({ threads: 2, workers: 1, readyWorkers: 1, failedWorkers: 0 })
  })
})
