import type { WorkerInit } from './worker'
import { ValueError } from '../../errors'
import {
  BLOCKING,
  arena,
  gemmInMemory,
  gemmInstance,
  operandSteps,
  reserveWorkerScratch,
  scratchOf,
} from './runtime'
import { CONTROL_SLOTS, blockedGemm, claimParts, runPart, workerMain } from './worker'

// Large float32 products on every core, synchronously. The wasm memory is shared (runtime.ts
// imports it as shared where threads are possible) and every worker thread runs its own instance
// of the same module on it, with private scratch for packing. A call lays out its operands as
// usual; `gemm` publishes the product as a job of parts (blocks of rows or columns of C) in a small
// control block, wakes the workers, claims parts itself like any worker, then blocks until every
// part is done. Parts are claimed, not assigned, so a worker still starting (or one that failed to
// start) only means the main thread runs more parts. Each element of C is summed in the same
// order whichever thread computes it, so results are bit-identical to one thread.

/**
 * Below this many multiply-adds (m·n·k) a product runs on one thread: waking a sleeping worker
 * costs tens of microseconds. Measured on 2 cores (Node 20, EPYC): 128³ = 2^21 takes 0.097 ms on
 * one thread and 0.096 ms on two with a cold worker, 0.066–0.073 ms with a warm (spinning) one;
 * 160³ 0.177 → 0.100 ms; 1024³ 53 → 92–99 GFLOP/s.
 */
export const MIN_PARALLEL_WORK = 2 ** 21

/**
 * Columns or rows of C per part never below this: smaller parts repack the other operand too often.
 * Two parts per thread (to rebalance when the VM steals a core) measured no better than one.
 */
const MIN_PART_ROWS = 16
const MIN_PART_COLUMNS = 64

/**
 * Polls of a control word before a thread sleeps on it (about 100 µs): back-to-back products (a
 * convolution's images, the layers of a training step) come sooner than a sleeping thread wakes.
 * Measured at 128³ on two cores: 0.097 ms on one thread, 0.096 ms on two without spinning, 0.073 with.
 */
const SPINS = 20_000

const SEQ = 0
const CLAIM = 1
const PARTS = 2
const DONE = 3
const FAILED = 4
const STOP = 5
const READY = 6
const JOB = 8

interface WorkerHandle {
  readonly terminate: () => unknown
}

