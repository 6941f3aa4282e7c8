import type { ElementwiseProgram, ProgramInstruction } from '../../backend'
import type { DType } from '../../dtype'
import { programText } from '../../kernels/program'
import { shapesEqual, sizeOf, type Shape } from '../../shape'
import { unsafeTensor, type Tensor } from '../../tensor'
import { elementwiseProgram as referenceProgram } from '../reference/program'
import { Code, encodeModule, type Local } from './emitter'
import { APPROXIMATE_UNARY, EXACT_UNARY, f64Pair, type LaneContext, type LaneFunction } from './math'
import { growTo, orFallback } from './runtime'

// Elementwise programs on WebAssembly SIMD: one module generated per distinct program (and pattern
// of input access), cached. Float32 pairs widen exactly to f64x2 and the result narrows once, to
// nearest even, as a Float32Array store does. Steps that are IEEE-754 operations (add, sub, mul,
// div, sqrt, min, max, neg, abs, floor, ceil, round, ...) are correctly rounded in float64 here as in
// the reference, so a program of only those is bit-identical to it. exp, expm1, log, log1p, tanh,
// sigmoid and softplus use math.ts's float64 functions (within a few float64 ulps of Math.*): the
// float32 result is the reference's or, rarely, one float32 ulp from it; so do sin and cos up to
// |x| = 1e6 (beyond, the kernel reports it and the call runs on the reference loop). Programs with
// any other step (pow, erf) run on the reference loop.

/** Below this many elements the copies in and out cost more than the loop saves. */
export const MIN_ELEMENTS = 64
const FLOAT_BYTES = 4
/** Generated modules kept (they share one memory; each is a few hundred bytes of code). */
const CACHE_SIZE = 64

export const BINARY: Readonly<Record<string, (f: Code) => void>> = {
  add: (f) => f.f64x2Add(),
  sub: (f) => f.f64x2Sub(),
  mul: (f) => f.f64x2Mul(),
  div: (f) => f.f64x2Div(),
  maximum: (f) => f.f64x2Max(),
  minimum: (f) => f.f64x2Min(),
}

/** Every unary step the generated code computes: exactly, or with the float64 functions of math.ts. */
export const UNARY: Readonly<Record<string, LaneFunction>> = { ...EXACT_UNARY, ...APPROXIMATE_UNARY }

const generated = (step: ProgramInstruction): boolean =>
  step.kind === 'constant' ||
  (step.kind === 'unary' && Object.hasOwn(UNARY, step.op)) ||
  (step.kind === 'binary' && Object.hasOwn(BINARY, step.op))

/**
 * How the generated kernel reads one input: `whole` (one element per output element), `scalar`
 * (one element for all), or `row` (a trailing block of the output's shape, repeated: a bias [n]
 * against [m, n], or [1, h, w] against [b, c, h, w]).
 */
type Access = 'whole' | 'scalar' | 'row'

/** Each input's access, and the row length (1 when no input is a row), or undefined when an input is none of them. */
const accessOf = (
  inputs: ReadonlyArray<Tensor>,
  outShape: Shape,
): { readonly access: ReadonlyArray<Access>; readonly rowLength: number } | undefined => {
  const outSize = sizeOf(outShape)
  let rowLength: number | undefined
  const access: Access[] = []
  for (const x of inputs) {
    const size = x.data.length
    if (size === outSize) access.push('whole')
    else if (size === 1) access.push('scalar')
    else {
      // A row: without its leading 1s, the input's shape is a suffix of the output's.
      const own = x.shape.slice(x.shape.findIndex((d) => d !== 1))
      const suffix = outShape.slice(outShape.length - own.length)
      if (!shapesEqual(own, suffix) || (rowLength !== undefined && rowLength !== size)) return undefined
      rowLength = size
      access.push('row')
    }
  }
  return { access, rowLength: rowLength ?? outSize }
}

