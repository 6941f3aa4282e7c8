import type { TileShape } from './kernels'
import { gemmModuleBytes, simdProbeBytes } from './kernels'

// The one WebAssembly instance behind the wasm backend and its memory. Memory is a scratch arena:
// every call lays out its operands from a fixed base (bump allocation), copies inputs in, runs,
// copies the result out, and leaves nothing behind, so calls never free anything. The memory only
// grows, to the largest call seen.

/**
 * The micro-kernel tile: 2 rows × 16 columns, 8 v128 accumulators + 4 of B + 1 splat of A, within
 * the 16 xmm registers V8 allocates on x64. Measured on Zen 5 at n = 1024: 2×16 ≈ 60 GFLOP/s,
 * 4×8 ≈ 49 (its four broadcasts per step compete with the arithmetic; 58 with A pre-splatted),
 * tiles needing more registers (3×12, 4×12, 6×8) 25–33 (spills), unrolling the depth loop 34.
 */
export const TILE: TileShape = { rows: 2, vectors: 4, unroll: 1, splatA: false }
const MR = TILE.rows
const NR = 4 * TILE.vectors
/** Depth per block: a kc × NR strip of B (16 KiB) stays in L1 while the strips of A stream past it. */
const KC = 256
/** Rows of A per block: the packed mc × kc block (128 KiB) stays in L2 across all strips of B. */
const MC = 128
/** Columns of B per block: the packed kc × nc block (4 MiB) lives in L2/L3. */
const NC = 4096

const PAGE_BYTES = 65536
const FLOAT_BYTES = 4

interface GemmExports {
  readonly memory: WebAssembly.Memory
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
  /** See `patchKernel` in kernels.ts for the fifteen arguments. */
  readonly im2col: (...geometry: number[]) => void
  readonly col2im: (...geometry: number[]) => void
  readonly relu: (at: number, count: number) => void
}

let simdSupport: boolean | undefined
let instance: GemmExports | undefined

/**
 * True when this engine runs WebAssembly with 128-bit SIMD (validated once, on a tiny module).
 * @since 0.1.0
 */
export const wasmAvailable = (): boolean => {
  if (simdSupport === undefined) {
    try {
      simdSupport = typeof WebAssembly === 'object' && WebAssembly.validate(simdProbeBytes())
    } catch {
      simdSupport = false
    }
  }
  return simdSupport
}

const isFunction = (value: unknown): value is (...args: number[]) => void => typeof value === 'function'

/** The instance, compiled and instantiated synchronously on first use. */
export const gemmInstance = (): GemmExports => {
  if (instance !== undefined) return instance
  const module = new WebAssembly.Module(gemmModuleBytes(TILE))
  const { exports } = new WebAssembly.Instance(module, {})
  const { memory, macro, packA, packB, im2col, col2im, relu } = exports
  if (
    !(memory instanceof WebAssembly.Memory) ||
    !isFunction(macro) ||
    !isFunction(packA) ||
    !isFunction(packB) ||
    !isFunction(im2col) ||
    !isFunction(col2im) ||
    !isFunction(relu)
  ) {
    throw new Error('wasm backend: the generated module lacks its exports')
  }
  instance = { memory, macro, packA, packB, im2col, col2im, relu }
  return instance
}

const roundUp = (value: number, multiple: number): number => Math.ceil(value / multiple) * multiple

/** Byte offsets of the fixed scratch areas at the bottom of memory; operands start at `arena`. */
const TMP = 0
const PACK_A = 256
const PACK_B = PACK_A + roundUp(MC, MR) * KC * (TILE.splatA ? 16 : FLOAT_BYTES)
const ARENA = PACK_B + roundUp(NC, NR) * KC * FLOAT_BYTES

/**
 * A view of wasm memory as float32, at least `floats` elements past the scratch areas. Views
 * are invalidated when memory grows, so callers take a new one per call and keep it local.
 */
export const arena = (floats: number): { readonly heap: Float32Array; readonly base: number } => {
  const { memory } = gemmInstance()
  const needed = ARENA + floats * FLOAT_BYTES
  const have = memory.buffer.byteLength
  if (needed > have) {
    // 32-bit wasm memory stops at 4 GiB (less where the engine or the OS says so).
    if (needed > MAX_BYTES) throw new ArenaExhausted(needed)
    try {
      memory.grow(Math.ceil((needed - have) / PAGE_BYTES))
    } catch {
      throw new ArenaExhausted(needed)
    }
  }
  return { heap: new Float32Array(memory.buffer), base: ARENA }
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
  if (m === 0 || n === 0 || k === 0) return
  const { macro, packA, packB } = gemmInstance()
  // Byte steps between consecutive rows (outer) and depth positions of op(A), and between
  // consecutive depth positions and columns (outer) of op(B).
  const aOuter = transA ? FLOAT_BYTES : k * FLOAT_BYTES
  const aDepth = transA ? m * FLOAT_BYTES : FLOAT_BYTES
  const bOuter = transB ? k * FLOAT_BYTES : FLOAT_BYTES
  const bDepth = transB ? FLOAT_BYTES : n * FLOAT_BYTES
  const ldcBytes = ldc * FLOAT_BYTES
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc)
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc)
      packB(bAddress + jc * bOuter + pc * bDepth, bOuter, bDepth, nc, kc, PACK_B)
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic)
        packA(aAddress + ic * aOuter + pc * aDepth, aOuter, aDepth, mc, kc, PACK_A)
        // Only the first depth block may overwrite; the others add to it.
        const add = accumulate || pc > 0 ? 1 : 0
        macro(mc, nc, kc, PACK_A, PACK_B, cAddress + (ic * ldc + jc) * FLOAT_BYTES, ldcBytes, TMP, add)
      }
    }
  }
}
