import type { ElementwiseProgram, MatmulSpec, ProgramInstruction } from '../../backend'
import type { DType } from '../../dtype'
import { programText } from '../../kernels/program'
import { sizeOf, type Shape } from '../../shape'
import { unsafeTensor, type Tensor } from '../../tensor'
import { batchOffsets } from '../reference/matmul'
import { matmul } from './matmul'
import { elementwiseProgram } from './program'
import { Code, encodeModule, type Local } from './emitter'
import {
  BLOCKING,
  gemmInstance,
  gemmRowBlocks,
  isShared,
  orFallback,
  withSharedMemoryImport,
} from './runtime'
import { MIN_PARALLEL_WORK, gemm, getThreads, threadedArena } from './threads'

// Elementwise programs over operands already in the GEMM module's memory: the epilogue of a fused
// matmul (bias, activation, residual add applied to the product before it leaves wasm memory) and
// the elementwise steps of a wasm-resident executable. One module per program and pattern of
// operand kinds, cached, importing the GEMM memory (shared when threads are possible), so a kernel
// reads and writes the same addresses the GEMM does. Like program.ts, every step is one that is
// correctly rounded in float64 (add, sub, mul, div, min, max, neg, abs, sqrt, ...): float32 pairs
// widen exactly to f64x2 and the result narrows once, so a kernel is bit-identical to the reference
// elementwise program on the same operands.

const FLOAT_BYTES = 4
const CACHE_SIZE = 64
/** Most pages a shared GEMM memory may have (runtime.ts creates it with this maximum). */
const MAX_PAGES = 65536

/**
 * How an operand of an epilogue lines up with the `rows × cols` output: `whole` (one element per
 * output element, row-major), `row` (one row of `cols` read by every row: a bias), `column` (one
 * value per row, e.g. a `[m, 1]` row statistic), or `scalar`.
 * @since 0.2.0
 */
export type OperandKind = 'whole' | 'row' | 'column' | 'scalar'

const f64Pair = (value: number): number[] =>
  Array.from(new Uint8Array(new Float64Array([value, value]).buffer))

const UNARY: Readonly<Record<string, (f: Code, x: Local) => void>> = {
  neg: (f, x) => f.get(x).f64x2Neg(),
  abs: (f, x) => f.get(x).f64x2Abs(),
  sqrt: (f, x) => f.get(x).f64x2Sqrt(),
  rsqrt: (f, x) => f.v128Const(f64Pair(1)).get(x).f64x2Sqrt().f64x2Div(),
  square: (f, x) => f.get(x).get(x).f64x2Mul(),
  reciprocal: (f, x) => f.v128Const(f64Pair(1)).get(x).f64x2Div(),
  relu: (f, x) => f.get(x).v128Const(f64Pair(0)).f64x2Max(),
}

const BINARY: Readonly<Record<string, (f: Code) => void>> = {
  add: (f) => f.f64x2Add(),
  sub: (f) => f.f64x2Sub(),
  mul: (f) => f.f64x2Mul(),
  div: (f) => f.f64x2Div(),
  maximum: (f) => f.f64x2Max(),
  minimum: (f) => f.f64x2Min(),
}

const exactStep = (step: ProgramInstruction): boolean =>
  step.kind === 'constant' ||
  (step.kind === 'unary' && Object.hasOwn(UNARY, step.op)) ||
  (step.kind === 'binary' && Object.hasOwn(BINARY, step.op))

/** Whether every step of `program` is one these kernels compute exactly as the reference. @internal */
export const programIsExact = (program: ElementwiseProgram): boolean => program.instructions.every(exactStep)

/**
 * The kind of an operand of `shape` against an output of `outShape` (rows × `cols`, `cols` its last
 * axis), or undefined when it broadcasts some other way (a column, a middle axis).
 * @internal
 */
export const operandKind = (shape: Shape, outShape: Shape): OperandKind | undefined => {
  const size = sizeOf(shape)
  if (size === 1) return 'scalar'
  if (size === sizeOf(outShape) && shape.length <= outShape.length) {
    const lead = outShape.length - shape.length
    return shape.every((d, i) => d === outShape[lead + i]) ? 'whole' : undefined
  }
  const cols = outShape[outShape.length - 1] ?? 1
  if (shape.length > 0 && size === cols && shape[shape.length - 1] === cols) return 'row'
  // One value per output row: size-1 last axis, every other axis the output's (so no cycling).
  const lead = outShape.length - shape.length
  const column =
    shape.length > 0 &&
    lead >= 0 &&
    shape[shape.length - 1] === 1 &&
    size * cols === sizeOf(outShape) &&
    shape.slice(0, -1).every((d, i) => d === outShape[lead + i])
  return column ? 'column' : undefined
}

