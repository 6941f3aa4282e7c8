import type { ArithmeticOp, ElementwiseProgram, UnaryOp } from '../../backend'
import { allocate, type DType, type TypedArray } from '../../dtype'
import { sizeOf, stridesOf, type Shape } from '../../shape'
import { unsafeTensor, type Tensor } from '../../tensor'
import { erfScalar } from './elementwise'

// An elementwise program runs block by block: each value of the program is a float64 register of
// BLOCK elements, and each instruction is one tight loop over its registers (the op's `switch` runs
// once per block, never per element). Every formula is the one the reference `unary` and `binary`
// loops use (test/program.test.ts checks them bit for bit in float64); only the final store rounds.

const BLOCK = 1024

/** `dst = op(src)` over `n` elements, with the formulas of the reference `unary`. */
export const unaryBlock = (op: UnaryOp, src: Float64Array, dst: Float64Array, n: number): void => {
  switch (op) {
    case 'neg':
      for (let i = 0; i < n; i++) dst[i] = -src[i]!
      return
    case 'abs':
      for (let i = 0; i < n; i++) dst[i] = Math.abs(src[i]!)
      return
    case 'sign':
      for (let i = 0; i < n; i++) dst[i] = Math.sign(src[i]!)
      return
    case 'exp':
      for (let i = 0; i < n; i++) dst[i] = Math.exp(src[i]!)
      return
    case 'expm1':
      for (let i = 0; i < n; i++) dst[i] = Math.expm1(src[i]!)
      return
    case 'log':
      for (let i = 0; i < n; i++) dst[i] = Math.log(src[i]!)
      return
    case 'log1p':
      for (let i = 0; i < n; i++) dst[i] = Math.log1p(src[i]!)
      return
    case 'sqrt':
      for (let i = 0; i < n; i++) dst[i] = Math.sqrt(src[i]!)
      return
    case 'rsqrt':
      for (let i = 0; i < n; i++) dst[i] = 1 / Math.sqrt(src[i]!)
      return
    case 'square':
      for (let i = 0; i < n; i++) {
        const v = src[i]!
        dst[i] = v * v
      }
      return
    case 'reciprocal':
      for (let i = 0; i < n; i++) dst[i] = 1 / src[i]!
      return
    case 'sin':
      for (let i = 0; i < n; i++) dst[i] = Math.sin(src[i]!)
      return
    case 'cos':
      for (let i = 0; i < n; i++) dst[i] = Math.cos(src[i]!)
      return
    case 'tanh':
      for (let i = 0; i < n; i++) dst[i] = Math.tanh(src[i]!)
      return
    case 'erf':
      for (let i = 0; i < n; i++) dst[i] = erfScalar(src[i]!)
      return
    case 'sigmoid':
      for (let i = 0; i < n; i++) {
        const v = src[i]!
        const z = Math.exp(-Math.abs(v))
        dst[i] = v >= 0 ? 1 / (1 + z) : z / (1 + z)
      }
      return
    case 'relu':
      for (let i = 0; i < n; i++) dst[i] = Math.max(src[i]!, 0)
      return
    case 'softplus':
      for (let i = 0; i < n; i++) {
        const v = src[i]!
        dst[i] = Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)))
      }
      return
    case 'floor':
      for (let i = 0; i < n; i++) dst[i] = Math.floor(src[i]!)
      return
    case 'ceil':
      for (let i = 0; i < n; i++) dst[i] = Math.ceil(src[i]!)
      return
    case 'round':
      for (let i = 0; i < n; i++) {
        const v = src[i]!
        const r = Math.round(v)
        dst[i] = r - v === 0.5 && r % 2 !== 0 ? r - 1 : r
      }
      return
    case 'tan':
      for (let i = 0; i < n; i++) dst[i] = Math.tan(src[i]!)
      return
    case 'asin':
      for (let i = 0; i < n; i++) dst[i] = Math.asin(src[i]!)
      return
    case 'acos':
      for (let i = 0; i < n; i++) dst[i] = Math.acos(src[i]!)
      return
    case 'atan':
      for (let i = 0; i < n; i++) dst[i] = Math.atan(src[i]!)
      return
    case 'sinh':
      for (let i = 0; i < n; i++) dst[i] = Math.sinh(src[i]!)
      return
    case 'cosh':
      for (let i = 0; i < n; i++) dst[i] = Math.cosh(src[i]!)
      return
  }
}

