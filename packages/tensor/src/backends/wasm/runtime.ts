import type { TileShape } from './kernels'
import type { Blocking, GemmKernels, Scratch } from './worker'
import { gemmModuleBytes, simdProbeBytes } from './kernels'
import { blockedGemm } from './worker'

// The one WebAssembly instance behind the wasm backend and its memory. Memory is a scratch arena:
// every call lays out its operands from a fixed base (bump allocation), copies inputs in, runs,
// copies the result out, and leaves nothing behind, so calls never free anything. The memory only
// grows, to the largest call seen.

/**
 * The micro-kernel tile: 2 rows × 16 columns, 8 v128 accumulators + 2 splats of A + 1 vector of B.
 * V8 on x64 keeps at most 8 accumulators in registers: every 10- or 12-accumulator tile (2×20, 5×8,
 * 3×12, 4×12, 3×16, 1×40, splats first or B first) spills and runs at 20–60% of this one. Measured
 * with `blockedGemm` at 1024³ on Zen 5 (EPYC, Node 20), interleaved with bench/simd-peak.mjs:
 * 2×16 48.7 GFLOP/s, 4×8 41.4, peak 47.3; loading B first, unrolling two depth steps or loading B
 * inside each product measured equal or slower. (On Zen 4, 4×8 measured 40.7 and 2×16 35.4 of 58.)
 * The tile does not change any element's summation order, so every product sums the same way.
 */
export const TILE: TileShape = { rows: 2, vectors: 4 }
const MR = TILE.rows
const NR = 4 * TILE.vectors
/**
 * Most depth per block: a kc × NR strip of B (16 KiB) stays in L1 while the strips of A stream past
 * it. The driver splits k into equal blocks of at most KC (784 → 3 × 262, not 3 × 256 + 16).
 */
const KC = 256
/** Rows of A per block: the packed mc × kc block (128 KiB) stays in L2 across all strips of B. */
const MC = 128
/** Columns of B per block: the packed kc × nc block (4 MiB) lives in L2/L3. */
const NC = 4096

const PAGE_BYTES = 65536
const FLOAT_BYTES = 4

/** The blocking above, as the GEMM driver (shared with worker threads) takes it. */
export const BLOCKING: Blocking = { mr: MR, nr: NR, kc: KC, mc: MC, nc: NC }

interface GemmExports extends GemmKernels {
  readonly memory: WebAssembly.Memory
  /** The compiled module, which worker threads instantiate on the same (shared) memory. */
  readonly module: WebAssembly.Module
  /** See `patchKernel` in kernels.ts for the fifteen arguments. */
  readonly im2col: (...geometry: number[]) => void
  readonly col2im: (...geometry: number[]) => void
  readonly relu: (at: number, count: number) => void
  readonly addRows: (c: number, bias: number, rows: number, cols: number) => void
}

let unavailableReason: string | undefined | null = null
let instance: GemmExports | undefined

/**
 * Why the wasm backend cannot run here, or undefined when it can: no WebAssembly, no 128-bit SIMD,
 * or a page whose Content-Security-Policy refuses to compile WebAssembly (`script-src` without
 * `'wasm-unsafe-eval'`: validating a module is allowed there, compiling one is not). Decided once,
 * by validating and then really compiling and instantiating a tiny SIMD module: a CSP block refuses
 * every compile, so that one stands for the generated kernels too.
 */
export const wasmUnavailableReason = (): string | undefined => {
  if (unavailableReason === null) unavailableReason = probeWasm()
  return unavailableReason
}

const errorText = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error)

const probeWasm = (): string | undefined => {
  if (typeof WebAssembly !== 'object') return 'this engine has no WebAssembly'
  const probe = simdProbeBytes()
  try {
    if (!WebAssembly.validate(probe)) return "this engine's WebAssembly has no 128-bit SIMD"
  } catch (error) {
    return `WebAssembly.validate failed (${errorText(error)})`
  }
  try {
    new WebAssembly.Instance(new WebAssembly.Module(probe), {})
  } catch (error) {
    return (
      `this page or engine refuses to compile WebAssembly (${errorText(error)}); under a ` +
      "Content-Security-Policy, add 'wasm-unsafe-eval' to script-src to use the wasm backend"
    )
  }
  return undefined
}

/**
 * True when the wasm backend can run here: the engine has WebAssembly with 128-bit SIMD and may
 * compile modules (a page whose Content-Security-Policy lacks `'wasm-unsafe-eval'` may not).
 * Decided once, by compiling a tiny module; `backendStatus()` says why when it is false.
 * @since 0.1.0
 */
export const wasmAvailable = (): boolean => wasmUnavailableReason() === undefined

const isFunction = (value: unknown): value is (...args: number[]) => void => typeof value === 'function'