interface Pool {
  readonly control: Int32Array
  readonly workers: ReadonlyArray<WorkerHandle>
  /** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
  readonly canBlock: boolean
  seq: number
  jobId: number
}

type Spawn = (source: string, init: WorkerInit) => WorkerHandle

interface NodeProcess {
  readonly versions?: { readonly node?: string }
  readonly getBuiltinModule?: (name: string) => unknown
}

const nodeProcess = (): NodeProcess | undefined => {
  const candidate = (globalThis as { process?: NodeProcess }).process
  return typeof candidate?.versions?.node === 'string' ? candidate : undefined
}

const nodeModule = <T>(name: string): T | undefined => {
  try {
    // why: getBuiltinModule returns the module untyped; callers name the members they use
    return nodeProcess()?.getBuiltinModule?.(name) as T | undefined
  } catch {
    return undefined
  }
}

/** Cores available to this process (os.availableParallelism in Node, hardwareConcurrency in browsers). */
const availableCores = (): number => {
  const os = nodeModule<{ availableParallelism?: () => number; cpus: () => unknown[] }>('node:os')
  const cores =
    os !== undefined
      ? (os.availableParallelism?.() ?? os.cpus().length)
      : (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency
  return typeof cores === 'number' && Number.isInteger(cores) && cores >= 1 ? cores : 1
}

/** The worker program: the self-contained functions of worker.ts, by their source text. */
const workerProgram = (): string =>
  `(${workerMain.toString()})(__BACKFOLD_INIT__, (${blockedGemm.toString()}), (${runPart.toString()}), (${claimParts.toString()}))`

/** How to start a worker here: Node's worker_threads, or a Web Worker from a Blob URL; undefined if neither. */
const spawner = (): { readonly spawn: Spawn; readonly canBlock: boolean } | undefined => {
  if (nodeProcess() !== undefined) {
    interface NodeWorker extends WorkerHandle {
      readonly unref: () => void
      readonly on: (event: string, listener: () => void) => unknown
    }
    const threads = nodeModule<{
      Worker: new (code: string, options: { eval: boolean; workerData: WorkerInit }) => NodeWorker
    }>('node:worker_threads')
    if (threads === undefined) return undefined
    return {
      canBlock: true,
      spawn: (source, init) => {
        const program = source.replace('__BACKFOLD_INIT__', "require('node:worker_threads').workerData")
        const worker = new threads.Worker(program, { eval: true, workerData: init })
        // A worker that dies only stops claiming parts; nothing to do, and nothing to keep alive.
        worker.on('error', () => undefined)
        worker.unref()
        return worker
      },
    }
  }
  const scope = globalThis as {
    Worker?: new (url: string) => WorkerHandle & { postMessage: (message: WorkerInit) => void }
    Blob?: new (parts: string[], options: { type: string }) => object
    URL?: { createObjectURL: (blob: object) => string; revokeObjectURL: (url: string) => void }
    crossOriginIsolated?: boolean
    document?: unknown
  }
  const { Worker, Blob, URL } = scope
  if (scope.crossOriginIsolated !== true || Worker === undefined || Blob === undefined || URL === undefined) {
    return undefined
  }
  return {
    // A page's main thread may not block; a worker that itself runs backfold may.
    canBlock: scope.document === undefined,
    spawn: (source, init) => {
      const program = `self.onmessage = (event) => { self.onmessage = null; ${source.replace('__BACKFOLD_INIT__', 'event.data')} }`
      const url = URL.createObjectURL(new Blob([program], { type: 'text/javascript' }))
      const worker = new Worker(url)
      worker.postMessage(init)
      // The Blob URL lives as long as the worker: released when the pool retires it.
      return {
        terminate: () => {
          worker.terminate()
          URL.revokeObjectURL(url)
        },
      }
    },
  }
}

let requested: number | undefined
let pool: Pool | undefined
/** Set once starting a pool failed here: from then on everything runs on one thread. */
let unavailable = false
let parallelJobs = 0
let workerParts = 0

/**
 * Sets how many threads (the calling one included) large float32 matmuls and convolutions use.
 * `1` runs everything on the calling thread. The default is the number of available cores. Where
 * threads are unavailable (no SharedArrayBuffer, a page that is not cross-origin isolated) the
 * setting has no effect.
 * @example
 * import { setThreads } from '@backfold/tensor'
 * setThreads(1) // deterministic timing in a benchmark
 * @since 0.1.0
 */
export const setThreads = (count: number): void => {
  if (!Number.isInteger(count) || count < 1) {
    throw new ValueError('setThreads', `count must be an integer ≥ 1, got ${count}`)
  }
  if (count === requested) return
  requested = count
  retirePool()
}

/**
 * The thread count set by `setThreads`, or the default (available cores).
 * @since 0.1.0
 */
export const getThreads = (): number => requested ?? (requested = availableCores())

/** What `threadPoolStatus` reports. @since 0.1.0 */
export interface ThreadPoolStatus {
  /** The thread count in effect (`getThreads()`), the calling thread included. */
  readonly threads: number
  /** Worker threads started for the current pool (0 before the first large product, or where threads are unavailable). */
  readonly workers: number
  /** Of those, workers that have instantiated the kernels and take part in products. */
  readonly readyWorkers: number
  /** Products run on the pool since the process started (all pools). */
  readonly parallelJobs: number
  /** Parts of those products that worker threads, not the calling thread, computed. */
  readonly workerParts: number
}

/**
 * The worker-thread pool as it stands: how many threads are requested, started and ready, and
 * how much work the workers did. A diagnostic for "are both cores used here?": a page that is not
 * cross-origin isolated, for instance, never starts a worker (`workers` stays 0).
 * @example
 * import { matmul, setThreads, threadPoolStatus } from '@backfold/tensor'
 * setThreads(2)
 * matmul(a, b) // large: starts the pool
 * threadPoolStatus() // { threads: 2, workers: 1, readyWorkers: 1, parallelJobs: 1, workerParts: 3 }
 * @since 0.1.0
 */
export const threadPoolStatus = (): ThreadPoolStatus => ({
  threads: getThreads(),
  workers: pool === undefined ? 0 : pool.workers.length,
  readyWorkers: readyWorkers(),
  parallelJobs,
  workerParts,
})

/** Counters for tests and benchmarks: jobs run on the pool, and parts of them workers ran. */
export const threadStats = (): { readonly parallelJobs: number; readonly workerParts: number } => ({
  parallelJobs,
  workerParts,
})

/** Workers that have instantiated the module and are waiting for jobs. */
export const readyWorkers = (): number => (pool === undefined ? 0 : Atomics.load(pool.control, READY))

const retirePool = (): void => {
  if (pool === undefined) return
  Atomics.store(pool.control, STOP, 1)
  Atomics.add(pool.control, SEQ, 2)
  Atomics.notify(pool.control, SEQ)
  for (const worker of pool.workers) worker.terminate()
  pool = undefined
  reserveWorkerScratch(0)
}

const startPool = (workerCount: number): Pool | undefined => {
  const { memory, module } = gemmInstance()
  if (!(memory.buffer instanceof SharedArrayBuffer)) return undefined
  const spawn = spawner()
  if (spawn === undefined) return undefined
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4))
  const workers: WorkerHandle[] = []
  const source = workerProgram()
  reserveWorkerScratch(workerCount)
  try {
    arena(0)
    for (let index = 1; index <= workerCount; index++) {
      workers.push(
        spawn.spawn(source, {
          module,
          memory,
          // why: the Int32Array was built on a SharedArrayBuffer two lines up
          control: control.buffer as SharedArrayBuffer,
          blocking: BLOCKING,
          scratch: scratchOf(index),
          spins: SPINS,
        }),
      )
    }
  } catch {
    for (const worker of workers) worker.terminate()
    reserveWorkerScratch(0)
    return undefined
  }
  return { control, workers, canBlock: spawn.canBlock, seq: 0, jobId: 0 }
}

