import type { ElementwiseProgram, ReductionProgram } from '../../backend'
import { residentReduction } from './reduction'
import type { Shape } from '../../shape'
import { matmulPlan, type MatmulOptions } from '../../kernels/matmul'
import {
  columnSum,
  epilogueKernel,
  reluGradAt,
  gemmAt,
  gemmEpilogueAt,
  operandKind,
  programIsExact,
  type OperandKind,
} from './epilogue'
import {
  ArenaExhausted,
  evictRegion,
  gemmInstance,
  reserveResident,
  setRegionEvictor,
  wasmAvailable,
} from './runtime'
import { RegionTensor } from './regionTensor'
import { MIN_PARALLEL_WORK, poolFor } from './threads'

// The wasm-resident execution API: a compiled graph (ops' staging/executable.ts) keeps its float32
// values at byte addresses of one region of the GEMM module's memory, reserved for it above the
// scratch areas, and runs its matmuls and elementwise steps on those addresses. Only the graph's
// inputs are written in and its outputs read out; a step with no resident kernel reads its inputs
// out and writes its result back in.

/**
 * An operand of a resident elementwise step: how it lines up with the output, and its byte offset
 * in the region.
 * @since 0.2.0
 */
export interface ResidentOperand {
  readonly kind: OperandKind
  readonly offset: number
}

/** A prepared step: runs on the region at byte address `base`. @since 0.2.0 */
export type ResidentStep = (base: number) => void

interface Claim {
  readonly owner: object | undefined
  readonly base: number
  readonly memory: WebAssembly.Memory | undefined
}
const NO_CLAIM: Claim = { owner: undefined, base: -1, memory: undefined }
/** The latest `claim` (or NO_CLAIM after a plain `reserve`): whose values the region holds. */
let lastClaim: Claim = NO_CLAIM

let heapView: Float32Array | undefined
/** A float32 view of the GEMM memory, renewed only when the memory grew (or was replaced). */
const view = (): Float32Array => {
  const buffer = gemmInstance().memory.buffer
  if (heapView === undefined || heapView.buffer !== buffer) heapView = new Float32Array(buffer)
  return heapView
}

/** `generate()`'s kernel, generated again only when the GEMM instance (and memory) changed. */
const perMemory = <K>(generate: () => K): (() => K) => {
  let memory: WebAssembly.Memory | undefined
  let kernel: K | undefined
  return () => {
    const now = gemmInstance().memory
    if (kernel === undefined || memory !== now) {
      kernel = generate()
      memory = now
    }
    return kernel
  }
}

/**
 * `f(...a)` as a call of fixed arity for the usual argument counts: a spread call allocates and
 * goes through V8's generic JS-to-wasm wrapper on every call, a fixed-arity one gets the
 * signature's compiled wrapper (a training step makes ~20 such calls).
 */
const callSpread = <R>(f: (...a: number[]) => R, a: ReadonlyArray<number>): R => {
  switch (a.length) {
    case 4:
      return f(a[0]!, a[1]!, a[2]!, a[3]!)
    case 5:
      return f(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!)
    case 6:
      return f(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!)
    case 7:
      return f(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!)
    case 8:
      return f(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!)
    case 9:
      return f(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!)
    case 10:
      return f(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!)
    default:
      return f(...a)
  }
}

/** The kernel's arguments for the operands (addresses, or the values of scalars) at `base`. */
const operandArgs = (
  operands: ReadonlyArray<ResidentOperand>,
  base: number,
  args: number[],
  from: number,
): void => {
  let heap: Float32Array | undefined
  operands.forEach((o, i) => {
    if (o.kind === 'scalar') {
      heap ??= view()
      args[from + i] = heap[(base + o.offset) >> 2]!
    } else args[from + i] = base + o.offset
  })
}