// Programs that round once: computed in float32 lanes, four elements per step instead of two.
// A float64 step on float32 operands rounded to float32 is the float32 step (float64 carries more
// than 2·24 + 2 bits, so add, sub, mul, div and sqrt round the same either way), and neg, abs, max,
// min and relu commute with rounding (it is monotone and symmetric). So a program whose rounding
// steps all read float32 values (inputs, float32 constants, exact steps of those) gives the same
// bits in float32 lanes as in float64 ones. Bias + ReLU, the epilogue of a dense layer, is one.

const UNARY_F32: Readonly<Record<string, { readonly rounds: boolean; readonly emit: (f: Code) => void }>> = {
  neg: { rounds: false, emit: (f) => f.f32x4Neg() },
  abs: { rounds: false, emit: (f) => f.f32x4Abs() },
  relu: { rounds: false, emit: (f) => f.v128Zero().f32x4Max() },
  sqrt: { rounds: true, emit: (f) => f.f32x4Sqrt() },
}

const BINARY_F32: Readonly<Record<string, { readonly rounds: boolean; readonly emit: (f: Code) => void }>> = {
  add: { rounds: true, emit: (f) => f.f32x4Add() },
  sub: { rounds: true, emit: (f) => f.f32x4Sub() },
  mul: { rounds: true, emit: (f) => f.f32x4Mul() },
  div: { rounds: true, emit: (f) => f.f32x4Div() },
  maximum: { rounds: false, emit: (f) => f.f32x4Max() },
  minimum: { rounds: false, emit: (f) => f.f32x4Min() },
}

/**
 * Whether `program` gives the same bits computed in float32 lanes (see above): every rounding step
 * reads only values that are float32 numbers before any rounding, and every constant is one.
 * @internal
 */
export const roundsOnce = (program: ElementwiseProgram): boolean => {
  // Per value: true when it is a float32 number without any rounding step behind it.
  const exact: boolean[] = new Array<boolean>(program.arity).fill(true)
  for (const step of program.instructions) {
    if (step.kind === 'constant') {
      exact.push(Object.is(Math.fround(step.value), step.value) || Number.isNaN(step.value))
      if (!exact[exact.length - 1]!) return false
    } else if (step.kind === 'unary') {
      const rule = UNARY_F32[step.op]
      if (rule === undefined || (rule.rounds && !exact[step.x]!)) return false
      exact.push(!rule.rounds && exact[step.x]!)
    } else {
      const rule = BINARY_F32[step.op]
      const both = exact[step.a]! && exact[step.b]!
      if (rule === undefined || (rule.rounds && !both)) return false
      exact.push(!rule.rounds && both)
    }
  }
  return true
}

/** `block { loop { if count == 0 break; step; count -= 1; continue } }`: `step` `count` times. */
const countDown = (c: Code, count: Local, step: (c: Code) => void): void => {
  c.block((done) =>
    done.loop((again) => {
      again.get(count).i32Eqz().brIf(1)
      step(again)
      again.get(count).i32Const(1).i32Sub().set(count).br(0)
    }),
  )
}

/**
 * run(operands…, out, rows, cols): a whole, row or column operand is a byte address, a scalar its
 * value (f64); a column operand holds one value per row, read once per row; `out` may be the
 * address of a whole operand (in place). With `wide`, values are float64 pairs: float32 elements
 * widened exactly, the result narrowed once as it is stored, two elements per step along each row
 * and an odd row's last one alone (its pair read past the row, never written). Otherwise (a program
 * that `roundsOnce`) four float32 lanes: four elements per step, then the last `cols mod 4` one at
 * a time.
 */
