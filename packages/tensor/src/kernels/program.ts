/**
 * Elementwise programs: a straight-line chain of elementwise ops over broadcast inputs, run as one
 * kernel (one pass over the output, no intermediate tensors). The staging pass of `@backfold/ops`
 * that fuses chains of elementwise equations builds them; they are a generic primitive, not tied to
 * any model. Every step computes in float64 with the arithmetic of the unary and binary kernels and
 * the result is rounded to the output dtype once, so a fused float32 chain can differ from the same
 * ops run one by one (which round after each op) by a few float32 ulps.
 * @since 0.2.0
 */
import {
  getBackend,
  type ArithmeticOp,
  type ElementwiseProgram,
  type ProgramInstruction,
  type UnaryOp,
} from '../backend'
import { isDType, isFloat, type DType } from '../dtype'
import { DTypeError, ValueError, fmtShape } from '../errors'
import { broadcastShapes, type Shape } from '../shape'
import { requireAllConcrete, type Tensor } from '../tensor'
import { programElement } from '../backends/reference/program'

export type { ArithmeticOp, ElementwiseProgram, ProgramInstruction } from '../backend'

const OP = 'elementwiseProgram'

// Every unary op of the backend, as a record so that a new `UnaryOp` must be listed here (or the
// record fails to compile): programs may apply all of them.
const UNARY_TABLE: { readonly [K in UnaryOp]: true } = {
  neg: true,
  abs: true,
  sign: true,
  exp: true,
  expm1: true,
  log: true,
  log1p: true,
  sqrt: true,
  rsqrt: true,
  square: true,
  reciprocal: true,
  sin: true,
  cos: true,
  tanh: true,
  erf: true,
  sigmoid: true,
  relu: true,
  softplus: true,
  floor: true,
  ceil: true,
  round: true,
  tan: true,
  asin: true,
  acos: true,
  atan: true,
  sinh: true,
  cosh: true,
}

/**
 * The unary ops an elementwise program may apply: every `UnaryOp`.
 * @since 0.2.0
 */
// Object.keys types its result as string[]; the keys of UNARY_TABLE are exactly the UnaryOps.
export const PROGRAM_UNARY_OPS = Object.keys(UNARY_TABLE) as ReadonlyArray<UnaryOp>

const UNARY: ReadonlySet<string> = new Set(PROGRAM_UNARY_OPS)

const ARITHMETIC: ReadonlySet<string> = new Set<ArithmeticOp>([
  'add',
  'sub',
  'mul',
  'div',
  'pow',
  'maximum',
  'minimum',
])

/** Whether `op` is a unary op an elementwise program can apply. @since 0.2.0 */
export const isProgramUnaryOp = (op: string): op is UnaryOp => UNARY.has(op)

/** Whether `op` is a binary op an elementwise program can apply (the arithmetic ones). @since 0.2.0 */
export const isProgramBinaryOp = (op: string): op is ArithmeticOp => ARITHMETIC.has(op)

const checkOperand = (operand: number, defined: number, step: number): void => {
  if (!Number.isInteger(operand) || operand < 0 || operand >= defined)
    throw new ValueError(
      OP,
      `instruction ${step} reads value ${String(operand)}, but only values 0 … ${defined - 1} are defined before it`,
    )
}

/**
 * Checks that `program` is well formed: a non-negative integer arity, at least one instruction,
 * known ops, and operands that name earlier values.
 * @throws ValueError naming the first bad instruction.
 * @since 0.2.0
 */
export const checkProgram = (program: ElementwiseProgram): void => {
  if (!Number.isInteger(program.arity) || program.arity < 0)
    throw new ValueError(OP, `arity must be a non-negative integer, got ${String(program.arity)}`)
  if (program.instructions.length === 0)
    throw new ValueError(OP, 'a program needs at least one instruction (its result is the last one)')
  program.instructions.forEach((step: ProgramInstruction, i) => {
    const defined = program.arity + i
    if (step.kind === 'constant') {
      if (typeof step.value !== 'number') throw new ValueError(OP, `constant ${i} is not a number`)
    } else if (step.kind === 'unary') {
      if (!isProgramUnaryOp(step.op))
        throw new ValueError(OP, `instruction ${i}: unknown unary op ${String(step.op)}`)
      checkOperand(step.x, defined, i)
    } else if (step.kind === 'binary') {
      if (!isProgramBinaryOp(step.op))
        throw new ValueError(
          OP,
          `instruction ${i}: ${String(step.op)} is not an arithmetic binary op (add, sub, mul, div, pow, maximum, minimum)`,
        )
      checkOperand(step.a, defined, i)
      checkOperand(step.b, defined, i)
    } else throw new ValueError(OP, `instruction ${i} has an unknown kind`)
  })
}

const checkedPrograms = /* @__PURE__ */ new WeakSet<ElementwiseProgram>()

