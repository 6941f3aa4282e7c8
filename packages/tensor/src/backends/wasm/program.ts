import type { ElementwiseProgram, ProgramInstruction } from '../../backend'
import type { DType } from '../../dtype'
import { programText } from '../../kernels/program'
import { sizeOf, type Shape } from '../../shape'
import { unsafeTensor, type Tensor } from '../../tensor'
import { elementwiseProgram as referenceProgram } from '../reference/program'
import { Code, encodeModule, type Local } from './emitter'
import { growTo, orFallback } from './runtime'

// Elementwise programs on WebAssembly SIMD: one module generated per distinct program (and pattern
// of scalar inputs), cached. Like the fused kernels (fused.ts) they are bit-identical to the
// reference: float32 pairs widen exactly to f64x2, every step is an IEEE-754 operation that is
// correctly rounded in float64 in both (add, sub, mul, div, sqrt, min, max, neg, abs), and the
// result narrows once, to nearest even, as a Float32Array store does. Programs with any other step
// (exp, tanh, pow, ...: JavaScript's Math functions, which wasm does not have) run on the reference.

/** Below this many elements the copies in and out cost more than the loop saves. */
const MIN_ELEMENTS = 64
const FLOAT_BYTES = 4
/** Generated modules kept (they share one memory; each is a few hundred bytes of code). */
const CACHE_SIZE = 64

/** Pushes `f(x)` of the local `x` (f64x2), for the unary steps wasm computes exactly as the reference. */
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

/** The 16 bytes of an f64x2 with `value` in both lanes (little-endian, as wasm memory). */
const f64Pair = (value: number): number[] =>
  Array.from(new Uint8Array(new Float64Array([value, value]).buffer))

const exact = (step: ProgramInstruction): boolean =>
  step.kind === 'constant' ||
  (step.kind === 'unary' && Object.hasOwn(UNARY, step.op)) ||
  (step.kind === 'binary' && Object.hasOwn(BINARY, step.op))

/**
 * Whether the wasm backend runs `program` on these operands itself: float32 throughout, every input
 * whole or a single element, every step one wasm computes exactly as the reference, and enough
 * elements to pay for the copies.
 * @internal
 */
export const wasmRunsProgram = (
  program: ElementwiseProgram,
  inputs: ReadonlyArray<Tensor>,
  outShape: Shape,
  outDtype: DType,
): boolean => {
  const outSize = sizeOf(outShape)
  return (
    outDtype === 'float32' &&
    outSize >= MIN_ELEMENTS &&
    inputs.every((x) => x.dtype === 'float32' && (x.data.length === outSize || x.data.length === 1)) &&
    program.instructions.every(exact)
  )
}

/**
 * kernel(inputs…, out, pairs): a whole input is a pointer to its float32s, a scalar one its value
 * (f64); two elements per step.
 */
const kernel = (program: ElementwiseProgram, scalar: ReadonlyArray<boolean>): Code => {
  const arity = program.arity
  const f = new Code([...scalar.map((s) => (s ? ('f64' as const) : ('i32' as const))), 'i32', 'i32'], [])
  const inputs = scalar.map((_, k) => f.param(k))
  const out = f.param(arity)
  const pairs = f.param(arity + 1)
  const values: Local[] = [
    ...scalar.map(() => f.local('v128')),
    ...program.instructions.map(() => f.local('v128')),
  ]
  // Scalars and constants are the same at every step: splatted once.
  scalar.forEach((s, k) => {
    if (s) f.get(inputs[k]!).f64x2Splat().set(values[k]!)
  })
  program.instructions.forEach((step, i) => {
    if (step.kind === 'constant') f.v128Const(f64Pair(step.value)).set(values[arity + i]!)
  })
  const pointers = [...inputs.filter((_, k) => !scalar[k]), out]
  f.block((exit) =>
    exit.loop((again) => {
      again.get(pairs).i32Eqz().brIf(1)
      scalar.forEach((s, k) => {
        if (!s) again.get(inputs[k]!).v128Load64Zero().f64x2PromoteLowF32x4().set(values[k]!)
      })
      program.instructions.forEach((step, i) => {
        if (step.kind === 'unary') UNARY[step.op]!(again, values[step.x]!)
        else if (step.kind === 'binary') BINARY[step.op]!(again.get(values[step.a]!).get(values[step.b]!))
        else return
        again.set(values[arity + i]!)
      })
      again
        .get(out)
        .get(values[values.length - 1]!)
        .f32x4DemoteF64x2Zero()
        .v128Store64Lane0()
      for (const p of pointers) again.get(p).i32Const(8).i32Add().set(p)
      again.get(pairs).i32Const(1).i32Sub().set(pairs).br(0)
    }),
  )
  return f
}

interface ProgramExports {
  readonly run: (...args: number[]) => void
}

// One memory for every program module (imported as env.memory), so the cache holds code, not data.
let sharedMemory: WebAssembly.Memory | undefined
const programMemory = (): WebAssembly.Memory => (sharedMemory ??= new WebAssembly.Memory({ initial: 1 }))

const cache = new Map<string, ProgramExports>()

const instanceFor = (program: ElementwiseProgram, scalar: ReadonlyArray<boolean>): ProgramExports => {
  const key = `${scalar.map((s) => (s ? 's' : 'a')).join('')}:${programText(program)}`
  const hit = cache.get(key)
  if (hit !== undefined) {
    // Most recently used last, so the first entry is the one to evict.
    cache.delete(key)
    cache.set(key, hit)
    return hit
  }
  const bytes = encodeModule([{ name: 'run', code: kernel(program, scalar) }], 1, true)
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

const wasmProgram = (program: ElementwiseProgram, inputs: ReadonlyArray<Tensor>, outShape: Shape): Tensor => {
  const n = sizeOf(outShape)
  const scalar = inputs.map((x) => x.data.length === 1 && n !== 1)
  const { run } = instanceFor(program, scalar)
  const memory = programMemory()
  // 16-byte aligned arrays, each with room for the pair read past an odd end.
  const stride = Math.ceil((n * FLOAT_BYTES) / 16) * 16 + 16
  const whole = inputs.filter((_, k) => !scalar[k])
  growTo(memory, (whole.length + 1) * stride)
  const heap = new Float32Array(memory.buffer)
  const args: number[] = []
  let at = 0
  inputs.forEach((x, k) => {
    if (scalar[k]) args.push(x.data[0]!)
    else {
      heap.set(x.data, at >> 2)
      args.push(at)
      at += stride
    }
  })
  run(...args, at, Math.ceil(n / 2))
  return unsafeTensor('float32', outShape, heap.slice(at >> 2, (at >> 2) + n))
}

/**
 * `Backend.elementwiseProgram` of the wasm backend: float32 programs of exact steps (see
 * `wasmRunsProgram`) on generated SIMD code, everything else on the reference loop.
 * @since 0.2.0
 */
export const elementwiseProgram = (
  program: ElementwiseProgram,
  inputs: ReadonlyArray<Tensor>,
  outShape: Shape,
  outDtype: DType,
): Tensor =>
  wasmRunsProgram(program, inputs, outShape, outDtype)
    ? orFallback(
        () => wasmProgram(program, inputs, outShape),
        () => referenceProgram(program, inputs, outShape, outDtype),
      )
    : referenceProgram(program, inputs, outShape, outDtype)
