// A minimal Web `Worker` over node:worker_threads, so that jax-js can start its wasm worker pool in
// Node 20 (which has no global `Worker`). It covers exactly what jax-js 0.1.25 uses
// (src/backend/wasm/parallel.ts): `new Worker(blobUrl, { type: 'module' })` on a `blob:` URL made
// with `URL.createObjectURL`, `postMessage` (the shared `WebAssembly.Memory` is cloned as shared
// memory by worker_threads, as by a browser), `onmessage` and `onerror`, and, inside the worker,
// `self.onmessage` and a global `postMessage`. Anything else it throws rather than half-works.
import { resolveObjectURL } from 'node:buffer'
import { Worker as ThreadWorker } from 'node:worker_threads'

// Runs in each thread: makes the Web worker globals, then loads the worker's module source (a Blob
// sent as workerData) as an ES module from a data: URL, as `type: 'module'` asks.
const BOOTSTRAP = `
const { parentPort, workerData } = require('node:worker_threads')
globalThis.self = globalThis
globalThis.postMessage = (data) => parentPort.postMessage(data)
let handler = null
Object.defineProperty(globalThis, 'onmessage', {
  get: () => handler,
  set: (fn) => {
    if (handler !== null) parentPort.off('message', handler.listener)
    handler = fn === null ? null : Object.assign(fn, { listener: (data) => fn({ data }) })
    if (handler !== null) parentPort.on('message', handler.listener)
  },
})
// A rejection here is unhandled, which ends the thread with an 'error' event in the main thread.
workerData.source.text().then((text) => import('data:text/javascript,' + encodeURIComponent(text)))
`

/**
 * A Web `Worker` running in a node:worker_threads thread. Messages from the main thread wait in the
 * port until the worker's module sets `self.onmessage`. The thread keeps the process alive only
 * while a message to it is unanswered (jax-js's protocol answers every message once), so a case
 * process exits when its work is done although jax-js never terminates its pool.
 */
export class NodeWebWorker {
  /** How many threads this process has started: lets a case check that jax-js really used them. */
  static started = 0
  onmessage = null
  onerror = null
  #thread
  #unanswered = 0

  constructor(url, options = {}) {
    const href = String(url)
    if (options.type !== 'module')
      throw new Error(`NodeWebWorker supports module workers only, got ${options.type}`)
    const source = href.startsWith('blob:') ? resolveObjectURL(href) : undefined
    if (source === undefined) throw new Error(`NodeWebWorker loads blob: URLs only, got ${href.slice(0, 40)}`)
    this.#thread = new ThreadWorker(BOOTSTRAP, { eval: true, workerData: { source } })
    this.#thread.unref()
    NodeWebWorker.started++
    this.#thread.on('message', (data) => {
      if (this.#unanswered > 0 && --this.#unanswered === 0) this.#thread.unref()
      this.onmessage?.({ data })
    })
    this.#thread.on('error', (error) => {
      this.#unanswered = 0
      this.#thread.unref()
      if (this.onerror === null) throw error
      this.onerror({ message: error.message, error })
    })
  }

  postMessage(data) {
    if (this.#unanswered++ === 0) this.#thread.ref()
    this.#thread.postMessage(data)
  }

  terminate() {
    void this.#thread.terminate()
  }
}
