// The code a worker thread runs, and the GEMM driver the main thread shares with it. Every function
// here is SELF-CONTAINED (it refers to nothing outside its own body but globals such as `Math` and
// `Atomics`): threads.ts turns their source text (`fn.toString()`) into the worker's program, so the
// built package needs no separate worker file and both sides run literally the same driver, which
// is what makes a threaded product bit-identical to a single-threaded one.

/**
 * Cache blocking of the GEMM driver (see runtime.ts): micro-tile `mr × nr`, most depth per block `kc`, row
 * block `mc`, column block `nc`.
 */
export interface Blocking {
  readonly mr: number
  readonly nr: number
  readonly kc: number
  readonly mc: number
  readonly nc: number
}

/** The three exports of the generated module the driver calls. */
export interface GemmKernels {
  readonly macro: (
    mc: number,
    nc: number,
    kc: number,
    ap: number,
    bp: number,
    c: number,
    ldc: number,
    tmp: number,
    accumulate: number,
  ) => void
  readonly packA: (
    src: number,
    outerStep: number,
    depthStep: number,
    count: number,
    kc: number,
    dst: number,
  ) => void
  readonly packB: (
    src: number,
    outerStep: number,
    depthStep: number,
    count: number,
    kc: number,
    dst: number,
  ) => void
}

/** Byte addresses of one thread's private scratch: the edge tile and both packed blocks. */
export interface Scratch {
  readonly tmp: number
  readonly packA: number
  readonly packB: number
}

/**
 * `C (+)= op(A) · op(B)` on matrices in wasm memory, every address and step in bytes: op(A) is
 * m×k, row `i` depth `p` at `aAt + i·aOuter + p·aDepth`; op(B) is k×n, depth `p` column `j` at
 * `bAt + p·bDepth + j·bOuter`; C has row stride `ldcBytes`. Each element of C is summed in the same
 * order whatever part of C a call covers (equal depth blocks of at most `kc`, the first overwriting unless
 * `accumulate`), so splitting C among threads by rows or columns changes no bit of the result.
 */
export const blockedGemm = (
  kernels: GemmKernels,
  blocking: Blocking,
  scratch: Scratch,
  m: number,
  n: number,
  k: number,
  aAt: number,
  aOuter: number,
  aDepth: number,
  bAt: number,
  bOuter: number,
  bDepth: number,
  cAt: number,
  ldcBytes: number,
  accumulate: boolean,
  beat?: () => void,
): void => {
  if (m === 0 || n === 0 || k === 0) return
  const { mc: MC, nc: NC } = blocking
  // Equal depth blocks of at most `blocking.kc`: a short tail block would re-read and re-write all
  // of C for a few depth steps. They depend on k alone, as bit-identity needs.
  const KC = Math.ceil(k / Math.ceil(k / blocking.kc))
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc)
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc)
      kernels.packB(bAt + jc * bOuter + pc * bDepth, bOuter, bDepth, nc, kc, scratch.packB)
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic)
        kernels.packA(aAt + ic * aOuter + pc * aDepth, aOuter, aDepth, mc, kc, scratch.packA)
        // Only the first depth block may overwrite; the others add to it.
        const add = accumulate || pc > 0 ? 1 : 0
        kernels.macro(
          mc,
          nc,
          kc,
          scratch.packA,
          scratch.packB,
          cAt + ic * ldcBytes + jc * 4,
          ldcBytes,
          scratch.tmp,
          add,
        )
        // A worker's sign of life for the main thread, which waits on its part (see threads.ts).
        beat?.()
      }
    }
  }
}

/**
 * Slots of the control block (an Int32Array over a SharedArrayBuffer) through which the main
 * thread publishes one job at a time. Literal numbers inside the functions below must match.
 *   0 SEQ      publication counter: odd while the main thread writes a job, even once published
 *   1 CLAIM    (job id & 0x7ffff) << 12 | next unclaimed part; claimed by compare-exchange
 *   2 PARTS    parts in the job (≤ 4095)
 *   3 DONE     parts finished
 *   4 FAILED   set when a part threw
 *   5 STOP     set to retire the workers
 *   6 READY    workers that have instantiated the module
 *   7 FAULT    internal fault injection for the tests (see `WorkerFault` in threads.ts): 0 none
 *   8..21      the job: m n k aAt aOuter aDepth bAt bOuter bDepth cAt ldcBytes accumulate
 *              splitRows partSize
 * and, from slot 24, three slots per worker `w` (1-based) at `24 + 3·(w - 1)`:
 *   +0 BEAT    incremented on every claim and every block of a part: the worker is alive
 *   +1 HOLD    1 + the part of the current job it is computing, 0 when it holds none
 *   +2 GONE    set when its program ended with an error (it will never finish its part)
 */
export const CONTROL_SLOTS = 24

/** Control slots of worker `w` (1-based): its BEAT slot; HOLD and GONE follow it. */
export const workerSlot = (w: number): number => 24 + 3 * (w - 1)

/** Control slots for a pool of `workers` worker threads. */
export const controlSlots = (workers: number): number => CONTROL_SLOTS + 3 * workers