const kernel = (program: ElementwiseProgram, kinds: ReadonlyArray<OperandKind>, wide: boolean): Code => {
  const arity = program.arity
  const f = new Code(
    [...kinds.map((k) => (k === 'scalar' ? ('f64' as const) : ('i32' as const))), 'i32', 'i32', 'i32'],
    [],
  )
  const operands = kinds.map((_, k) => f.param(k))
  const out = f.param(arity)
  const rows = f.param(arity + 1)
  const cols = f.param(arity + 2)
  const values: Local[] = [
    ...kinds.map(() => f.local('v128')),
    ...program.instructions.map(() => f.local('v128')),
  ]
  const rowAt = kinds.map((k) => (k === 'row' ? f.local('i32') : undefined))
  const count = f.local('i32')
  const result = values[values.length - 1]!
  kinds.forEach((k, i) => {
    if (k !== 'scalar') return
    f.get(operands[i]!)
    // In float32 lanes: a scalar is a float32 value passed as f64, exact back in float32.
    if (wide) f.f64x2Splat()
    else f.f32DemoteF64().f32x4Splat()
    f.set(values[i]!)
  })
  program.instructions.forEach((step, i) => {
    if (step.kind !== 'constant') return
    if (wide) f.v128Const(f64Pair(step.value))
    else f.f32Const(step.value).f32x4Splat()
    f.set(values[arity + i]!)
  })
  /** Loads a step's elements (`one`: one element) at each operand's pointer and computes the program. */
  const body = (c: Code, one: boolean): void => {
    kinds.forEach((k, i) => {
      const at = k === 'whole' ? operands[i]! : k === 'row' ? rowAt[i]! : undefined
      if (at === undefined) return
      c.get(at)
      if (wide) c.v128Load64Zero().f64x2PromoteLowF32x4()
      else if (one) c.v128Load32Splat()
      else c.v128Load()
      c.set(values[i]!)
    })
    program.instructions.forEach((step, i) => {
      if (step.kind === 'unary') {
        if (wide) UNARY[step.op]!(c, values[step.x]!)
        else UNARY_F32[step.op]!.emit(c.get(values[step.x]!))
      } else if (step.kind === 'binary')
        (wide ? BINARY[step.op]! : BINARY_F32[step.op]!.emit)(c.get(values[step.a]!).get(values[step.b]!))
      else return
      c.set(values[arity + i]!)
    })
  }
  const advance = (c: Code, bytes: number): void => {
    kinds.forEach((k, i) => {
      if (k === 'whole') c.get(operands[i]!).i32Const(bytes).i32Add().set(operands[i]!)
      if (k === 'row') c.get(rowAt[i]!).i32Const(bytes).i32Add().set(rowAt[i]!)
    })
    c.get(out).i32Const(bytes).i32Add().set(out)
  }
  /** A full step (`one` false) or one element: computed, stored at `out`, pointers advanced. */
  const emitStep = (c: Code, one: boolean): void => {
    body(c, one)
    c.get(out).get(result)
    if (wide) c.f32x4DemoteF64x2Zero()
    if (one) c.f32x4ExtractLane(0).f32Store()
    else if (wide) c.v128Store64Lane0()
    else c.v128Store()
    advance(c, (one ? 1 : wide ? 2 : 4) * FLOAT_BYTES)
  }
  countDown(f, rows, (row) => {
    kinds.forEach((k, i) => {
      if (k === 'row') row.get(operands[i]!).set(rowAt[i]!)
      // A column operand's value for this row, splatted once and advanced one float per row.
      if (k !== 'column') return
      row.get(operands[i]!).v128Load32Splat()
      if (wide) row.f64x2PromoteLowF32x4()
      row.set(values[i]!).get(operands[i]!).i32Const(FLOAT_BYTES).i32Add().set(operands[i]!)
    })
    // Full steps: cols / 2 pairs, or cols >> 2 quads.
    row.get(cols).i32Const(2)
    if (wide) row.i32DivS()
    else row.i32ShrU()
    row.set(count)
    countDown(row, count, (c) => emitStep(c, false))
    if (wide)
      row
        .get(cols)
        .i32Const(1)
        .i32And()
        .ifElse((c) => emitStep(c, true))
    else {
      row.get(cols).i32Const(3).i32And().set(count)
      countDown(row, count, (c) => emitStep(c, true))
    }
  })
  return f
}

interface EpilogueExports {
  readonly run: (...args: number[]) => void
}

const cache = new Map<string, EpilogueExports>()
let cacheMemory: WebAssembly.Memory | undefined

/**
 * The cached kernel of `program` for operands of `kinds`, instantiated on the GEMM module's memory.
 * @internal
 */
export const epilogueKernel = (
  program: ElementwiseProgram,
  kinds: ReadonlyArray<OperandKind>,
): ((...args: number[]) => void) =>
  cachedKernel(`${kinds.join(',')}:${programText(program)}`, () =>
    kernel(program, kinds, !roundsOnce(program)),
  )