/**
 * Why worker threads cannot share this module's memory here, or undefined when they can: they need
 * SharedArrayBuffer and Atomics, which browsers give only to cross-origin-isolated pages (served
 * with `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`).
 */
export const sharedMemoryUnavailableReason = (): string | undefined => {
  const scope = globalThis as { crossOriginIsolated?: boolean; process?: { versions?: { node?: string } } }
  const isolated = scope.crossOriginIsolated === true || typeof scope.process?.versions?.node === 'string'
  if (typeof SharedArrayBuffer !== 'function') {
    return isolated
      ? 'SharedArrayBuffer is not available in this engine'
      : 'SharedArrayBuffer is not available: the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)'
  }
  if (typeof Atomics !== 'object') return 'Atomics is not available in this engine'
  if (!isolated) {
    return 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)'
  }
  return undefined
}

/**
 * The same module with its memory IMPORTED as shared (`env.memory`, limits flag 3, maximum
 * `maxPages`) instead of defined, so one memory can back instances on several threads. The
 * emitter writes sections type(1), function(3), memory(5), export(7), code(10); the memory section
 * becomes an import section, which the format places right after the type section.
 */
export const withSharedMemoryImport = (bytes: Uint8Array, maxPages: number): Uint8Array<ArrayBuffer> => {
  const readLeb = (at: number): { readonly value: number; readonly next: number } => {
    let value = 0
    let shift = 0
    let position = at
    for (;;) {
      const byte = bytes[position++]!
      value += (byte & 0x7f) * 2 ** shift
      shift += 7
      if ((byte & 0x80) === 0) return { value, next: position }
    }
  }
  const leb = (value: number): number[] => {
    const out: number[] = []
    let rest = value
    do {
      const byte = rest % 128
      rest = Math.floor(rest / 128)
      out.push(rest === 0 ? byte : byte | 0x80)
    } while (rest !== 0)
    return out
  }
  const name = (text: string): number[] => [text.length, ...[...text].map((c) => c.charCodeAt(0))]
  const sections: Array<{ readonly id: number; readonly whole: Uint8Array; readonly contentAt: number }> = []
  for (let position = 8; position < bytes.length;) {
    const { value: size, next: contentAt } = readLeb(position + 1)
    sections.push({ id: bytes[position]!, whole: bytes.subarray(position, contentAt + size), contentAt })
    position = contentAt + size
  }
  const memory = sections.find((s) => s.id === 5)
  if (memory === undefined) throw new Error('wasm backend: the generated module declares no memory')
  // The memory section is a vector of one entry: count 1, limits flag 0, initial pages.
  const initialPages = readLeb(memory.contentAt + 2).value
  const entry = [...name('env'), ...name('memory'), 0x02, 0x03, ...leb(initialPages), ...leb(maxPages)]
  const imports = [2, ...leb(entry.length + 1), 1, ...entry]
  const out: number[] = [...bytes.subarray(0, 8)]
  for (const section of sections) {
    if (section.id !== 5) out.push(...section.whole)
    if (section.id === 1) out.push(...imports)
  }
  return new Uint8Array(out)
}

const MAX_PAGES = 65536

/**
 * A module and instance on a shared memory where threads are possible, else on its own memory.
 * A shared memory must declare a maximum; where reserving 4 GiB of address space fails (32-bit
 * engines), the plain memory is used and the backend stays single-threaded.
 */
const instantiate = (): { module: WebAssembly.Module; exports: WebAssembly.Exports } => {
  const bytes = gemmModuleBytes(TILE)
  if (sharedMemoryUnavailableReason() === undefined) {
    try {
      const module = new WebAssembly.Module(withSharedMemoryImport(bytes, MAX_PAGES))
      const initial = Math.ceil(ARENA / PAGE_BYTES) + 1
      const memory = new WebAssembly.Memory({ initial, maximum: MAX_PAGES, shared: true })
      return { module, exports: new WebAssembly.Instance(module, { env: { memory } }).exports }
    } catch {
      // fall through to an unshared memory
    }
  }
  const module = new WebAssembly.Module(bytes)
  return { module, exports: new WebAssembly.Instance(module, {}).exports }
}

/** The instance, compiled and instantiated synchronously on first use. */
export const gemmInstance = (): GemmExports => {
  if (instance !== undefined) return instance
  const reason = wasmUnavailableReason()
  if (reason !== undefined) {
    throw new Error(
      `wasm backend: ${reason}. Use the reference backend (setBackend(undefined) picks the best available one)`,
    )
  }
  const { module, exports } = instantiate()
  const { memory, macro, packA, packB, im2col, col2im, relu, addRows } = exports
  if (
    !(memory instanceof WebAssembly.Memory) ||
    !isFunction(macro) ||
    !isFunction(packA) ||
    !isFunction(packB) ||
    !isFunction(im2col) ||
    !isFunction(col2im) ||
    !isFunction(relu) ||
    !isFunction(addRows)
  ) {
    throw new Error('wasm backend: the generated module lacks its exports')
  }
  instance = { memory, module, macro, packA, packB, im2col, col2im, relu, addRows }
  return instance
}

