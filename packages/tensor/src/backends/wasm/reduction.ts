import type { ReductionProgram, RowReduceOp } from '../../backend'
import type { DType } from '../../dtype'
import { reductionProgramText } from '../../kernels/reductionProgram'
import { shapesEqual, sizeOf, type Shape } from '../../shape'
import { unsafeTensor, type Tensor } from '../../tensor'
import { reductionProgram as referenceReductionProgram, rowVarying } from '../reference/reductionProgram'
import { Code, type Local } from './emitter'
import { f64Pair, type LaneContext } from './math'
import { BINARY, MIN_ELEMENTS, UNARY, cachedKernel, programMemory, slot } from './program'
import { growTo, orFallback } from './runtime'
import { gemmMemoryKernel } from './epilogue'

// Reduction programs on WebAssembly SIMD: one generated kernel per program (and input access),
// looping over rows. Per row, values constant along the row (per-row inputs, reductions, steps over
// only those) are computed once, as f64x2 splats; each reduction is one pass over the row that
// recomputes the row values it needs from the inputs (two per step, float32 widened to float64)
// and accumulates them in two lanes, combined at the end of the pass; a result that varies along
// the row is one last pass that stores it, rounded to float32 once. Elementwise steps are those of
// generated elementwise programs (exact, or math.ts's functions within a few float64 ulps). Sums
// add even and odd positions in two lanes, so a fused float32 result is within an ulp or so of the
// reference loop's (which adds in row order), not bit-identical; max and min of equal values may
// differ in the sign of a zero.

/**
 * How the kernel reads one input along a row: `whole` (its own row), `trail` (one row, the same for
 * every row: a gain or bias [n]), `perRow` (one value per row, [..., 1]), `scalar`.
 */
type Access = 'whole' | 'trail' | 'perRow' | 'scalar'

const stripLeadingOnes = (shape: Shape): Shape =>
  shape.slice(
    Math.max(
      0,
      shape.findIndex((d) => d !== 1),
    ),
  )

interface Layout {
  readonly access: ReadonlyArray<Access>
  readonly varying: ReadonlyArray<boolean>
}

/** How the kernel reads each input, and which values vary along the row; undefined when it cannot. */
const layoutOf = (
  program: ReductionProgram,
  inputs: ReadonlyArray<{ readonly shape: Shape }>,
  rowShape: Shape,
): Layout | undefined => {
  const varying = rowVarying(
    program,
    inputs.map((x) => x.shape),
    rowShape,
  )
  const n = rowShape[rowShape.length - 1]!
  const row = stripLeadingOnes(rowShape)
  const kept = stripLeadingOnes([...rowShape.slice(0, -1), 1])
  const access: Access[] = []
  for (const [k, x] of inputs.entries()) {
    const own = sizeOf(x.shape) === 1 ? [] : stripLeadingOnes(x.shape)
    if (own.length === 0) access.push('scalar')
    else if (varying[k] === true && shapesEqual(own, row)) access.push('whole')
    else if (varying[k] === true && shapesEqual(own, [n])) access.push('trail')
    else if (varying[k] !== true && shapesEqual(own, kept)) access.push('perRow')
    else return undefined
  }
  return { access, varying }
}

const generated = (program: ReductionProgram): boolean =>
  program.instructions.every(
    (step) =>
      step.kind === 'constant' ||
      step.kind === 'reduce' ||
      (step.kind === 'unary' && Object.hasOwn(UNARY, step.op)) ||
      (step.kind === 'binary' && Object.hasOwn(BINARY, step.op)),
  )

/**
 * Whether the wasm backend runs `program` on these operands itself: float32 throughout, every input
 * a whole row, one repeated row, one value per row or a scalar, every step one the generated code
 * computes, and enough elements to pay for the copies.
 * @internal
 */
export const wasmRunsReduction = (
  program: ReductionProgram,
  inputs: ReadonlyArray<Tensor>,
  rowShape: Shape,
  outDtype: DType,
): boolean => wasmLayout(program, inputs, rowShape, outDtype) !== undefined