/**
 * run(x, out, rows, cols): `out[j] = Σ_i x[i, j]` over the `rows × cols` float32 matrix at `x`, each
 * column summed in float64 from 0 in row order and rounded once: the reference `sum` over leading
 * axes, bit for bit. Two columns per pass down the rows; an odd last column reads its pair past
 * the row (never written).
 */
const columnSumKernel = (): Code => {
  const f = new Code(['i32', 'i32', 'i32', 'i32'], [])
  const [x, out, rows, cols] = [f.param(0), f.param(1), f.param(2), f.param(3)]
  const acc = f.local('v128')
  const at = f.local('i32')
  const left = f.local('i32')
  const pairs = f.local('i32')
  const stride = f.local('i32')
  f.get(cols).i32Const(FLOAT_BYTES).i32Mul().set(stride)
  const sumDown = (c: Code): void => {
    c.v128Const(f64Pair(0)).set(acc)
    c.get(x).set(at)
    c.get(rows).set(left)
    countDown(c, left, (down) => {
      down.get(acc).get(at).v128Load64Zero().f64x2PromoteLowF32x4().f64x2Add().set(acc)
      down.get(at).get(stride).i32Add().set(at)
    })
  }
  f.get(cols).i32Const(2).i32DivS().set(pairs)
  countDown(f, pairs, (pair) => {
    sumDown(pair)
    pair.get(out).get(acc).f32x4DemoteF64x2Zero().v128Store64Lane0()
    pair
      .get(x)
      .i32Const(2 * FLOAT_BYTES)
      .i32Add()
      .set(x)
    pair
      .get(out)
      .i32Const(2 * FLOAT_BYTES)
      .i32Add()
      .set(out)
  })
  f.get(cols)
    .i32Const(1)
    .i32And()
    .ifElse((tail) => {
      sumDown(tail)
      tail.get(out).get(acc).f32x4DemoteF64x2Zero().f32x4ExtractLane(0).f32Store()
    })
  return f
}

/**
 * run(ct, y, out, count): `out[i] = y[i] > 0 ? ct[i] : +0` (ReLU's backward pass) as a bitwise AND
 * of `ct` with the `y > 0` mask, two floats per step, an odd last one stored alone: bit for bit the
 * reference. `out` may be `ct` or `y` (in place).
 */
const reluGradKernel = (): Code => {
  const f = new Code(['i32', 'i32', 'i32', 'i32'], [])
  const [ct, y, out, count] = [f.param(0), f.param(1), f.param(2), f.param(3)]
  const pairs = f.local('i32')
  const result = f.local('v128')
  const masked = (c: Code): void => {
    c.get(ct).v128Load64Zero().get(y).v128Load64Zero().v128Zero().f32x4Gt().v128And().set(result)
  }
  f.get(count).i32Const(2).i32DivS().set(pairs)
  countDown(f, pairs, (again) => {
    masked(again)
    again.get(out).get(result).v128Store64Lane0()
    for (const p of [ct, y, out])
      again
        .get(p)
        .i32Const(2 * FLOAT_BYTES)
        .i32Add()
        .set(p)
  })
  f.get(count)
    .i32Const(1)
    .i32And()
    .ifElse((tail) => {
      masked(tail)
      tail.get(out).get(result).f32x4ExtractLane(0).f32Store()
    })
  return f
}

/** The ReLU-backward kernel (see `reluGradKernel`) on the GEMM module's memory. @internal */
export const reluGradAt = (): ((...args: number[]) => void) => cachedKernel('reluGrad', reluGradKernel)

/** The column-sum kernel (see `columnSumKernel`) on the GEMM module's memory. @internal */
export const columnSum = (): ((...args: number[]) => void) => cachedKernel('columnSum', columnSumKernel)

/**
 * The function `run` that `generate` builds, in a module instantiated on the GEMM module's memory
 * (shared when threads are possible), cached under `key` until the memory changes. @internal
 */
export const gemmMemoryKernel = (key: string, generate: () => Code): ((...args: number[]) => void) =>
  cachedKernel(key, generate)

