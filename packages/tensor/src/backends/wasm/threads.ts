import type { WorkerInit } from './worker'
import { ValueError } from '../../errors'
import {
  BLOCKING,
  abandonInstance,
  arena,
  gemmInMemory,
  gemmInstance,
  isShared,
  operandSteps,
  reserveWorkerScratch,
  scratchOf,
  sharedMemoryUnavailableReason,
} from './runtime'
import { blockedGemm, claimParts, controlSlots, runPart, workerMain, workerSlot } from './worker'

// Large float32 products on every core, synchronously. The wasm memory is shared (runtime.ts
// imports it as shared where threads are possible) and every worker thread runs its own instance
// of the same module on it, with private scratch for packing. A call lays out its operands as
// usual; `gemm` publishes the product as a job of parts (blocks of rows or columns of C) in a small
// control block, wakes the workers, claims parts itself like any worker, then blocks until every
// part is done. Parts are claimed, not assigned, so a worker still starting (or one that failed to
// start) only means the main thread runs more parts. Each element of C is summed in the same
// order whichever thread computes it, so results are bit-identical to one thread.
//
// Faults. A worker that failed to start or died is reported by `threadPoolStatus` (its error event,
// or its GONE flag). While waiting, the main thread redoes a part held by a worker that died (its
// program marks itself GONE on the way out), and gives up with an error, never a hang, when the
// workers holding parts show no sign of life (BEAT, bumped every block) for `stallMs`: such a worker
// may still be running, so its part cannot be redone safely, and the instance and its memory are
// abandoned with the pool so that nothing it may still write reaches a later call.

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

/**
 * The most threads `setThreads` accepts: each worker keeps about 4 MiB of packing scratch in wasm
 * memory (64 threads: 260 MiB), and a pool far beyond the cores only adds waiting. The default is
 * the available cores, at most this.
 */
export const MAX_THREADS = 64

/** How often the waiting main thread checks the workers' signs of life. */
const POLL_MS = 20

/**
 * How long the workers holding parts of a product may show no sign of life before the main thread
 * gives up on them. A live worker beats every few milliseconds (one block of a part), so only a dead
 * or frozen one stays quiet this long; time in which the main thread itself did not run (a suspended
 * process) does not count.
 */
const STALL_MS = 10_000
let stallMs = STALL_MS

const SEQ = 0
const CLAIM = 1
const PARTS = 2
const DONE = 3
const FAILED = 4
const STOP = 5
const READY = 6
const FAULT = 7
const JOB = 8
// Offsets from a worker's slot (`workerSlot`).
const HOLD = 1
const GONE = 2

interface WorkerHandle {
  readonly terminate: () => unknown
}

/**
 * Records why worker `index` failed. Its error event carries the best reason and replaces what is
 * there; an exit without an error, or a GONE flag seen while waiting, only fills a gap.
 */
type OnFailure = (reason: string, replace: boolean) => void

interface Pool {
  readonly control: Int32Array
  readonly workers: ReadonlyArray<WorkerHandle>
  /** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
  readonly canBlock: boolean
  /** Why workers failed (to start, or later), by 1-based index. */
  readonly failures: Map<number, string>
  /** Set when the pool is retired: the workers' exits are then expected, not failures. */
  readonly lifecycle: { retired: boolean }
  seq: number
  jobId: number
}

type Spawn = (source: string, init: WorkerInit, onFailure: OnFailure) => WorkerHandle

interface Spawner {
  readonly spawn: Spawn
  readonly canBlock: boolean
}

const errorText = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error)

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
/**
 * The cores this process may use, asked once: the default thread count is read on every product
 * (getThreads), and `os.availableParallelism()` is a system call (about 2% of the main job's time
 * when it was asked each time).
 */