/**
 * Forgets the instance and its memory: the next call compiles a new module on a new memory. For a
 * thread pool given up on with a worker possibly still running (threads.ts): nothing it may still
 * write can then reach a later call's operands.
 */
export const abandonInstance = (): void => {
  evictRegion()
  instance = undefined
}

/** Called before the resident region's bytes may be overwritten or moved (see `setRegionEvictor`). */
let evictor: (() => void) | undefined

/**
 * Registers what to run before the resident region's values stop being where they are: the last
 * claimer's tensors that still live in the region (resident.ts) are copied out by it. Runs at most
 * once: a new claim registers again.
 */
export const setRegionEvictor = (evict: (() => void) | undefined): void => {
  evictor = evict
}

/** Runs and forgets the registered evictor: the region is about to be reused, moved or dropped. */
export const evictRegion = (): void => {
  const evict = evictor
  evictor = undefined
  evict?.()
}

/** Whether this instance's memory is shared, so worker threads can run on it. */
export const isShared = (memory: WebAssembly.Memory): boolean =>
  typeof SharedArrayBuffer === 'function' && memory.buffer instanceof SharedArrayBuffer

const roundUp = (value: number, multiple: number): number => Math.ceil(value / multiple) * multiple

/** Byte offsets of the fixed scratch areas at the bottom of memory; operands start at `arena`. */
const TMP = 0
const PACK_A = 256
const PACK_B = PACK_A + roundUp(MC, MR) * KC * FLOAT_BYTES
const ARENA = PACK_B + roundUp(NC, NR) * KC * FLOAT_BYTES
/** Bytes of one thread's scratch areas; worker `w` (from 1) has its own copy at `w · SCRATCH_BYTES`. */
const SCRATCH_BYTES = roundUp(ARENA, 256)
const MAIN_SCRATCH: Scratch = { tmp: TMP, packA: PACK_A, packB: PACK_B }

/** The private scratch areas of thread `index` (0 is the main thread). */
export const scratchOf = (index: number): Scratch =>
  index === 0
    ? MAIN_SCRATCH
    : {
        tmp: index * SCRATCH_BYTES + TMP,
        packA: index * SCRATCH_BYTES + PACK_A,
        packB: index * SCRATCH_BYTES + PACK_B,
      }

let workerScratches = 0

/**
 * Keeps scratch for `count` worker threads below the arena (threads.ts calls it before starting
 * them); operands then start above it. Calls are synchronous, so moving the arena between calls is safe.
 */
export const reserveWorkerScratch = (count: number): void => {
  // The region starts where the scratch areas end: more workers' scratch covers its old bytes.
  if (count !== workerScratches) evictRegion()
  workerScratches = count
}

/** Where the scratch areas of the main thread and the workers end. */
const scratchEnd = (): number => (workerScratches === 0 ? ARENA : (workerScratches + 1) * SCRATCH_BYTES)

let residentBytes = 0

/**
 * Reserves `bytes` right above the scratch areas for a wasm-resident executable (resident.ts) and
 * returns its byte address: every later call's operands start above it, so a kernel run between
 * the executable's steps never overwrites its values. The reservation only grows (to the largest
 * executable seen), like the memory.
 */
export const reserveResident = (bytes: number): number => {
  residentBytes = Math.max(residentBytes, roundUp(bytes, 256))
  const base = scratchEnd()
  growTo(gemmInstance().memory, base + residentBytes)
  return base
}

const arenaBase = (): number => scratchEnd() + residentBytes

/**
 * A view of wasm memory as float32, at least `floats` elements past the scratch areas. Views
 * are invalidated when memory grows, so callers take a new one per call and keep it local.
 */
export const arena = (floats: number): { readonly heap: Float32Array; readonly base: number } => {
  const { memory } = gemmInstance()
  const base = arenaBase()
  growTo(memory, base + floats * FLOAT_BYTES)
  return { heap: new Float32Array(memory.buffer), base }
}

/**
 * Grows `memory` to at least `bytes`, or throws `ArenaExhausted` (callers then fall back to the
 * reference): 32-bit wasm memory stops at 4 GiB, less where the engine or the OS says so.
 */
export const growTo = (memory: WebAssembly.Memory, bytes: number): void => {
  const have = memory.buffer.byteLength
  if (bytes <= have) return
  if (bytes > MAX_BYTES) throw new ArenaExhausted(bytes)
  try {
    memory.grow(Math.ceil((bytes - have) / PAGE_BYTES))
  } catch {
    throw new ArenaExhausted(bytes)
  }
}

const MAX_BYTES = 2 ** 32 - PAGE_BYTES