const cachedKernel = (key: string, generate: () => Code): ((...args: number[]) => void) => {
  const { memory } = gemmInstance()
  if (cacheMemory !== memory) {
    // A new GEMM instance (runtime.ts abandons one after a stalled worker) means a new memory.
    cache.clear()
    cacheMemory = memory
  }
  const hit = cache.get(key)
  if (hit !== undefined) {
    cache.delete(key)
    cache.set(key, hit)
    return hit.run
  }
  const functions = [{ name: 'run', code: generate() }]
  const bytes = isShared(memory)
    ? withSharedMemoryImport(encodeModule(functions, 1, false), MAX_PAGES)
    : encodeModule(functions, 1, true)
  // why: the module above exports exactly `run` (and the memory it imports)
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } })
    .exports as unknown as EpilogueExports
  if (cache.size >= CACHE_SIZE) {
    const oldest = cache.keys().next()
    if (oldest.done !== true) cache.delete(oldest.value)
  }
  cache.set(key, exports)
  return exports.run
}

/**
 * Bytes a float32 buffer of `floats` takes in a resident region: 16-byte aligned, with room for the
 * pair of elements the kernels read past its end.
 * @example
 * residentBufferBytes(5) // 48: 20 bytes rounded up to 32, plus 16
 * @since 0.2.0
 */
export const bufferBytes = (floats: number): number => Math.ceil((floats * FLOAT_BYTES) / 16) * 16 + 16

/** Bytes of product rows computed before their epilogue runs: they are then still in L2. */
const BLOCK_BYTES = 256 * 1024

/**
 * `C = op(A) · op(B)` for float32 operands already at byte addresses `aAt`, `bAt` (shapes
 * `aShape`, `bShape`), written row-major to `cAt`: one GEMM per output matrix, or one tall GEMM
 * for a stack of A matrices against one B. With `after`, the product is computed in blocks of rows
 * (rows of the `[batch · m, n]` result) and `after(firstRow, rows)` runs on each block as soon as it
 * is written, while it is in cache: blocks of about `BLOCK_BYTES` for a single-threaded tall GEMM
 * (B packed once for all blocks by `gemmRowBlocks` where it fits, else repacked per block), one
 * matrix at a time otherwise (a product split across threads stays whole, so every thread gets
 * its share).
 * The caller has reserved the arena (`threadedArena`).
 * @internal
 */
export const gemmAt = (
  aShape: Shape,
  bShape: Shape,
  spec: MatmulSpec,
  aAt: number,
  bAt: number,
  cAt: number,
  after?: (firstRow: number, rows: number) => void,
): void => {
  const { transposeA, transposeB, batchShape, m, n, k } = spec
  const outSize = sizeOf(batchShape) * m * n
  if (outSize === 0) return
  if (k === 0) {
    new Float32Array(gemmInstance().memory.buffer).fill(0, cAt >> 2, (cAt >> 2) + outSize)
    after?.(0, outSize / n)
    return
  }
  const aOffsets = batchOffsets(aShape, batchShape, m * k)
  const bOffsets = batchOffsets(bShape, batchShape, k * n)
  const count = aOffsets.length
  let stacked = !transposeA
  for (let t = 0; stacked && t < count; t++) stacked = aOffsets[t] === t * m * k && bOffsets[t] === 0
  if (stacked) {
    const rows = count * m
    const threaded = rows * n * k >= MIN_PARALLEL_WORK && getThreads() > 1
    const block =
      after === undefined || threaded
        ? rows
        : Math.max(BLOCKING.mr, Math.floor(BLOCK_BYTES / (n * FLOAT_BYTES) / BLOCKING.mr) * BLOCKING.mr)
    if (
      after !== undefined &&
      !threaded &&
      block < rows &&
      gemmRowBlocks(transposeB, rows, n, k, aAt, bAt, cAt, block, after)
    ) {
      return
    }
    for (let first = 0; first < rows; first += block) {
      const height = Math.min(block, rows - first)
      gemm(
        false,
        transposeB,
        height,
        n,
        k,
        aAt + first * k * FLOAT_BYTES,
        bAt,
        cAt + first * n * FLOAT_BYTES,
        n,
        false,
      )
      after?.(first, height)
    }
    return
  }
  for (let t = 0; t < count; t++) {
    gemm(
      transposeA,
      transposeB,
      m,
      n,
      k,
      aAt + aOffsets[t]! * FLOAT_BYTES,
      bAt + bOffsets[t]! * FLOAT_BYTES,
      cAt + t * m * n * FLOAT_BYTES,
      n,
      false,
    )
    after?.(t * m, m)
  }
}

/**
 * The GEMM of `gemmAt` with an epilogue kernel `run` (`epilogueKernel(program, kinds)`) applied to
 * each block of the product as it is written (in place: the product is the program's input 0).
 * `operands` are the other inputs' addresses (whole, row) or values (scalar), in the order of
 * `kinds` after the product's.
 * @internal
 */