/** `dst = a ∘ b` over `n` elements, with the formulas of the reference `binary` (float operands). */
export const binaryBlock = (
  op: ArithmeticOp,
  a: Float64Array,
  b: Float64Array,
  dst: Float64Array,
  n: number,
): void => {
  switch (op) {
    case 'add':
      for (let i = 0; i < n; i++) dst[i] = a[i]! + b[i]!
      return
    case 'sub':
      for (let i = 0; i < n; i++) dst[i] = a[i]! - b[i]!
      return
    case 'mul':
      for (let i = 0; i < n; i++) dst[i] = a[i]! * b[i]!
      return
    case 'div':
      for (let i = 0; i < n; i++) dst[i] = a[i]! / b[i]!
      return
    case 'pow':
      for (let i = 0; i < n; i++) {
        const base = a[i]!
        const exponent = b[i]!
        let p = Math.pow(base, exponent)
        // IEEE 754 / C pow: pow(1, y) = 1 and pow(-1, ±Inf) = 1, where JS gives NaN.
        if (p !== p && (base === 1 || (base === -1 && Math.abs(exponent) === Infinity))) p = 1
        dst[i] = p
      }
      return
    case 'maximum':
      for (let i = 0; i < n; i++) dst[i] = Math.max(a[i]!, b[i]!)
      return
    case 'minimum':
      for (let i = 0; i < n; i++) dst[i] = Math.min(a[i]!, b[i]!)
      return
  }
}

/** How one input is read: whole (in output order), as one repeated element, or through broadcast strides. */
export type Reader =
  | { readonly kind: 'full'; readonly data: TypedArray }
  | { readonly kind: 'scalar' }
  | { readonly kind: 'strided'; readonly data: TypedArray; readonly strides: ReadonlyArray<number> }

export const readerOf = (x: Tensor, outShape: Shape, outSize: number): Reader => {
  const size = sizeOf(x.shape)
  if (size === outSize) return { kind: 'full', data: x.data }
  if (size === 1) return { kind: 'scalar' }
  // Right-aligned strides, 0 along every axis the input broadcasts over.
  const own = stridesOf(x.shape)
  const lead = outShape.length - x.shape.length
  const strides = outShape.map((_, i) => (i < lead || x.shape[i - lead] === 1 ? 0 : own[i - lead]!))
  return { kind: 'strided', data: x.data, strides }
}

/** Fills `dst[0 … n)` with the input's elements at output positions `start … start + n`. */
export const readStrided = (
  data: TypedArray,
  strides: ReadonlyArray<number>,
  outShape: Shape,
  start: number,
  dst: Float64Array,
  n: number,
): void => {
  const rank = outShape.length
  const index = new Array<number>(rank)
  let rest = start
  let source = 0
  for (let d = rank - 1; d >= 0; d--) {
    const size = outShape[d]!
    index[d] = rest % size
    rest = Math.floor(rest / size)
    source += index[d]! * strides[d]!
  }
  for (let i = 0; i < n; i++) {
    dst[i] = data[source]!
    for (let d = rank - 1; d >= 0; d--) {
      const next = index[d]! + 1
      if (next < outShape[d]!) {
        index[d] = next
        source += strides[d]!
        break
      }
      index[d] = 0
      source -= strides[d]! * (outShape[d]! - 1)
    }
  }
}

// Copies in and out of the float64 registers, one function per array type so that each loop sees a
// single typed-array kind (V8 then keeps its element accesses monomorphic).
const load32 = (src: Float32Array, start: number, dst: Float64Array, n: number): void => {
  for (let i = 0; i < n; i++) dst[i] = src[start + i]!
}
const load64 = (src: Float64Array, start: number, dst: Float64Array, n: number): void => {
  for (let i = 0; i < n; i++) dst[i] = src[start + i]!
}
const loadAny = (src: TypedArray, start: number, dst: Float64Array, n: number): void => {
  for (let i = 0; i < n; i++) dst[i] = src[start + i]!
}
export const load = (src: TypedArray, start: number, dst: Float64Array, n: number): void => {
  if (src instanceof Float32Array) load32(src, start, dst, n)
  else if (src instanceof Float64Array) load64(src, start, dst, n)
  else loadAny(src, start, dst, n)
}
const store32 = (src: Float64Array, dst: Float32Array, start: number, n: number): void => {
  for (let i = 0; i < n; i++) dst[start + i] = src[i]!
}
const store64 = (src: Float64Array, dst: Float64Array, start: number, n: number): void => {
  for (let i = 0; i < n; i++) dst[start + i] = src[i]!
}
const storeAny = (src: Float64Array, dst: TypedArray, start: number, n: number): void => {
  for (let i = 0; i < n; i++) dst[start + i] = src[i]!
}
export const store = (src: Float64Array, dst: TypedArray, start: number, n: number): void => {
  if (dst instanceof Float32Array) store32(src, dst, start, n)
  else if (dst instanceof Float64Array) store64(src, dst, start, n)
  else storeAny(src, dst, start, n)
}