/**
 * The shape and dtype `elementwiseProgram(program, inputs)` gives: the inputs' broadcast shape and
 * their common float dtype. The kernel and the op's shape rule both use it.
 * @throws ValueError for a malformed program or the wrong number of inputs; DTypeError when the
 * inputs are not all of one float dtype; ShapeError when they do not broadcast.
 * @since 0.2.0
 */
export const programOutput = (
  program: ElementwiseProgram,
  inputs: ReadonlyArray<{ readonly shape: Shape; readonly dtype: DType }>,
): { readonly shape: Shape; readonly dtype: DType } => {
  // Programs are immutable values (their readonly type; the kernels cache per program object too),
  // and a staged graph runs the same one every call: checked once.
  if (!checkedPrograms.has(program)) {
    checkProgram(program)
    checkedPrograms.add(program)
  }
  if (inputs.length !== program.arity)
    throw new ValueError(OP, `the program takes ${program.arity} inputs, got ${inputs.length}`)
  const dtype = inputs[0]?.dtype ?? 'float32'
  inputs.forEach((x, i) => {
    if (!isDType(x.dtype) || !isFloat(x.dtype) || x.dtype !== dtype)
      throw new DTypeError(
        OP,
        `input ${i} is ${String(x.dtype)}${fmtShape(x.shape)}; every input must have one float dtype ` +
          `(${dtype === 'int32' ? 'float32 or float64' : dtype}): cast with astype first`,
      )
  })
  let shape: Shape = inputs[0]?.shape ?? []
  for (const x of inputs.slice(1)) shape = broadcastShapes(OP, shape, x.shape)
  return { shape, dtype }
}

/** A constant as text that tells every double apart: `String` alone prints -0 as 0. */
const constantText = (value: number): string => (Object.is(value, -0) ? '-0' : String(value))

/**
 * The program as one line of text, e.g. `(a0 a1) exp a0; mul v2 a1; 1; add v3 v4`: a readable
 * cache key (equal programs give equal text) and what `show` prints.
 * @since 0.2.0
 */
export const programText = (program: ElementwiseProgram): string => {
  const name = (value: number): string => (value < program.arity ? `a${value}` : `v${value}`)
  const steps = program.instructions.map((step) =>
    step.kind === 'constant'
      ? constantText(step.value)
      : step.kind === 'unary'
        ? `${step.op} ${name(step.x)}`
        : `${step.op} ${name(step.a)} ${name(step.b)}`,
  )
  return `(${program.arity}) ${steps.join('; ')}`
}

/**
 * Runs an elementwise program (see `ElementwiseProgram`) over `inputs`, broadcast NumPy-style, in
 * one pass: every step in float64 with the unary and binary kernels' arithmetic, rounded to the
 * inputs' float dtype once at the end.
 * @example
 * // y = exp(x) * w + 1, one kernel
 * elementwiseProgram(
 *   { arity: 2, instructions: [
 *     { kind: 'unary', op: 'exp', x: 0 },
 *     { kind: 'binary', op: 'mul', a: 2, b: 1 },
 *     { kind: 'constant', value: 1 },
 *     { kind: 'binary', op: 'add', a: 3, b: 4 },
 *   ] },
 *   [tensor([0, 1]), tensor(2)],
 * ) // [3, 6.4365635]
 * @throws ValueError, DTypeError or ShapeError (see `programOutput`).
 * @since 0.2.0
 */
export const elementwiseProgram = (program: ElementwiseProgram, inputs: ReadonlyArray<Tensor>): Tensor => {
  requireAllConcrete(OP, 'inputs', inputs)
  const { shape, dtype } = programOutput(program, inputs)
  return getBackend().elementwiseProgram(program, inputs, shape, dtype)
}

/**
 * One element of `elementwiseProgram`, without tensors: the program on the input values `values`
 * (one per input), every step in float64 with the kernels' arithmetic, returned unrounded. Rounded
 * to the output dtype (`Math.fround` for float32), it is what `elementwiseProgram` gives for scalar
 * inputs. `@backfold/ops`'s executor runs a graph's float64 scalar programs (a learning-rate
 * schedule, Adam's bias corrections) with it, allocating nothing per call.
 * @example
 * // 1 - 0.9^t for t = 3
 * programScalar(
 *   { arity: 1, instructions: [
 *     { kind: 'constant', value: 0.9 },
 *     { kind: 'binary', op: 'pow', a: 1, b: 0 },
 *     { kind: 'constant', value: 1 },
 *     { kind: 'binary', op: 'sub', a: 3, b: 2 },
 *   ] },
 *   [3],
 * ) // 0.271 (to float64 rounding)
 * @since 0.2.0
 */
export const programScalar = (program: ElementwiseProgram, values: ArrayLike<number>): number => {
  if (values.length !== program.arity)
    throw new ValueError(OP, `the program takes ${program.arity} inputs, got ${values.length} values`)
  return programElement(program, values)
}