/** The kernel's layout when the generated code runs this call (see `wasmRunsReduction`). */
const wasmLayout = (
  program: ReductionProgram,
  inputs: ReadonlyArray<Tensor>,
  rowShape: Shape,
  outDtype: DType,
): Layout | undefined =>
  outDtype === 'float32' &&
  rowShape.length > 0 &&
  rowShape[rowShape.length - 1]! > 0 &&
  sizeOf(rowShape) >= MIN_ELEMENTS &&
  inputs.every((x) => x.dtype === 'float32') &&
  generated(program)
    ? layoutOf(program, inputs, rowShape)
    : undefined

/**
 * The program's text (its kernel cache key), kept per program object: a jitted graph runs the same
 * program every call, and printing it was a tenth of a small call's time.
 */
const textCache = /* @__PURE__ */ new WeakMap<ReductionProgram, string>()
const textOf = (program: ReductionProgram): string => {
  let text = textCache.get(program)
  if (text === undefined) {
    text = reductionProgramText(program)
    textCache.set(program, text)
  }
  return text
}

/** The value a reduction starts from, which the masked lane of an odd row's last pair holds. */
const IDENTITY: Readonly<Record<RowReduceOp, number>> = { sum: 0, mean: 0, max: -Infinity, min: Infinity }

/** Pushes the lane-wise `op` of two f64x2 (as the reduction accumulates). */
const lanewise = (f: Code, op: RowReduceOp): Code =>
  op === 'max' ? f.f64x2Max() : op === 'min' ? f.f64x2Min() : f.f64x2Add()

/**
 * kernel(inputs…, out, rows, n): a scalar input is its value (f64), any other a pointer to its
 * float32s; `rows` rows of `n` elements each.
 */