/**
 * Float32 kernels on a region of wasm memory, for compiled graphs that keep their values there:
 * `reserve` the region, `write` inputs, run steps prepared once per graph (`prepare*`, each given
 * byte offsets in the region and returning a function of the region's address), `read` outputs.
 * Every buffer needs 16 bytes of room past its end (`residentBufferBytes`): pairs are read at a time.
 * @example
 * // dy, y: 16 float32 values each; three buffers of residentBufferBytes(16) = 80 bytes
 * const n = residentBufferBytes(16)
 * const step = wasmResident.prepareReluGrad(0, n, 2 * n, 16)
 * const base = wasmResident.reserve(3 * n)!
 * wasmResident.write(base, dy.data); wasmResident.write(base + n, y.data)
 * step(base)
 * wasmResident.read(base + 2 * n, 16) // y > 0 ? dy : 0
 * @since 0.2.0
 */
export const wasmResident = {
  /** Whether the wasm backend (and so this API) can run here. */
  available: (): boolean => wasmAvailable(),
  /**
   * Reserves `bytes` of wasm memory for one run and returns the region's byte address, or
   * undefined when wasm memory cannot grow that far (the caller then runs without the region).
   * Starts the worker pool first when threads are on (starting it later would move the region).
   */
  reserve: (bytes: number): number | undefined => {
    poolFor(MIN_PARALLEL_WORK)
    evictRegion()
    lastClaim = NO_CLAIM
    try {
      return reserveResident(bytes)
    } catch (error) {
      if (error instanceof ArenaExhausted) return undefined
      throw error
    }
  },
  /**
   * `reserve` on behalf of `owner` (any object, e.g. one per compiled graph): the region's byte
   * address, and whether the region still holds what `owner` left there, i.e. `owner` made the last
   * claim or reservation, at the same address, in the same wasm memory (nothing has run on the
   * region since). An owner that finds its region intact may skip writing values it wrote before.
   * `evict` is called (once) before anything else overwrites or moves the region: the owner copies
   * out the values it handed out as `regionTensor`s. Undefined when wasm memory cannot grow that far.
   */
  claim: (
    bytes: number,
    owner: object,
    evict?: () => void,
  ): { readonly base: number; readonly intact: boolean } | undefined => {
    poolFor(MIN_PARALLEL_WORK)
    // Another owner's values are about to be overwritten: it copies out what it still needs.
    if (lastClaim.owner !== owner) evictRegion()
    let base: number
    try {
      base = reserveResident(bytes)
    } catch (error) {
      if (error instanceof ArenaExhausted) return undefined
      throw error
    }
    const memory = gemmInstance().memory
    const intact = lastClaim.owner === owner && lastClaim.base === base && lastClaim.memory === memory
    lastClaim = { owner, base, memory }
    setRegionEvictor(evict)
    return { base, intact }
  },
  /**
   * A float32 tensor of `shape` whose values are the `sizeOf(shape)` floats at byte address `at` of
   * the region, copied out only when its `data` is read (see `RegionTensor`). The claimer that makes
   * one must call its `evacuate` before those bytes change; `claim`'s `evict` is called when another
   * claimer, more worker scratch or a new memory is about to change them.
   */
  regionTensor: (shape: Shape, at: number, size: number): RegionTensor =>
    new RegionTensor(shape, at, size, wasmResident.read),
  /** Copies `data` (float32 values) to byte address `at`. */
  write: (at: number, data: ArrayLike<number>): void => {
    view().set(data, at >> 2)
  },
  /** A copy of the `size` float32 values at byte address `at`. */
  read: (at: number, size: number): Float32Array => view().slice(at >> 2, (at >> 2) + size),
  /** `op(A) · op(B)` of float32 operands of rank >= 2 at offsets `a`, `b`, written row-major at `c`. */
  prepareMatmul: (
    aShape: Shape,
    bShape: Shape,
    opts: MatmulOptions,
    a: number,
    b: number,
    c: number,
  ): ResidentStep => {
    const { spec } = matmulPlan(aShape, bShape, opts)
    return (base) => gemmAt(aShape, bShape, spec, base + a, base + b, base + c)
  },
  /**
   * An elementwise program over `operands` (its inputs in order) into the `rows × cols` output at
   * offset `out`, which may be a whole operand's (in place). Only programs `exact` accepts.
   */
  prepareProgram: (
    program: ElementwiseProgram,
    operands: ReadonlyArray<ResidentOperand>,
    out: number,
    rows: number,
    cols: number,
  ): ResidentStep => {
    const kernel = perMemory(() =>
      epilogueKernel(
        program,
        operands.map((o) => o.kind),
      ),
    )
    const args = new Array<number>(operands.length + 3)
    args[operands.length + 1] = rows
    args[operands.length + 2] = cols
    return (base) => {
      operandArgs(operands, base, args, 0)
      args[operands.length] = base + out
      callSpread(kernel(), args)
    }
  },
  /**
   * The product at offset `c` with `program` (the product its input 0, then `extras`) applied in
   * place to each block of rows as it is written (see `gemmEpilogueAt`).
   */
  prepareMatmulEpilogue: (
    aShape: Shape,
    bShape: Shape,
    opts: MatmulOptions,
    program: ElementwiseProgram,
    extras: ReadonlyArray<ResidentOperand>,
    a: number,
    b: number,
    c: number,
  ): ResidentStep => {
    const { spec } = matmulPlan(aShape, bShape, opts)
    const kinds: OperandKind[] = ['whole', ...extras.map((o) => o.kind)]
    const kernel = perMemory(() => epilogueKernel(program, kinds))
    const values = new Array<number>(extras.length)
    return (base) => {
      operandArgs(extras, base, values, 0)
      gemmEpilogueAt(aShape, bShape, spec, kernel(), kinds, values, base + a, base + b, base + c)
    }
  },
  /**
   * `out[j] = Σ_i x[i, j]` for the `rows × cols` float32 matrix at offset `x` (a sum over leading
   * axes), in float64 in row order, rounded once: bit for bit the reference backend's `sum`.
   */
  prepareSumRows: (x: number, out: number, rows: number, cols: number): ResidentStep => {
    const kernel = perMemory(columnSum)
    return (base) => kernel()(base + x, base + out, rows, cols)
  },
  /** `out = y > 0 ? ct : +0` over `count` float32 elements (ReLU's backward pass); `out` may be `ct`'s or `y`'s offset. */
  prepareReluGrad: (ct: number, y: number, out: number, count: number): ResidentStep => {
    const kernel = perMemory(reluGradAt)
    return (base) => kernel()(base + ct, base + y, base + out, count)
  },
  /**
   * A reduction program (see `reductionProgram`) over float32 operands of `inputShapes` at
   * `offsets` (rows of `rowShape`), its result (`rowShape`, or one value per row) written at `out`.
   * The step returns false when a value fell outside the range of the generated functions (the
   * output may be partly written): the caller then computes the result with the reference. Undefined when no
   * generated kernel takes this program or these shapes. Sums add in two lanes: within an ulp or
   * so of the reference's row-order sums, as the wasm backend's own reductionProgram.
   */
  prepareReduction: (
    program: ReductionProgram,
    inputShapes: ReadonlyArray<Shape>,
    offsets: ReadonlyArray<number>,
    rowShape: Shape,
    out: number,
  ): ((base: number) => boolean) | undefined => {
    const found = residentReduction(program, inputShapes, rowShape)
    if (found === undefined) return undefined
    const { run, access, rows, n } = found
    const args = new Array<number>(offsets.length + 3)
    args[offsets.length + 1] = rows
    args[offsets.length + 2] = n
    return (base) => {
      let heap: Float32Array | undefined
      offsets.forEach((at, i) => {
        if (access[i] === 'scalar') {
          heap ??= view()
          args[i] = heap[(base + at) >> 2]!
        } else args[i] = base + at
      })
      args[offsets.length] = base + out
      return callSpread(run, args) === 0
    }
  },
  /** Whether `program` has only steps the resident kernels compute exactly as the reference. */
  exact: (program: ElementwiseProgram): boolean => programIsExact(program),
  /** How an operand of `shape` lines up with an output of `outShape`, or undefined when no kernel takes it. */
  operandKind: (shape: Shape, outShape: Shape): OperandKind | undefined => operandKind(shape, outShape),
} as const