/** Thrown by `arena` when wasm memory cannot hold a call's operands; callers fall back to the reference. */
export class ArenaExhausted extends Error {
  constructor(readonly bytes: number) {
    super(`wasm backend: ${bytes} bytes do not fit in WebAssembly memory`)
  }
}

/** `run()`, or `fallback()` when its operands do not fit in wasm memory. */
export const orFallback = <T>(run: () => T, fallback: () => T): T => {
  try {
    return run()
  } catch (error) {
    if (error instanceof ArenaExhausted) return fallback()
    throw error
  }
}

/** Byte steps of a product's operands, as `blockedGemm` takes them (see `operandSteps`). */
export interface OperandSteps {
  readonly aOuter: number
  readonly aDepth: number
  readonly bOuter: number
  readonly bDepth: number
}

/**
 * Byte steps between consecutive rows (outer) and depth positions of op(A), and between consecutive
 * depth positions and columns (outer) of op(B), for row-major storage of A (m×k, or k×m when
 * `transA`) and B (k×n, or n×k when `transB`). Shared by the single-threaded and the threaded driver.
 */
export const operandSteps = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
): OperandSteps => ({
  aOuter: transA ? FLOAT_BYTES : k * FLOAT_BYTES,
  aDepth: transA ? m * FLOAT_BYTES : FLOAT_BYTES,
  bOuter: transB ? k * FLOAT_BYTES : FLOAT_BYTES,
  bDepth: transB ? FLOAT_BYTES : n * FLOAT_BYTES,
})

/**
 * `C = op(A) · op(B)` (or `C += ...` when `accumulate`) on float32 matrices already in wasm memory
 * (byte addresses): op(A) is m×k, stored m×k (or k×m when `transA`); op(B) is k×n, stored k×n
 * (or n×k when `transB`); C is m×n with row stride `ldc` elements. With k = 0 it does nothing,
 * so an overwriting caller must then zero C itself.
 */
export const gemmInMemory = (
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
  const { aOuter, aDepth, bOuter, bDepth } = operandSteps(transA, transB, m, n, k)
  const ldcBytes = ldc * FLOAT_BYTES
  blockedGemm(
    gemmInstance(),
    BLOCKING,
    MAIN_SCRATCH,
    m,
    n,
    k,
    aAddress,
    aOuter,
    aDepth,
    bAddress,
    bOuter,
    bDepth,
    cAddress,
    ldcBytes,
    accumulate,
  )
}

/**
 * `C = A · op(B)` (A row-major m×k, C row stride n) on this thread, with `after(firstRow, rows)`
 * run on each block of `blockRows` rows of C as soon as it is complete (an epilogue applied while
 * the block is in cache). B is packed once, every depth block side by side in the packed-B area,
 * instead of once per row block; each element is summed exactly as `gemmInMemory` sums it (the
 * same depth blocks in the same order), so the result is the same bits. Returns false, having done
 * nothing, when the packed B does not fit (`k · ⌈n / NR⌉ · NR` floats over `KC · NC`): the caller
 * then runs one `gemmInMemory` per row block.
 */
export const gemmRowBlocks = (
  transB: boolean,
  m: number,
  n: number,
  k: number,
  aAddress: number,
  bAddress: number,
  cAddress: number,
  blockRows: number,
  after: (firstRow: number, rows: number) => void,
): boolean => {
  const panel = roundUp(n, NR)
  if (m === 0 || n === 0 || k === 0 || k * panel > KC * roundUp(NC, NR)) return false
  const { packA, packB, macro } = gemmInstance()
  const { aOuter, aDepth, bOuter, bDepth } = operandSteps(false, transB, m, n, k)
  const ldcBytes = n * FLOAT_BYTES
  // The depth blocks of `blockedGemm` (equal blocks of at most KC), packed one after the other.
  const kc = Math.ceil(k / Math.ceil(k / KC))
  for (let pc = 0; pc < k; pc += kc) {
    packB(bAddress + pc * bDepth, bOuter, bDepth, n, Math.min(kc, k - pc), PACK_B + pc * panel * FLOAT_BYTES)
  }
  for (let first = 0; first < m; first += blockRows) {
    const end = Math.min(m, first + blockRows)
    for (let pc = 0; pc < k; pc += kc) {
      const depth = Math.min(kc, k - pc)
      for (let ic = first; ic < end; ic += MC) {
        const mc = Math.min(MC, end - ic)
        packA(aAddress + ic * aOuter + pc * aDepth, aOuter, aDepth, mc, depth, PACK_A)
        const bp = PACK_B + pc * panel * FLOAT_BYTES
        macro(mc, n, depth, PACK_A, bp, cAddress + ic * ldcBytes, ldcBytes, TMP, pc > 0 ? 1 : 0)
      }
    }
    after(first, end - first)
  }
  return true
}