export const gemmEpilogueAt = (
  aShape: Shape,
  bShape: Shape,
  spec: MatmulSpec,
  run: (...args: number[]) => void,
  kinds: ReadonlyArray<OperandKind>,
  operands: ReadonlyArray<number>,
  aAt: number,
  bAt: number,
  cAt: number,
): void => {
  const n = spec.n
  const rowBytes = n * FLOAT_BYTES
  gemmAt(aShape, bShape, spec, aAt, bAt, cAt, (first, rows) => {
    const shift = first * rowBytes
    const args = operands.map((x, i) => (kinds[i + 1] === 'whole' ? x + shift : x))
    run(cAt + shift, ...args, cAt + shift, rows, n)
  })
}

/** Below this many multiply-adds the reference loop wins (as for the wasm backend's matmul). */
const MIN_WORK = 512

/**
 * The float32 product and its epilogue in wasm memory: operands copied in once, the GEMM with the
 * program applied to each block of product rows in place while it is in cache (`gemmEpilogueAt`),
 * one copy out.
 */
const wasmMatmulEpilogue = (
  a: Tensor,
  b: Tensor,
  spec: MatmulSpec,
  program: ElementwiseProgram,
  extras: ReadonlyArray<Tensor>,
  kinds: ReadonlyArray<OperandKind>,
  outShape: Shape,
): Tensor => {
  const outSize = sizeOf(outShape)
  const copied = extras.filter((_, i) => kinds[i + 1] !== 'scalar')
  const floats =
    (bufferBytes(a.data.length) + bufferBytes(b.data.length) + bufferBytes(outSize)) / FLOAT_BYTES +
    copied.reduce((total, x) => total + bufferBytes(x.data.length) / FLOAT_BYTES, 0)
  const { base } = threadedArena(floats, spec.m * spec.n * spec.k)
  const aAt = base
  const bAt = aAt + bufferBytes(a.data.length)
  const cAt = bAt + bufferBytes(b.data.length)
  let at = cAt + bufferBytes(outSize)
  const heap = (): Float32Array => new Float32Array(gemmInstance().memory.buffer)
  heap().set(a.data, aAt >> 2)
  heap().set(b.data, bAt >> 2)
  const args: number[] = []
  extras.forEach((x, i) => {
    if (kinds[i + 1] === 'scalar') args.push(x.data[0]!)
    else {
      heap().set(x.data, at >> 2)
      args.push(at)
      at += bufferBytes(x.data.length)
    }
  })
  gemmEpilogueAt(a.shape, b.shape, spec, epilogueKernel(program, kinds), kinds, args, aAt, bAt, cAt)
  const out = new Float32Array(outSize)
  out.set(heap().subarray(cAt >> 2, (cAt >> 2) + outSize))
  return unsafeTensor('float32', outShape, out)
}

/**
 * `Backend.matmulEpilogue` of the wasm backend: float32 products big enough for the GEMM whose
 * program has only exact steps and whose extra operands are whole, a bias row or scalars run as
 * GEMM + generated epilogue in wasm memory; everything else is the backend's matmul followed by its
 * elementwise program (the definition).
 * @since 0.2.0
 */
export const matmulEpilogue = (
  a: Tensor,
  b: Tensor,
  spec: MatmulSpec,
  program: ElementwiseProgram,
  extras: ReadonlyArray<Tensor>,
  outShape: Shape,
  outDtype: DType,
): Tensor => {
  const composed = (): Tensor =>
    elementwiseProgram(program, [matmul(a, b, spec), ...extras], outShape, outDtype)
  const kinds: Array<OperandKind | undefined> = [
    'whole',
    ...extras.map((x) => operandKind(x.shape, outShape)),
  ]
  const fits =
    outDtype === 'float32' &&
    a.dtype === 'float32' &&
    b.dtype === 'float32' &&
    extras.every((x) => x.dtype === 'float32') &&
    spec.m * spec.n * spec.k >= MIN_WORK &&
    kinds.every((k) => k !== undefined) &&
    programIsExact(program)
  if (!fits) return composed()
  // why: `fits` checked every kind is defined
  const known = kinds as ReadonlyArray<OperandKind>
  return orFallback(() => wasmMatmulEpilogue(a, b, spec, program, extras, known, outShape), composed)
}