/** Runs part `part` of the job in `control`: a block of `partSize` rows (or columns) of C. */
export const runPart = (
  gemm: typeof blockedGemm,
  kernels: GemmKernels,
  blocking: Blocking,
  scratch: Scratch,
  control: Int32Array,
  part: number,
  beat?: () => void,
): void => {
  const m = control[8]!
  const n = control[9]!
  const k = control[10]!
  const aAt = control[11]!
  const aOuter = control[12]!
  const aDepth = control[13]!
  const bAt = control[14]!
  const bOuter = control[15]!
  const bDepth = control[16]!
  const cAt = control[17]!
  const ldcBytes = control[18]!
  const accumulate = control[19] !== 0
  const splitRows = control[20] !== 0
  const partSize = control[21]!
  const start = part * partSize
  if (splitRows) {
    const rows = Math.min(partSize, m - start)
    gemm(
      kernels,
      blocking,
      scratch,
      rows,
      n,
      k,
      aAt + start * aOuter,
      aOuter,
      aDepth,
      bAt,
      bOuter,
      bDepth,
      cAt + start * ldcBytes,
      ldcBytes,
      accumulate,
      beat,
    )
  } else {
    const columns = Math.min(partSize, n - start)
    gemm(
      kernels,
      blocking,
      scratch,
      m,
      columns,
      k,
      aAt,
      aOuter,
      aDepth,
      bAt + start * bOuter,
      bOuter,
      bDepth,
      cAt + start * 4,
      ldcBytes,
      accumulate,
      beat,
    )
  }
}

/**
 * Claims and runs parts of the published job until none is left; returns how many it ran. The main
 * thread calls it too (with `slot` -1). A thread that read a job late cannot run a part of the next
 * one: the claim word carries the job id, so its compare-exchange fails once the job changed. A
 * worker (`slot` its BEAT slot, `worker` its 1-based index) records the part it holds and beats
 * while computing it, so that the main thread can tell a slow worker from a dead one.
 */
export const claimParts = (
  gemm: typeof blockedGemm,
  run: typeof runPart,
  kernels: GemmKernels,
  blocking: Blocking,
  scratch: Scratch,
  control: Int32Array,
  jobId: number,
  parts: number,
  slot: number,
  worker: number,
): number => {
  const beat =
    slot < 0
      ? undefined
      : (): void => {
          Atomics.add(control, slot, 1)
        }
  let ran = 0
  for (;;) {
    const claim = Atomics.load(control, 1)
    const part = claim & 0xfff
    if (claim >>> 12 !== jobId || part >= parts) return ran
    if (Atomics.compareExchange(control, 1, claim, claim + 1) !== claim) continue
    ran++
    if (slot >= 0) {
      Atomics.store(control, slot + 1, part + 1)
      Atomics.add(control, slot, 1)
      // Internal fault injection for the tests (threads.ts, `injectWorkerFault`), fired once:
      // 2 = worker 1 dies holding this part, 3 = worker 1 stops without a word holding it.
      const fault = Atomics.load(control, 7)
      if (
        worker === 1 &&
        (fault === 2 || fault === 3) &&
        Atomics.compareExchange(control, 7, fault, 0) === fault
      ) {
        if (fault === 2) throw new Error('backfold fault injection: worker 1 died holding a part')
        for (;;) Atomics.wait(control, 7, Atomics.load(control, 7))
      }
    }
    try {
      run(gemm, kernels, blocking, scratch, control, part, beat)
    } catch {
      Atomics.store(control, 4, 1)
    }
    if (slot >= 0) Atomics.store(control, slot + 1, 0)
    Atomics.add(control, 3, 1)
    Atomics.notify(control, 3)
  }
}

/** What a worker receives when it starts. */
export interface WorkerInit {
  readonly module: WebAssembly.Module
  readonly memory: WebAssembly.Memory
  readonly control: SharedArrayBuffer
  readonly blocking: Blocking
  readonly scratch: Scratch
  /** Polls of the job counter before sleeping on it. */
  readonly spins: number
  /** This worker's 1-based index (its slots in the control block, see `workerSlot`). */
  readonly index: number
}

/**
 * A worker's whole life: instantiate the module on the shared memory, then sleep on SEQ, read each
 * newly published job (retrying if it was rewritten meanwhile) and help claim its parts, until STOP.
 * If anything throws, it marks itself GONE (and wakes the main thread) before the error ends the
 * thread, so the main thread redoes the part it held instead of waiting for it.
 */
export const workerMain = (
  init: WorkerInit,
  gemm: typeof blockedGemm,
  run: typeof runPart,
  claim: typeof claimParts,
): void => {
  const control = new Int32Array(init.control)
  const slot = 24 + 3 * (init.index - 1)
  let ready = false
  try {
    // Internal fault injection for the tests: 1 = worker 1 fails to start.
    if (init.index === 1 && Atomics.compareExchange(control, 7, 1, 0) === 1) {
      throw new Error('backfold fault injection: worker 1 failed to start')
    }
    const { exports } = new WebAssembly.Instance(init.module, { env: { memory: init.memory } })
    // why: the module is generated by kernels.ts and exports exactly these functions
    const kernels = exports as unknown as GemmKernels
    Atomics.add(control, 6, 1)
    ready = true
    let seen = 0
    for (;;) {
      const seq = Atomics.load(control, 0)
      if (Atomics.load(control, 5) !== 0) return
      if (seq === seen || (seq & 1) === 1) {
        // Spin a little first: back-to-back products (a convolution's images, a training step)
        // publish the next job within microseconds, sooner than a sleeping thread wakes.
        let spins = init.spins
        while (spins > 0 && Atomics.load(control, 0) === seq) spins--
        if (spins === 0) Atomics.wait(control, 0, seq)
        continue
      }
      const parts = Atomics.load(control, 2)
      const jobId = (Atomics.load(control, 1) >>> 12) & 0x7ffff
      // A job rewritten while we read it: the fields above may be torn; read again.
      if (Atomics.load(control, 0) !== seq) continue
      seen = seq
      claim(gemm, run, kernels, init.blocking, init.scratch, control, jobId, parts, slot, init.index)
    }
  } catch (error) {
    if (ready) Atomics.sub(control, 6, 1)
    Atomics.store(control, slot + 2, 1)
    Atomics.notify(control, 3)
    throw error
  }
}
