// What every browser page runs (bundled by scripts/browser.mjs from the BUILT packages, served as
// an external script so a strict Content-Security-Policy page can load it): the shared computation
// (test/browser/computation.mjs), the backend and thread-pool status it ran with, and, on the
// cross-origin-isolated page, the thread-pool check. The outcome goes to `globalThis.backfoldResult`.
import { backendStatus, getThreads, matmul, setThreads, threadPoolStatus, zeros } from '@backfold/tensor'
import { compute } from './computation.mjs'
import { checkThreadPool } from './threads.mjs'

const READY_TIMEOUT_MS = 10_000

const sleep = (ms) => new Promise((resolve) => globalThis.setTimeout(resolve, ms))

/** A Float32Array's bytes as base64 (exact, and compact enough for the harness). */
const base64 = (values) => {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
  let text = ''
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return globalThis.btoa(text)
}

const run = async () => {
  // Every page asks for two threads; only the cross-origin-isolated one may get them.
  setThreads(2)
  if (globalThis.crossOriginIsolated === true) {
    // Start the pool and let the worker boot (it cannot while this thread is busy), so that the
    // computation below really runs partly on it.
    matmul(zeros([256, 256]), zeros([256, 256]))
    const started = performance.now()
    while (threadPoolStatus().readyWorkers < 1 && threadPoolStatus().failedWorkers === 0) {
      if (performance.now() - started > READY_TIMEOUT_MS) break
      await sleep(5)
    }
  }
  const before = threadPoolStatus()
  const started = performance.now()
  const values = compute()
  const ms = Math.round(performance.now() - started)
  const pool = threadPoolStatus()
  const result = {
    ok: true,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    backend: backendStatus(),
    threads: getThreads(),
    pool,
    computeWorkerParts: pool.workerParts - before.workerParts,
    computeParallelJobs: pool.parallelJobs - before.parallelJobs,
    ms,
    loss: values.loss,
    matmul: base64(values.matmul),
    gradient: base64(values.gradient),
    fitted: base64(values.fitted),
    userAgent: navigator.userAgent,
  }
  if (result.crossOriginIsolated) result.threadCheck = await checkThreadPool()
  return result
}

run().then(
  (result) => {
    globalThis.backfoldResult = result
  },
  (error) => {
    globalThis.backfoldResult = { ok: false, error: String(error && error.stack ? error.stack : error) }
  },
)