/**
 * Whether the wasm backend runs `program` on these operands itself: float32 throughout, every input
 * whole, a single element or a repeated trailing row (all rows of one length), every step one the
 * generated code computes (exactly, or with math.ts's functions), and enough elements to pay for
 * the copies.
 * @internal
 */
export const wasmRunsProgram = (
  program: ElementwiseProgram,
  inputs: ReadonlyArray<Tensor>,
  outShape: Shape,
  outDtype: DType,
): boolean =>
  outDtype === 'float32' &&
  sizeOf(outShape) >= MIN_ELEMENTS &&
  inputs.every((x) => x.dtype === 'float32') &&
  accessOf(inputs, outShape) !== undefined &&
  program.instructions.every(generated)

/**
 * kernel(inputs…, out, rows, rowLength): a scalar input is its value (f64), any other a pointer to
 * its float32s; two elements per step. The output is `rows` rows of `rowLength`; a row input is read
 * from its start again at each row. An odd row's last pair spills one element into the next row,
 * which that row then overwrites (and the last row's into padding).
 */
const kernel = (program: ElementwiseProgram, access: ReadonlyArray<Access>): Code => {
  const arity = program.arity
  const f = new Code(
    [...access.map((a) => (a === 'scalar' ? ('f64' as const) : ('i32' as const))), 'i32', 'i32', 'i32'],
    ['i32'],
  )
  const inputs = access.map((_, k) => f.param(k))
  const out = f.param(arity)
  const rows = f.param(arity + 1)
  const rowLength = f.param(arity + 2)
  const context: LaneContext = { outOfRange: f.local('i32') }
  const values: Local[] = [
    ...access.map(() => f.local('v128')),
    ...program.instructions.map(() => f.local('v128')),
  ]
  // Scalars and constants are the same at every step: splatted once.
  access.forEach((a, k) => {
    if (a === 'scalar') f.get(inputs[k]!).f64x2Splat().set(values[k]!)
  })
  program.instructions.forEach((step, i) => {
    if (step.kind === 'constant') f.v128Const(f64Pair(step.value)).set(values[arity + i]!)
  })
  // Cursors: whole inputs and the output advance through every row, row inputs restart per row.
  const advancing = [...inputs.filter((_, k) => access[k] === 'whole'), out]
  const restarting = inputs.filter((_, k) => access[k] === 'row')
  const cursors = new Map<number, Local>([...advancing, ...restarting].map((p) => [p.index, f.local('i32')]))
  const cursor = (p: Local): Local => cursors.get(p.index)!
  const pairs = f.local('i32')
  const rowBytes = f.local('i32')
  f.get(rowLength).i32Const(4).i32Mul().set(rowBytes)
  for (const p of advancing) f.get(p).set(cursor(p))
  f.block((done) =>
    done.loop((nextRow) => {
      nextRow.get(rows).i32Eqz().brIf(1)
      for (const p of restarting) nextRow.get(p).set(cursor(p))
      // Each row starts where the previous one ended (not where its last pair stopped).
      for (const p of advancing) nextRow.get(cursor(p)).set(p)
      nextRow.get(rowLength).i32Const(1).i32Add().i32Const(1).i32ShrU().set(pairs)
      nextRow.block((exit) =>
        exit.loop((again) => {
          again.get(pairs).i32Eqz().brIf(1)
          access.forEach((a, k) => {
            if (a !== 'scalar')
              again.get(cursor(inputs[k]!)).v128Load64Zero().f64x2PromoteLowF32x4().set(values[k]!)
          })
          program.instructions.forEach((step, i) => {
            if (step.kind === 'unary') UNARY[step.op]!(again, values[step.x]!, context)
            else if (step.kind === 'binary') BINARY[step.op]!(again.get(values[step.a]!).get(values[step.b]!))
            else return
            again.set(values[arity + i]!)
          })
          again
            .get(cursor(out))
            .get(values[values.length - 1]!)
            .f32x4DemoteF64x2Zero()
            .v128Store64Lane0()
          for (const p of [...advancing, ...restarting])
            again.get(cursor(p)).i32Const(8).i32Add().set(cursor(p))
          again.get(pairs).i32Const(1).i32Sub().set(pairs).br(0)
        }),
      )
      for (const p of advancing) nextRow.get(p).get(rowBytes).i32Add().set(cursor(p))
      nextRow.get(rows).i32Const(1).i32Sub().set(rows).br(0)
    }),
  )
  f.get(context.outOfRange)
  return f
}

