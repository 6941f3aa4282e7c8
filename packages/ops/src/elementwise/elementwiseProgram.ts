// y = P(x₁ … xₙ), a straight-line chain of elementwise ops run as one kernel ;
// x̄ᵢ = the chain's pullback: the chain rebuilt with its ops, each step's own VJP applied in reverse
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp, type Aval, type Op } from '../core/op'
import type { OnnxBuilder } from '../staging/onnx/builder'
import { batchElementwise } from '../core/batching'
import { add, addOp } from '../binary/add'
import { subOp } from '../binary/sub'
import { mulOp } from '../binary/mul'
import { divOp } from '../binary/div'
import { powOp } from '../binary/pow'
import { maximumOp } from '../binary/maximum'
import { minimumOp } from '../binary/minimum'
import { negOp } from './neg'
import { absOp } from './abs'
import { signOp } from './sign'
import { expOp } from './exp'
import { expm1Op } from './expm1'
import { logOp } from './log'
import { log1pOp } from './log1p'
import { sqrtOp } from './sqrt'
import { rsqrtOp } from './rsqrt'
import { squareOp } from './square'
import { reciprocalOp } from './reciprocal'
import { sinOp } from './sin'
import { cosOp } from './cos'
import { tanhOp } from './tanh'
import { erfOp } from './erf'
import { sigmoidOp } from './sigmoid'
import { reluOp } from './relu'
import { softplusOp } from './softplus'
import { floorOp } from './floor'
import { ceilOp } from './ceil'
import { roundOp } from './round'
import { tanOp } from './tan'
import { asinOp } from './asin'
import { acosOp } from './acos'
import { atanOp } from './atan'
import { sinhOp } from './sinh'
import { coshOp } from './cosh'

/** Parameters of `elementwiseProgram`: the program the kernel runs. @since 0.2.0 */
export interface ElementwiseProgramParams {
  readonly program: T.ElementwiseProgram
}

/**
 * The op behind each instruction of a program, by the kernel's op name: the same records eager mode
 * applies, so the staging pass fuses exactly these and the VJP below reuses their rules.
 * @since 0.2.0
 */
export const programUnaryOps: Readonly<Record<T.UnaryOp, Op<string, [Tensor], void>>> = {
  neg: negOp,
  abs: absOp,
  sign: signOp,
  exp: expOp,
  expm1: expm1Op,
  log: logOp,
  log1p: log1pOp,
  sqrt: sqrtOp,
  rsqrt: rsqrtOp,
  square: squareOp,
  reciprocal: reciprocalOp,
  sin: sinOp,
  cos: cosOp,
  tanh: tanhOp,
  erf: erfOp,
  sigmoid: sigmoidOp,
  relu: reluOp,
  softplus: softplusOp,
  floor: floorOp,
  ceil: ceilOp,
  round: roundOp,
  tan: tanOp,
  asin: asinOp,
  acos: acosOp,
  atan: atanOp,
  sinh: sinhOp,
  cosh: coshOp,
}

/** The binary counterpart of `programUnaryOps`. @since 0.2.0 */
export const programBinaryOps: Readonly<Record<T.ArithmeticOp, Op<string, [Tensor, Tensor], void>>> = {
  add: addOp,
  sub: subOp,
  mul: mulOp,
  div: divOp,
  pow: powOp,
  maximum: maximumOp,
  minimum: minimumOp,
}

/**
 * The pullback of a program: its values recomputed with ops (so the result is differentiable again,
 * for `grad(grad(f))`), then each instruction's VJP in reverse, cotangents of shared values summed.
 */
const programVjp = (
  ct: Tensor,
  xs: ReadonlyArray<Tensor>,
  program: T.ElementwiseProgram,
  needed: ReadonlyArray<boolean>,
): Array<Tensor | undefined> => {
  const dtype = xs[0]?.dtype ?? 'float32'
  const values: Tensor[] = [...xs]
  // Whether a value depends on a differentiated input: only those carry cotangents back.
  const live: boolean[] = xs.map((_, k) => needed[k] === true)
  for (const step of program.instructions) {
    if (step.kind === 'constant') {
      values.push(T.scalar(step.value, dtype))
      live.push(false)
    } else if (step.kind === 'unary') {
      values.push(applyOp(programUnaryOps[step.op], [values[step.x]!], undefined))
      live.push(live[step.x]!)
    } else {
      values.push(applyOp(programBinaryOps[step.op], [values[step.a]!, values[step.b]!], undefined))
      live.push(live[step.a]! || live[step.b]!)
    }
  }
  const cotangents: Array<Tensor | undefined> = values.map(() => undefined)
  cotangents[values.length - 1] = ct
  const accumulate = (value: number, cotangent: Tensor | undefined): void => {
    if (cotangent === undefined || !live[value]) return
    const earlier = cotangents[value]
    cotangents[value] = earlier === undefined ? cotangent : add(earlier, cotangent)
  }
  for (let i = program.instructions.length - 1; i >= 0; i--) {
    const step = program.instructions[i]!
    const value = program.arity + i
    const cotangent = cotangents[value]
    if (cotangent === undefined || step.kind === 'constant') continue
    if (step.kind === 'unary') {
      const [dx] = programUnaryOps[step.op].vjp(cotangent, [values[step.x]!], values[value]!, undefined, [
        live[step.x]!,
      ])
      accumulate(step.x, dx)
    } else {
      const [da, db] = programBinaryOps[step.op].vjp(
        cotangent,
        [values[step.a]!, values[step.b]!],
        values[value]!,
        undefined,
        [live[step.a]!, live[step.b]!],
      )
      accumulate(step.a, da)
      accumulate(step.b, db)
    }
  }
  // A differentiated input the result does not depend on still gets its (zero) cotangent.
  return xs.map((x, k) => (needed[k] === true ? (cotangents[k] ?? T.zeros(x.shape, x.dtype)) : undefined))
}