const kernel = (
  program: ReductionProgram,
  access: ReadonlyArray<Access>,
  varying: ReadonlyArray<boolean>,
): Code => {
  const arity = program.arity
  const f = new Code(
    [...access.map((a) => (a === 'scalar' ? ('f64' as const) : ('i32' as const))), 'i32', 'i32', 'i32'],
    ['i32'],
  )
  const context: LaneContext = { outOfRange: f.local('i32') }
  const inputs = access.map((_, k) => f.param(k))
  const out = f.param(arity)
  const rows = f.param(arity + 1)
  const n = f.param(arity + 2)
  const count = arity + program.instructions.length
  const values: Local[] = Array.from({ length: count }, () => f.local('v128'))
  const cursors = access.map((a) => (a === 'whole' || a === 'trail' ? f.local('i32') : undefined))
  const outCursor = f.local('i32')
  const row = f.local('i32')
  const rowBytes = f.local('i32')
  const pairs = f.local('i32')
  const accumulator = f.local('v128')
  const width = f.local('f64')
  f.get(n).f64ConvertI32U().set(width)
  // Scalars and constants: splatted once.
  access.forEach((a, k) => {
    if (a === 'scalar') f.get(inputs[k]!).f64x2Splat().set(values[k]!)
  })
  program.instructions.forEach((step, i) => {
    if (step.kind === 'constant') f.v128Const(f64Pair(step.value)).set(values[arity + i]!)
  })
  /** The varying values `target` needs, in program order (itself included when it varies). */
  const needs = (target: number): number[] => {
    const needed = new Set<number>()
    const visit = (value: number): void => {
      if (!varying[value] || needed.has(value)) return
      needed.add(value)
      if (value < arity) return
      const step = program.instructions[value - arity]!
      if (step.kind === 'unary') visit(step.x)
      else if (step.kind === 'binary') {
        visit(step.a)
        visit(step.b)
      }
    }
    visit(target)
    return [...needed].sort((a, b) => a - b)
  }
  /** Emits one elementwise step into its value's local (its operands are already in theirs). */
  const step = (c: Code, value: number): void => {
    const s = program.instructions[value - arity]!
    if (s.kind === 'unary') UNARY[s.op]!(c, values[s.x]!, context)
    else if (s.kind === 'binary') BINARY[s.op]!(c.get(values[s.a]!).get(values[s.b]!))
    else return
    c.set(values[value]!)
  }
  /** One pass over the row: loads and computes `target`'s varying values per pair, then `use`s them. */
  const pass = (
    c: Code,
    target: number,
    use: (c: Code, last: boolean) => void,
    odd: 'spill' | 'mask',
  ): void => {
    const order = needs(target)
    const loaded = order.filter((v) => v < arity)
    for (const k of loaded) {
      if (access[k] === 'whole') c.get(inputs[k]!).get(rowBytes).i32Add().set(cursors[k]!)
      else c.get(inputs[k]!).set(cursors[k]!)
    }
    c.get(out).get(rowBytes).i32Add().set(outCursor)
    const body = (b: Code, last: boolean): void => {
      for (const k of loaded) b.get(cursors[k]!).v128Load64Zero().f64x2PromoteLowF32x4().set(values[k]!)
      for (const v of order) if (v >= arity) step(b, v)
      use(b, last)
      for (const k of loaded) b.get(cursors[k]!).i32Const(8).i32Add().set(cursors[k]!)
      b.get(outCursor).i32Const(8).i32Add().set(outCursor)
    }
    // Whole pairs; an odd row's last pair either spills into the next row (stores, which that row
    // overwrites) or has its second lane masked (reductions).
    if (odd === 'spill') c.get(n).i32Const(1).i32Add().i32Const(1).i32ShrU().set(pairs)
    else c.get(n).i32Const(1).i32ShrU().set(pairs)
    c.block((exit) =>
      exit.loop((again) => {
        again.get(pairs).i32Eqz().brIf(1)
        body(again, false)
        again.get(pairs).i32Const(1).i32Sub().set(pairs).br(0)
      }),
    )
    if (odd === 'mask')
      c.get(n)
        .i32Const(1)
        .i32And()
        .ifElse((tail) => body(tail, true))
  }
  f.block((done) =>
    done.loop((nextRow) => {
      nextRow.get(row).get(rows).i32Eq().brIf(1)
      nextRow.get(row).get(n).i32Mul().i32Const(4).i32Mul().set(rowBytes)
      access.forEach((a, k) => {
        if (a === 'perRow')
          nextRow
            .get(inputs[k]!)
            .get(row)
            .i32Const(4)
            .i32Mul()
            .i32Add()
            .f32Load()
            .f64PromoteF32()
            .f64x2Splat()
            .set(values[k]!)
      })
      program.instructions.forEach((s, i) => {
        const value = arity + i
        if (s.kind === 'constant' || varying[value]) return
        if (s.kind !== 'reduce') {
          step(nextRow, value)
          return
        }
        if (!varying[s.x]) {
          // A value constant along the row, reduced as n copies of itself.
          if (s.op === 'sum') nextRow.get(values[s.x]!).get(width).f64x2Splat().f64x2Mul().set(values[value]!)
          else nextRow.get(values[s.x]!).set(values[value]!)
          return
        }
        const identity = IDENTITY[s.op]
        nextRow.v128Const(f64Pair(identity)).set(accumulator)
        pass(
          nextRow,
          s.x,
          (b, last) => {
            b.get(accumulator).get(values[s.x]!)
            // The last pair of an odd row: its second lane is past the row, replaced by the identity.
            if (last) b.v128Const(f64Pair(identity)).v128Const(LOW_LANE).v128Bitselect()
            lanewise(b, s.op).set(accumulator)
          },
          'mask',
        )
        nextRow.get(accumulator).f64x2ExtractLane(0).get(accumulator).f64x2ExtractLane(1)
        if (s.op === 'max') nextRow.f64Max()
        else if (s.op === 'min') nextRow.f64Min()
        else nextRow.f64Add()
        if (s.op === 'mean') nextRow.get(width).f64Div()
        nextRow.f64x2Splat().set(values[value]!)
      })
      const result = count - 1
      if (varying[result])
        pass(
          nextRow,
          result,
          (b) => b.get(outCursor).get(values[result]!).f32x4DemoteF64x2Zero().v128Store64Lane0(),
          'spill',
        )
      else
        nextRow
          .get(out)
          .get(row)
          .i32Const(4)
          .i32Mul()
          .i32Add()
          .get(values[result]!)
          .f64x2ExtractLane(0)
          .f32DemoteF64()
          .f32Store()
      nextRow.get(row).i32Const(1).i32Add().set(row).br(0)
    }),
  )
  f.get(context.outOfRange)
  return f
}

