// The thread-pool check of the cross-origin-isolated page (see test/browser/page.mjs): large
// float32 matmuls on two threads (the page + one Web Worker) must be bit-identical to one thread, and
// the worker must really compute parts of them (the pool's own counters, `threadPoolStatus`).
import {
  backendStatus,
  fromFlat,
  getThreads,
  matmul,
  setThreads,
  threadPoolStatus,
  wasmAvailable,
} from '@backfold/tensor'

const READY_TIMEOUT_MS = 10_000
/** Tries per product for the worker to claim a part (a product takes about a millisecond). */
const ATTEMPTS = 25

const sleep = (ms) => new Promise((resolve) => globalThis.setTimeout(resolve, ms))

// A deterministic float32 operand (mulberry32 in [-1, 1)).
let seed = 12345
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1
}
const operand = (shape) => {
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(random)
  const result = fromFlat(values, shape)
  if (result._tag === 'Left') throw new Error(result.left.message)
  return result.right
}

/** Products large enough to be split (m·n·k ≥ 2^21), by rows or (few rows) by columns. */
const product = (name, m, n, k, { transposeA = false, transposeB = false, batch = [] } = {}) => ({
  name,
  a: operand([...batch, ...(transposeA ? [k, m] : [m, k])]),
  b: operand(transposeB ? [n, k] : [k, n]),
  options: { transposeA, transposeB },
})
const products = [
  product('256x256x256', 256, 256, 256),
  product('300x257x129', 300, 257, 129),
  product('257x300x131 transposeA', 257, 300, 131, { transposeA: true }),
  product('129x311x263 transposeB', 129, 311, 263, { transposeB: true }),
  product('263x129x311 transposeA+B', 263, 129, 311, { transposeA: true, transposeB: true }),
  product('8x2051x257 (column split)', 8, 2051, 257),
  product('3x[131x140x130] batched', 131, 140, 130, { batch: [3] }),
]

const bits = (t) => new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length)
const firstDifference = (x, y) => {
  if (x.length !== y.length) return `lengths ${x.length} and ${y.length}`
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) return `element ${i}: bits ${x[i].toString(16)} vs ${y[i].toString(16)}`
  }
  return undefined
}

/** Max |C - naive float64 product| for a plain (untransposed, unbatched) product. */
const maxErrorVsNaive = ({ a, b }, c) => {
  const [m, k] = a.shape
  const n = b.shape[1]
  let worst = 0
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0
      for (let p = 0; p < k; p++) sum += a.data[i * k + p] * b.data[p * n + j]
      worst = Math.max(worst, Math.abs(sum - c.data[i * n + j]))
    }
  }
  return worst
}

/**
 * Checks the pool in a cross-origin-isolated page; returns `{ ok: true, ... }` or `{ ok: false, error }`.
 * Leaves the pool on two threads.
 */
export const checkThreadPool = async () => {
  if (globalThis.crossOriginIsolated !== true) {
    return { ok: false, error: 'the page is not cross-origin isolated (check the COOP/COEP headers)' }
  }
  if (typeof SharedArrayBuffer !== 'function') return { ok: false, error: 'SharedArrayBuffer is missing' }
  if (!wasmAvailable()) return { ok: false, error: `wasm unavailable: ${backendStatus().wasmUnavailable}` }

  // One thread: the expected bits. No worker may start.
  setThreads(1)
  const expected = products.map(({ a, b, options }) => matmul(a, b, options))
  if (threadPoolStatus().workers !== 0) return { ok: false, error: 'setThreads(1) started a worker' }
  const naiveError = maxErrorVsNaive(products[1], expected[1])
  if (!(naiveError < 1e-3)) {
    return { ok: false, error: `one-thread 300x257x129 is off the naive product by ${naiveError}` }
  }

  // Two threads: the first large product starts the pool (a Web Worker from a Blob URL). The
  // worker cannot start while this page's thread is busy, so that product may run every part
  // here; yield to the event loop until the worker has instantiated the module.
  setThreads(2)
  if (getThreads() !== 2) return { ok: false, error: `getThreads() is ${getThreads()} after setThreads(2)` }
  const warmUp = matmul(products[0].a, products[0].b)
  const warmUpDifference = firstDifference(bits(warmUp), bits(expected[0]))
  if (warmUpDifference !== undefined) {
    return { ok: false, error: `warm-up product differs from one thread at ${warmUpDifference}` }
  }
  const { workers } = threadPoolStatus()
  if (workers !== 1) {
    return {
      ok: false,
      error: `setThreads(2) and a ${products[0].name} product started ${workers} Web Worker(s), expected 1 (no pool in the browser?)`,
    }
  }
  const started = performance.now()
  while (threadPoolStatus().readyWorkers < 1) {
    if (threadPoolStatus().failedWorkers > 0) {
      return { ok: false, error: `the worker failed: ${threadPoolStatus().reason}` }
    }
    if (performance.now() - started > READY_TIMEOUT_MS) {
      return { ok: false, error: `the worker was not ready after ${READY_TIMEOUT_MS} ms` }
    }
    await sleep(5)
  }
  const readyMs = Math.round(performance.now() - started)

  const results = []
  for (let i = 0; i < products.length; i++) {
    const { name, a, b, options } = products[i]
    // Whether the worker wakes in time to claim a part is up to the OS scheduler (the page claims
    // parts too, and does not wait for the worker): repeat until the worker has computed a part.
    // Every attempt must match one thread bit for bit.
    let attempts = 0
    let workerRan = false
    while (!workerRan && attempts < ATTEMPTS) {
      attempts++
      const before = threadPoolStatus().workerParts
      const c = matmul(a, b, options)
      workerRan = threadPoolStatus().workerParts > before
      const difference = firstDifference(bits(c), bits(expected[i]))
      if (difference !== undefined) {
        return { ok: false, error: `${name}: two threads differ from one thread at ${difference}`, results }
      }
    }
    results.push({ name, workerRan, attempts })
    if (!workerRan) {
      return {
        ok: false,
        error: `${name}: the worker ran no part in ${ATTEMPTS} attempts (every part ran on the page)`,
        results,
      }
    }
  }
  const status = threadPoolStatus()
  if (status.failedWorkers > 0) return { ok: false, error: `the worker failed: ${status.reason}` }
  return {
    ok: true,
    products: results.length,
    attempts: results.reduce((sum, r) => sum + r.attempts, 0),
    readyMs,
    results,
  }
}