export interface ProgramExports {
  /** Runs the kernel; nonzero when some lane was out of a lane function's range (see `LaneContext`). */
  readonly run: (...args: number[]) => number
}

// One memory for every program module (imported as env.memory), so the cache holds code, not data.
let sharedMemory: WebAssembly.Memory | undefined
export const programMemory = (): WebAssembly.Memory =>
  (sharedMemory ??= new WebAssembly.Memory({ initial: 1 }))

const cache = new Map<string, ProgramExports>()

const ACCESS_CODE: Readonly<Record<Access, string>> = { whole: 'a', scalar: 's', row: 'r' }

/**
 * The instance of the module whose one function `run` `build` generates, cached under `key` (a
 * text that tells programs and access patterns apart); all share one memory.
 * @internal
 */
export const cachedKernel = (key: string, build: () => Code): ProgramExports => {
  const hit = cache.get(key)
  if (hit !== undefined) {
    // Most recently used last, so the first entry is the one to evict.
    cache.delete(key)
    cache.set(key, hit)
    return hit
  }
  const bytes = encodeModule([{ name: 'run', code: build() }], 1, true)
  const imports = { env: { memory: programMemory() } }
  // why: the module above exports exactly `run` (and the memory it imports)
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports)
    .exports as unknown as ProgramExports
  if (cache.size >= CACHE_SIZE) {
    const oldest = cache.keys().next()
    if (oldest.done !== true) cache.delete(oldest.value)
  }
  cache.set(key, exports)
  return exports
}

const instanceFor = (program: ElementwiseProgram, access: ReadonlyArray<Access>): ProgramExports =>
  cachedKernel(`${access.map((a) => ACCESS_CODE[a]).join('')}:${programText(program)}`, () =>
    kernel(program, access),
  )

/** Bytes for `n` float32s, 16-byte aligned, with room for the pair read or written past an odd end. */
export const slot = (n: number): number => Math.ceil((n * FLOAT_BYTES) / 16) * 16 + 16

/** The program's result, or undefined when a lane was outside the generated functions' range. */
const wasmProgram = (
  program: ElementwiseProgram,
  inputs: ReadonlyArray<Tensor>,
  outShape: Shape,
): Tensor | undefined => {
  const n = sizeOf(outShape)
  // wasmRunsProgram checked that every input has an access.
  const { access, rowLength } = accessOf(inputs, outShape)!
  const { run } = instanceFor(program, access)
  const memory = programMemory()
  growTo(
    memory,
    inputs.reduce((bytes, x, k) => bytes + (access[k] === 'scalar' ? 0 : slot(x.data.length)), slot(n)),
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
  if (run(...args, at, n / rowLength, rowLength) !== 0) return undefined
  return unsafeTensor('float32', outShape, heap.slice(at >> 2, (at >> 2) + n))
}

/**
 * `Backend.elementwiseProgram` of the wasm backend: float32 programs whose steps the generated code
 * computes (see `wasmRunsProgram`) on generated SIMD code, everything else on the reference loop.
 * @since 0.2.0
 */
export const elementwiseProgram = (
  program: ElementwiseProgram,
  inputs: ReadonlyArray<Tensor>,
  outShape: Shape,
  outDtype: DType,
): Tensor =>
  (wasmRunsProgram(program, inputs, outShape, outDtype)
    ? orFallback(
        () => wasmProgram(program, inputs, outShape),
        () => undefined,
      )
    : undefined) ?? referenceProgram(program, inputs, outShape, outDtype)