/** Lane 0 all ones, lane 1 zero: keeps the first element of a pair. */
const LOW_LANE = [...new Array<number>(8).fill(0xff), ...new Array<number>(8).fill(0)]

const ACCESS_CODE: Readonly<Record<Access, string>> = { whole: 'w', trail: 't', perRow: 'p', scalar: 's' }

/** The program's result, or undefined when a lane was outside the generated functions' range. */
const wasmReduction = (
  program: ReductionProgram,
  inputs: ReadonlyArray<Tensor>,
  rowShape: Shape,
  { access, varying }: Layout,
): Tensor | undefined => {
  const n = rowShape[rowShape.length - 1]!
  const size = sizeOf(rowShape)
  const rows = size / n
  const resultVaries = varying[varying.length - 1]!
  const key = `r${access.map((a) => ACCESS_CODE[a]).join('')}:${textOf(program)}`
  const { run } = cachedKernel(key, () => kernel(program, access, varying))
  const memory = programMemory()
  const outCount = resultVaries ? size : rows
  growTo(
    memory,
    inputs.reduce(
      (bytes, x, k) => bytes + (access[k] === 'scalar' ? 0 : slot(x.data.length)),
      slot(outCount),
    ),
  )
  const heap = new Float32Array(memory.buffer)
  const args: number[] = []
  let at = 0
  inputs.forEach((x, k) => {
    if (access[k] === 'scalar') args.push(x.data[0]!)
    else {
      heap.set(x.data, at >> 2)
      args.push(at)
      at += slot(x.data.length)
    }
  })
  if (run(...args, at, rows, n) !== 0) return undefined
  const outShape = resultVaries ? rowShape : [...rowShape.slice(0, -1), 1]
  return unsafeTensor('float32', outShape, heap.slice(at >> 2, (at >> 2) + outCount))
}

/**
 * `Backend.reductionProgram` of the wasm backend: float32 programs the generated code computes (see
 * `wasmRunsReduction`) as one generated kernel, everything else on the reference row loop.
 * @since 0.2.0
 */
export const reductionProgram = (
  program: ReductionProgram,
  inputs: ReadonlyArray<Tensor>,
  rowShape: Shape,
  outDtype: DType,
): Tensor => {
  const layout = wasmLayout(program, inputs, rowShape, outDtype)
  return (
    (layout === undefined
      ? undefined
      : orFallback(
          () => wasmReduction(program, inputs, rowShape, layout),
          () => undefined,
        )) ?? referenceReductionProgram(program, inputs, rowShape, outDtype)
  )
}

/**
 * The reduction kernel for float32 inputs of `inputShapes` (rows of `rowShape`) instantiated on the
 * GEMM module's memory, for the wasm-resident executor: `run(...operands, out, rows, n)` with each
 * operand an address (or a scalar's value, `access` 'scalar'), returning nonzero when a value was
 * out of the generated functions' range (the reference must compute the result then). Undefined
 * when the generated code does not run this program or these shapes.
 * @internal
 */
export const residentReduction = (
  program: ReductionProgram,
  inputShapes: ReadonlyArray<Shape>,
  rowShape: Shape,
):
  | {
      readonly run: (...args: number[]) => number
      readonly access: ReadonlyArray<Access>
      readonly rows: number
      readonly n: number
      readonly outCount: number
    }
  | undefined => {
  if (rowShape.length === 0 || !(rowShape[rowShape.length - 1]! > 0) || !generated(program)) return undefined
  const layout = layoutOf(
    program,
    inputShapes.map((shape) => ({ shape })),
    rowShape,
  )
  if (layout === undefined) return undefined
  const { access, varying } = layout
  const n = rowShape[rowShape.length - 1]!
  const rows = sizeOf(rowShape) / n
  const key = `resident reduction ${access.map((a) => ACCESS_CODE[a]).join('')}:${textOf(program)}`
  const run = gemmMemoryKernel(key, () => kernel(program, access, varying)) as unknown as (
    ...args: number[]
  ) => number
  return { run, access, rows, n, outCount: varying[varying.length - 1] ? rows * n : rows }
}