/**
 * The pool for a product of `work` multiply-adds, starting it on first need; undefined when the
 * product should run on this thread. Call it BEFORE `arena()` in a call: starting the pool moves
 * the arena above the workers' scratch.
 */
export const poolFor = (work: number): Pool | undefined => {
  if (work < MIN_PARALLEL_WORK || unavailable) return undefined
  const threads = getThreads()
  if (threads <= 1) return undefined
  if (pool === undefined) {
    pool = startPool(threads - 1)
    if (pool === undefined) unavailable = true
  }
  return pool
}

/**
 * `arena(floats)` for a call whose products have up to `work` multiply-adds each: starts the
 * pool first when they are large enough to use it.
 */
export const threadedArena = (floats: number, work: number): ReturnType<typeof arena> => {
  poolFor(work)
  return arena(floats)
}

const FLOAT_BYTES = 4

/**
 * `gemmInMemory` (same arguments), on every thread of the pool when the product is large enough
 * and the pool is running (see `threadedArena`), else on this thread. Bit-identical either way.
 */
export const gemm = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  aAddress: number,
  bAddress: number,
  cAddress: number,
  ldc: number,
  accumulate: boolean,
): void => {
  const work = m * n * k
  const active = work >= MIN_PARALLEL_WORK && getThreads() > 1 ? pool : undefined
  if (active === undefined) {
    gemmInMemory(transA, transB, m, n, k, aAddress, bAddress, cAddress, ldc, accumulate)
    return
  }
  const participants = active.workers.length + 1
  // Split the longer side of C; parts aligned to the micro-tile so no part has an extra edge tile.
  const splitRows = m >= n
  const extent = splitRows ? m : n
  const unit = splitRows ? BLOCKING.mr : BLOCKING.nr
  const minimum = splitRows ? MIN_PART_ROWS : MIN_PART_COLUMNS
  const partSize = Math.max(minimum, Math.ceil(extent / participants / unit) * unit)
  const parts = Math.ceil(extent / partSize)
  if (parts <= 1) {
    gemmInMemory(transA, transB, m, n, k, aAddress, bAddress, cAddress, ldc, accumulate)
    return
  }
  const { control } = active
  // Publish: SEQ odd while the job is written, even once it is complete.
  active.seq += 2
  active.jobId = (active.jobId + 1) & 0x7ffff
  Atomics.store(control, SEQ, active.seq - 1)
  control[JOB] = m
  control[JOB + 1] = n
  control[JOB + 2] = k
  control[JOB + 3] = aAddress
  const steps = operandSteps(transA, transB, m, n, k)
  control[JOB + 4] = steps.aOuter
  control[JOB + 5] = steps.aDepth
  control[JOB + 6] = bAddress
  control[JOB + 7] = steps.bOuter
  control[JOB + 8] = steps.bDepth
  control[JOB + 9] = cAddress
  control[JOB + 10] = ldc * FLOAT_BYTES
  control[JOB + 11] = accumulate ? 1 : 0
  control[JOB + 12] = splitRows ? 1 : 0
  control[JOB + 13] = partSize
  Atomics.store(control, PARTS, parts)
  Atomics.store(control, DONE, 0)
  Atomics.store(control, CLAIM, active.jobId << 12)
  Atomics.store(control, SEQ, active.seq)
  Atomics.notify(control, SEQ)
  const ranHere = claimParts(
    blockedGemm,
    runPart,
    gemmInstance(),
    BLOCKING,
    scratchOf(0),
    control,
    active.jobId,
    parts,
  )
  for (let spins = SPINS; ; spins--) {
    const done = Atomics.load(control, DONE)
    if (done >= parts) break
    if (spins <= 0 && active.canBlock) Atomics.wait(control, DONE, done)
  }
  parallelJobs++
  workerParts += parts - ranHere
  if (Atomics.load(control, FAILED) !== 0) {
    retirePool()
    unavailable = true
    throw new Error('wasm backend: a worker thread failed while computing a product')
  }
}