/**
 * The program's registers (one block of float64 values per input and instruction), kept per
 * program object and reused by later calls with blocks no longer: a jitted graph evaluates the same
 * program every call, and allocating a register per instruction was most of a small call's time
 * (a 180-step program on 4 elements: 180 typed arrays per call). Every register is filled before
 * it is read (inputs loaded or filled, constants filled, instructions written) on every call.
 */
const registerCache = /* @__PURE__ */ new WeakMap<ElementwiseProgram, Float64Array[]>()
const registersFor = (program: ElementwiseProgram, length: number): Float64Array[] => {
  const known = registerCache.get(program)
  if (known !== undefined && known[0]!.length >= length) return known
  const made = Array.from(
    { length: program.arity + program.instructions.length },
    () => new Float64Array(length),
  )
  registerCache.set(program, made)
  return made
}

/**
 * The program on one element: `values` are its inputs, every step in float64 with the same formulas
 * and registers as `elementwiseProgram`, unrounded (the caller rounds to the output dtype).
 */
export const programElement = (program: ElementwiseProgram, values: ArrayLike<number>): number => {
  const arity = program.arity
  const registers = registersFor(program, 1)
  for (let k = 0; k < arity; k++) registers[k]![0] = values[k]!
  const steps = program.instructions
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!
    const dst = registers[arity + i]!
    if (step.kind === 'constant') dst[0] = step.value
    else if (step.kind === 'unary') unaryBlock(step.op, registers[step.x]!, dst, 1)
    else binaryBlock(step.op, registers[step.a]!, registers[step.b]!, dst, 1)
  }
  return registers[registers.length - 1]![0]!
}

/**
 * Evaluates `program` over the broadcast inputs, BLOCK output elements at a time, in float64;
 * the only rounding to `outDtype` is the store of the result.
 * @since 0.2.0
 */
export const elementwiseProgram = (
  program: ElementwiseProgram,
  inputs: ReadonlyArray<Tensor>,
  outShape: Shape,
  outDtype: DType,
): Tensor => {
  const outSize = sizeOf(outShape)
  const out = allocate(outDtype, outSize)
  const result = unsafeTensor(outDtype, outShape, out)
  if (outSize === 0) return result
  const arity = program.arity
  const registers = registersFor(program, Math.min(BLOCK, outSize))
  const readers = inputs.map((x) => readerOf(x, outShape, outSize))
  // Scalar inputs and constants are the same in every block: filled once.
  readers.forEach((reader, k) => {
    if (reader.kind === 'scalar') registers[k]!.fill(inputs[k]!.data[0]!)
  })
  program.instructions.forEach((step, i) => {
    if (step.kind === 'constant') registers[arity + i]!.fill(step.value)
  })
  const last = registers[registers.length - 1]!
  for (let start = 0; start < outSize; start += BLOCK) {
    const n = Math.min(BLOCK, outSize - start)
    for (let k = 0; k < arity; k++) {
      const reader = readers[k]!
      if (reader.kind === 'full') load(reader.data, start, registers[k]!, n)
      else if (reader.kind === 'strided')
        readStrided(reader.data, reader.strides, outShape, start, registers[k]!, n)
    }
    for (let i = 0; i < program.instructions.length; i++) {
      const step = program.instructions[i]!
      const dst = registers[arity + i]!
      if (step.kind === 'unary') unaryBlock(step.op, registers[step.x]!, dst, n)
      else if (step.kind === 'binary') binaryBlock(step.op, registers[step.a]!, registers[step.b]!, dst, n)
    }
    store(last, out, start, n)
  }
  return result
}