let cores: number | undefined
const availableCores = (): number => (cores ??= countCores())
const countCores = (): number => {
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

/** How to start a worker here: Node's worker_threads, or a Web Worker from a Blob URL; else why not. */
const spawner = (): Spawner | string => {
  if (nodeProcess() !== undefined) {
    interface NodeWorker extends WorkerHandle {
      readonly unref: () => void
      readonly on: (event: string, listener: (value: unknown) => void) => unknown
    }
    const threads = nodeModule<{
      Worker: new (
        code: string,
        options: { eval: boolean; workerData: WorkerInit; execArgv: string[] },
      ) => NodeWorker
    }>('node:worker_threads')
    if (threads === undefined)
      return 'node:worker_threads is not available (process.getBuiltinModule is missing)'
    return {
      canBlock: true,
      spawn: (source, init, onFailure) => {
        const program = source.replace('__BACKFOLD_INIT__', "require('node:worker_threads').workerData")
        // execArgv: [] because a worker inherits the process's flags by default, and under
        // `node --input-type=module -e` that flag makes the eval'd program a module without `require`.
        const worker = new threads.Worker(program, { eval: true, workerData: init, execArgv: [] })
        worker.on('error', (error) => onFailure(errorText(error), true))
        worker.on('exit', (code) => onFailure(`exited (code ${String(code)})`, false))
        worker.unref()
        return worker
      },
    }
  }
  interface WebWorker extends WorkerHandle {
    readonly postMessage: (message: WorkerInit) => void
    readonly addEventListener: (
      type: 'error',
      listener: (event: { readonly message?: unknown }) => void,
    ) => void
  }
  const scope = globalThis as {
    Worker?: new (url: string) => WebWorker
    Blob?: new (parts: string[], options: { type: string }) => object
    URL?: { createObjectURL: (blob: object) => string; revokeObjectURL: (url: string) => void }
    document?: unknown
  }
  const { Worker, Blob, URL } = scope
  if (Worker === undefined || Blob === undefined || URL === undefined) {
    return 'Web Workers are not available here (Worker, Blob and URL.createObjectURL are needed)'
  }
  return {
    // A page's main thread may not block; a worker that itself runs backfold may.
    canBlock: scope.document === undefined,
    spawn: (source, init, onFailure) => {
      const program = `self.onmessage = (event) => { self.onmessage = null; ${source.replace('__BACKFOLD_INIT__', 'event.data')} }`
      const url = URL.createObjectURL(new Blob([program], { type: 'text/javascript' }))
      const worker = new Worker(url)
      worker.addEventListener('error', (event) =>
        onFailure(
          typeof event.message === 'string' && event.message !== '' ? event.message : 'worker error',
          true,
        ),
      )
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

/** Whether threads can run here at all (decided once): how to start workers, or why not. */
let support: Spawner | string | undefined
const threadSupport = (): Spawner | string => (support ??= sharedMemoryUnavailableReason() ?? spawner())

let requested: number | undefined
let pool: Pool | undefined
/** Why threads are off until the next `setThreads` (a pool that could not start, a stalled worker). */
let disabled: string | undefined
let parallelJobs = 0
let workerParts = 0

const requestedThreads = (): number => requested ?? Math.min(availableCores(), MAX_THREADS)

/** Why products run on one thread although more are requested, or undefined. */
const threadsOffReason = (): string | undefined => {
  const here = threadSupport()
  return typeof here === 'string' ? here : disabled
}

/**
 * Sets how many threads (the calling one included) large float32 matmuls and convolutions use:
 * an integer from 1 to `MAX_THREADS` (64); anything else throws a `ValueError` (it is not clamped).
 * `1` runs everything on the calling thread. The default is the number of available cores (at most
 * 64). Where threads are unavailable (no SharedArrayBuffer, a page that is not cross-origin
 * isolated, no workers) the setting is kept but has no effect: `getThreads()` is 1 and
 * `threadPoolStatus().reason` says why. Calling it also starts over after a pool failure: the next
 * large product starts a new pool.
 * @example
 * import { setThreads } from '@backfold/tensor'
 * setThreads(1) // deterministic timing in a benchmark
 * @since 0.1.0
 */
export const setThreads = (count: number): void => {
  if (!Number.isInteger(count) || count < 1 || count > MAX_THREADS) {
    throw new ValueError(
      'setThreads',
      `count must be an integer from 1 to ${MAX_THREADS}, got ${count}` +
        (Number.isInteger(count) && count > MAX_THREADS
          ? ` (each thread keeps ~4 MiB of wasm scratch; this machine has ${availableCores()} cores)`
          : ''),
    )
  }
  disabled = undefined
  if (count === requested && (pool === undefined || pool.failures.size === 0)) return
  requested = count
  retirePool()
}

/**
 * The thread count large products run on: the one set by `setThreads` (default: the available
 * cores, at most 64), or 1 where threads are unavailable or were given up on (see `threadPoolStatus`).
 * @since 0.1.0
 */
export const getThreads = (): number => (threadsOffReason() === undefined ? requestedThreads() : 1)

/** What `threadPoolStatus` reports. @since 0.1.0 */
export interface ThreadPoolStatus {
  /** The thread count in effect (`getThreads()`), the calling thread included. */
  readonly threads: number
  /** The thread count asked for with `setThreads` (or the default); more than `threads` when threads are off. @since 0.2.0 */
  readonly requested: number
  /** Worker threads started for the current pool (0 before the first large product, or where threads are unavailable). */
  readonly workers: number
  /** Of those, workers that have instantiated the kernels and take part in products. */
  readonly readyWorkers: number
  /** Of those, workers that failed to start or died; `reason` says why. @since 0.2.0 */
  readonly failedWorkers: number
  /** Products run on the pool since the process started (all pools). */
  readonly parallelJobs: number
  /** Parts of those products that worker threads, not the calling thread, computed. */
  readonly workerParts: number
  /**
   * Why `threads` is 1 although more were requested (no SharedArrayBuffer, a page that is not
   * cross-origin isolated, no workers, a pool given up on), or why workers failed; absent when all is well.
   * @since 0.2.0
   */
  readonly reason?: string
}

/**
 * The worker-thread pool as it stands: how many threads are requested, in effect, started, ready and
 * failed, how much work the workers did, and, when something is off, why. A diagnostic for "are
 * both cores used here?": a page that is not cross-origin isolated, for instance, runs on one
 * thread (`threads` 1, `reason` says the page is not cross-origin isolated).
 * @example
 * import { matmul, setThreads, threadPoolStatus } from '@backfold/tensor'
 * setThreads(2)
 * matmul(a, b) // large: starts the pool
 * threadPoolStatus() // { threads: 2, requested: 2, workers: 1, readyWorkers: 1, failedWorkers: 0, parallelJobs: 1, workerParts: 3 }
 * @since 0.1.0
 */
export const threadPoolStatus = (): ThreadPoolStatus => {
  const status = {
    threads: getThreads(),
    requested: requestedThreads(),
    workers: pool === undefined ? 0 : pool.workers.length,
    readyWorkers: readyWorkers(),
    failedWorkers: pool === undefined ? 0 : pool.failures.size,
    parallelJobs,
    workerParts,
  }
  const off = status.requested > 1 ? threadsOffReason() : undefined
  const failures =
    pool === undefined || pool.failures.size === 0
      ? undefined
      : [...pool.failures].map(([index, why]) => `worker ${index}: ${why}`).join('; ')
  const reason = off ?? failures
  return reason === undefined ? status : { ...status, reason }
}

/** Counters for tests and benchmarks: jobs run on the pool, and parts of them workers ran. */
export const threadStats = (): { readonly parallelJobs: number; readonly workerParts: number } => ({
  parallelJobs,
  workerParts,
})

/** Workers that have instantiated the module and are waiting for jobs (a worker that died leaves the count). */
export const readyWorkers = (): number => (pool === undefined ? 0 : Atomics.load(pool.control, READY))

/** Faults a worker can be made to suffer, for the tests only (see `injectWorkerFault`). */
export type WorkerFault = 'fail-at-start' | 'die-holding-part' | 'hang-holding-part'
const FAULT_CODES: Readonly<Record<WorkerFault, number>> = {
  'fail-at-start': 1,
  'die-holding-part': 2,
  'hang-holding-part': 3,
}
let pendingFault: number | undefined

/**
 * INTERNAL, for the tests (not exported by the package): makes worker 1 fail once, at the start of
 * the next pool (`fail-at-start`), or on the next part it claims (die: its program throws and the
 * thread ends; hang: it stops without a word, as a thread the OS froze or killed).
 */
export const injectWorkerFault = (fault: WorkerFault): void => {
  const code = FAULT_CODES[fault]
  if (pool !== undefined && fault !== 'fail-at-start') Atomics.store(pool.control, FAULT, code)
  else pendingFault = code
}

/** INTERNAL, for the tests: sets how long quiet workers are waited for (ms); returns the old value. */
export const setStallTimeout = (ms: number): number => {
  const old = stallMs
  stallMs = ms
  return old
}

const retirePool = (): void => {
  if (pool === undefined) return
  pool.lifecycle.retired = true
  Atomics.store(pool.control, STOP, 1)
  Atomics.add(pool.control, SEQ, 2)
  Atomics.notify(pool.control, SEQ)
  for (const worker of pool.workers) worker.terminate()
  pool = undefined
  reserveWorkerScratch(0)
}

/** A pool of `workerCount` workers, or why none could be started. */
const startPool = (workerCount: number, spawn: Spawner): Pool | string => {
  const { memory, module } = gemmInstance()
  if (!isShared(memory)) {
    return 'the WebAssembly memory could not be shared (this engine could not reserve a 4 GiB shared memory)'
  }
  const control = new Int32Array(new SharedArrayBuffer(controlSlots(workerCount) * 4))
  if (pendingFault !== undefined) {
    control[FAULT] = pendingFault
    pendingFault = undefined
  }
  const failures = new Map<number, string>()
  const lifecycle = { retired: false }
  const workers: WorkerHandle[] = []
  const source = workerProgram()
  reserveWorkerScratch(workerCount)
  try {
    arena(0)
    for (let index = 1; index <= workerCount; index++) {
      const onFailure: OnFailure = (reason, replace) => {
        if (!lifecycle.retired && (replace || !failures.has(index))) failures.set(index, reason)
      }
      workers.push(
        spawn.spawn(
          source,
          {
            module,
            memory,
            // why: the Int32Array was built on a SharedArrayBuffer a few lines up
            control: control.buffer as SharedArrayBuffer,
            blocking: BLOCKING,
            scratch: scratchOf(index),
            spins: SPINS,
            index,
          },
          onFailure,
        ),
      )
    }
  } catch (error) {
    lifecycle.retired = true
    for (const worker of workers) worker.terminate()
    reserveWorkerScratch(0)
    return `the worker threads could not be started (${errorText(error)})`
  }
  return { control, workers, canBlock: spawn.canBlock, failures, lifecycle, seq: 0, jobId: 0 }
}

/**
 * The pool for a product of `work` multiply-adds, starting it on first need; undefined when the
 * product should run on this thread. Call it BEFORE `arena()` in a call: starting the pool moves
 * the arena above the workers' scratch.
 */
export const poolFor = (work: number): Pool | undefined => {
  if (work < MIN_PARALLEL_WORK) return undefined
  const threads = getThreads()
  if (threads <= 1) return undefined
  if (pool === undefined) {
    const here = threadSupport()
    if (typeof here === 'string') return undefined
    const started = startPool(threads - 1, here)
    if (typeof started === 'string') {
      disabled = started
      return undefined
    }
    pool = started
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

/** Ends the pool for a product that cannot be completed, turns threads off, and throws why. */
const giveUp = (reason: string, abandonMemory: boolean): never => {
  retirePool()
  if (abandonMemory) abandonInstance()
  disabled = `${reason}; threads are off until setThreads is called again`
  throw new Error(
    `wasm backend: ${reason}. The product was abandoned; later products run on one thread until ` +
      'setThreads(n) starts a new pool (threadPoolStatus() keeps the reason).',
  )
}

/**
 * Redoes, on this thread, the parts held by workers that died (marked GONE); returns how many. A
 * part that adds into C (`accumulate`) may already be partly added, so it cannot be redone: then
 * the product fails instead.
 */
const redoPartsOfDeadWorkers = (active: Pool, accumulate: boolean, product: string): number => {
  const { control } = active
  let redone = 0
  for (let index = 1; index <= active.workers.length; index++) {
    const slot = workerSlot(index)
    if (Atomics.load(control, slot + GONE) === 0) continue
    if (!active.failures.has(index)) active.failures.set(index, 'died (its program ended with an error)')
    const held = Atomics.load(control, slot + HOLD)
    if (held === 0) continue
    if (accumulate) {
      giveUp(
        `worker thread ${index} died holding a part of a ${product} product that adds into its output`,
        false,
      )
    }
    Atomics.store(control, slot + HOLD, 0)
    runPart(blockedGemm, gemmInstance(), BLOCKING, scratchOf(0), control, held - 1)
    Atomics.add(control, DONE, 1)
    redone++
  }
  return redone
}

/**
 * Waits until every part of the published job is done; returns how many parts this thread redid
 * for dead workers. Throws (never hangs) when the workers holding parts stay quiet for `stallMs`.
 */
const awaitParts = (active: Pool, parts: number, accumulate: boolean, product: string): number => {
  const { control } = active
  for (let spins = SPINS; spins > 0; spins--) if (Atomics.load(control, DONE) >= parts) return 0
  let redone = 0
  let lastSign = Number.NaN
  let quietMs = 0
  let last = performance.now()
  for (;;) {
    const done = Atomics.load(control, DONE)
    if (done >= parts) return redone
    redone += redoPartsOfDeadWorkers(active, accumulate, product)
    let sign = Atomics.load(control, DONE)
    for (let index = 1; index <= active.workers.length; index++)
      sign += Atomics.load(control, workerSlot(index))
    const now = performance.now()
    if (sign !== lastSign) {
      lastSign = sign
      quietMs = 0
    } else {
      // A gap much longer than a poll means this thread itself did not run (a suspended process):
      // it says nothing about the workers.
      quietMs += Math.min(now - last, 2 * POLL_MS)
    }
    last = now
    if (quietMs >= stallMs) {
      const holders = active.workers
        .map((_, i) => i + 1)
        .filter((index) => Atomics.load(control, workerSlot(index) + HOLD) !== 0)
      giveUp(
        `worker thread${holders.length === 1 ? '' : 's'} ${holders.join(', ')} showed no sign of life for ` +
          `${Math.round(quietMs)} ms while holding part of a ${product} product`,
        true,
      )
    }
    if (active.canBlock) {
      Atomics.wait(control, DONE, done, POLL_MS)
    } else {
      const until = performance.now() + POLL_MS
      while (Atomics.load(control, DONE) === done && performance.now() < until);
    }
  }
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
    -1,
    0,
  )
  const redone = awaitParts(active, parts, accumulate, `${m}×${n}×${k}`)
  parallelJobs++
  workerParts += parts - ranHere - redone
  if (Atomics.load(control, FAILED) !== 0) {
    giveUp('a part of a product threw on a worker thread', false)
  }
}
