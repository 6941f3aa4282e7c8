import type { ElementwiseProgram } from '../../backend'
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
import { ArenaExhausted, gemmInstance, reserveResident, wasmAvailable } from './runtime'
import { MIN_PARALLEL_WORK, poolFor } from './threads'

// The wasm-resident execution API: a compiled graph (ops' staging/executable.ts) keeps its float32
// values at byte addresses of one region of the GEMM module's memory, reserved for it above the
// scratch areas, and runs its matmuls and elementwise steps on those addresses. Only the graph's
// inputs are written in and its outputs read out; a step with no resident kernel reads its inputs
// out and writes its result back in.

/** An operand of a resident elementwise step: how it lines up with the output, and its byte address. @since 0.2.0 */
export interface ResidentOperand {
  readonly kind: OperandKind
  readonly at: number
}

const view = (): Float32Array => new Float32Array(gemmInstance().memory.buffer)

const readScalars = (operands: ReadonlyArray<ResidentOperand>): number[] => {
  const heap = view()
  return operands.map((o) => (o.kind === 'scalar' ? heap[o.at >> 2]! : o.at))
}

/**
 * Float32 kernels on addresses of wasm memory, for compiled graphs that keep their values there.
 * Addresses are byte offsets returned by `reserve` plus the caller's own layout; every buffer needs
 * 16 bytes of room past its end (`bufferBytes`), since a pair of elements is read at a time.
 * @example
 * const base = wasmResident.reserve(1 << 20)
 * wasmResident.write(base, x.data)
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
    try {
      return reserveResident(bytes)
    } catch (error) {
      if (error instanceof ArenaExhausted) return undefined
      throw error
    }
  },
  /** Copies `data` (float32 values) to `at`. */
  write: (at: number, data: ArrayLike<number>): void => {
    view().set(data, at >> 2)
  },
  /** A copy of `size` float32 values at `at`. */
  read: (at: number, size: number): Float32Array => {
    const out = new Float32Array(size)
    out.set(view().subarray(at >> 2, (at >> 2) + size))
    return out
  },
  /** `op(A) · op(B)` of float32 operands of rank >= 2 at `aAt` and `bAt`, written row-major at `cAt`. */
  matmul: (
    aShape: Shape,
    bShape: Shape,
    opts: MatmulOptions,
    aAt: number,
    bAt: number,
    cAt: number,
  ): void => {
    gemmAt(aShape, bShape, matmulPlan(aShape, bShape, opts).spec, aAt, bAt, cAt)
  },
  /**
   * An elementwise program over `operands` (its inputs in order) into the `rows × cols` output at
   * `outAt`; `outAt` may be a whole operand's address (in place). Only programs `exact` accepts.
   */
  program: (
    program: ElementwiseProgram,
    operands: ReadonlyArray<ResidentOperand>,
    outAt: number,
    rows: number,
    cols: number,
  ): void => {
    const run = epilogueKernel(
      program,
      operands.map((o) => o.kind),
    )
    run(...readScalars(operands), outAt, rows, cols)
  },
  /**
   * The product at `cAt` with `program` (the product its input 0, then `extras`) applied in place to
   * each block of rows as it is written (see `gemmEpilogueAt`).
   */
  matmulEpilogue: (
    aShape: Shape,
    bShape: Shape,
    opts: MatmulOptions,
    program: ElementwiseProgram,
    extras: ReadonlyArray<ResidentOperand>,
    aAt: number,
    bAt: number,
    cAt: number,
  ): void => {
    const { spec } = matmulPlan(aShape, bShape, opts)
    const values = readScalars(extras)
    gemmEpilogueAt(
      aShape,
      bShape,
      spec,
      program,
      ['whole', ...extras.map((o) => o.kind)],
      values,
      aAt,
      bAt,
      cAt,
    )
  },
  /**
   * `out[j] = Σ_i x[i, j]` for the `rows × cols` float32 matrix at `xAt` (a sum over leading axes),
   * in float64 in row order, rounded once: bit for bit the reference backend's `sum`.
   */
  sumRows: (xAt: number, outAt: number, rows: number, cols: number): void => {
    columnSum()(xAt, outAt, rows, cols)
  },
  /** `out = y > 0 ? ct : +0` over `count` float32 elements (ReLU's backward pass); `out` may be `ct` or `y`. */
  reluGrad: (ctAt: number, yAt: number, outAt: number, count: number): void => {
    reluGradAt()(ctAt, yAt, outAt, count)
  },
  /** Whether `program` has only steps the resident kernels compute exactly as the reference. */
  exact: (program: ElementwiseProgram): boolean => programIsExact(program),
  /** How an operand of `shape` lines up with an output of `outShape`, or undefined when no kernel takes it. */
  operandKind: (shape: Shape, outShape: Shape): OperandKind | undefined => operandKind(shape, outShape),
} as const