/** The `elementwiseProgram` op. @since 0.2.0 */
export const elementwiseProgramOp = defineOp<
  'elementwiseProgram',
  ReadonlyArray<Tensor>,
  ElementwiseProgramParams
>({
  name: 'elementwiseProgram',
  forward: (xs, p) => T.elementwiseProgram(p.program, xs),
  abstract: (xs, p) => T.programOutput(p.program, xs),
  vjp: (ct, xs, _y, p, needed) => programVjp(ct, xs, p.program, needed),
  batch: batchElementwise,
  formatParams: (p) => T.programText(p.program),
  onnx: (b, xs, p, { inputs, output }) => programOnnx(b, p.program, xs, inputs, output),
})

/**
 * A program's ONNX nodes: each instruction through its op's own lowering, in the output's dtype
 * (a step rounds to it, where the wasm kernel rounds once at the end); `reduce` lowers the row
 * reductions of a reduction program. `matmulEpilogue` and `reductionProgram` use it too.
 * @internal
 */
export const programOnnx = (
  b: OnnxBuilder,
  program: T.ElementwiseProgram | T.ReductionProgram,
  xs: ReadonlyArray<string>,
  inputs: ReadonlyArray<Aval>,
  output: Aval,
  reduce?: (x: string, op: T.RowReduceOp) => string,
): string => {
  const values = xs.map((x, i) => b.cast(x, inputs[i]!.dtype, output.dtype))
  const aval = { shape: output.shape, dtype: output.dtype }
  for (const step of program.instructions) {
    if (step.kind === 'constant') values.push(b.scalar(step.value, output.dtype))
    else if (step.kind === 'reduce') {
      if (reduce === undefined) return b.unsupported('a reduction step outside a reduction program')
      values.push(reduce(values[step.x]!, step.op))
    } else if (step.kind === 'unary') {
      const rule = programUnaryOps[step.op].onnx
      if (rule === undefined) return b.unsupported(`its step ${step.op} has no ONNX lowering yet`)
      values.push(rule(b, [values[step.x]!], undefined, { inputs: [aval], output: aval }))
    } else {
      const rule = programBinaryOps[step.op].onnx
      if (rule === undefined) return b.unsupported(`its step ${step.op} has no ONNX lowering yet`)
      values.push(
        rule(b, [values[step.a]!, values[step.b]!], undefined, { inputs: [aval, aval], output: aval }),
      )
    }
  }
  return values[values.length - 1]!
}

/**
 * Runs a straight-line chain of elementwise ops (see `ElementwiseProgram` in `@backfold/tensor`) as
 * one kernel over broadcast inputs of one float dtype: one pass, no intermediate tensors. `jit`'s
 * fusion pass builds these from chains of elementwise ops; calling it by hand is for tests and
 * custom compilers. Steps compute in float64 and the result is rounded once, so a float32 chain
 * may differ from the ops applied one by one by a few ulps. Differentiable (through the chain's
 * ops) and batchable like any elementwise op.
 * @example
 * // exp(x) · y
 * elementwiseProgram(
 *   { arity: 2, instructions: [{ kind: 'unary', op: 'exp', x: 0 }, { kind: 'binary', op: 'mul', a: 2, b: 1 }] },
 *   [tensor([0, 1]), tensor(2)],
 * ) // [2, 5.4365635]
 * @throws ValueError, DTypeError or ShapeError, as `T.programOutput` describes.
 * @since 0.2.0
 */
export const elementwiseProgram = (program: T.ElementwiseProgram, xs: ReadonlyArray<Tensor>): Tensor =>
  applyOp(elementwiseProgramOp, xs, { program })
