// Matmul epilogue fusion: a matmul whose product only an elementwise equation reads (a bias add, an
// activation, a residual add, or a whole fused elementwise program) becomes one `matmulEpilogue`
// equation, so the backend applies the chain to the product before it leaves its kernel.
import * as T from '@backfold/tensor'
import { elementwiseProgramOp, type ElementwiseProgramParams } from '../elementwise/elementwiseProgram'
import { programStepOf } from './fuse'
import { matmulOp, type MatmulParams } from '../linalg/matmul'
import { matmulEpilogueOp, type MatmulEpilogueParams } from '../linalg/matmulEpilogue'
import type { Equation, Graph, Var } from './graph'

/** The reader as a program over its own inputs, or undefined when it is not elementwise. */
const readerProgram = (eq: Equation): T.ElementwiseProgram | undefined => {
  if (eq.op === elementwiseProgramOp) return (eq.params as ElementwiseProgramParams).program
  if (eq.params !== undefined || !eq.inputs.every((v) => v.dtype === eq.output.dtype)) return undefined
  const step = programStepOf(eq.op)
  const unary = step?.kind === 'unary' ? step.op : undefined
  if (unary !== undefined && eq.inputs.length === 1)
    return { arity: 1, instructions: [{ kind: 'unary', op: unary, x: 0 }] }
  const binary = step?.kind === 'binary' ? step.op : undefined
  if (binary !== undefined && eq.inputs.length === 2)
    return { arity: 2, instructions: [{ kind: 'binary', op: binary, a: 0, b: 1 }] }
  return undefined
}

/**
 * `program` with the product `product` as input 0 and the reader's other inputs after it (each
 * once), its value numbers renumbered to match; returns the new program and those other inputs.
 */
const rebase = (
  program: T.ElementwiseProgram,
  inputs: ReadonlyArray<Var>,
  product: Var,
): { readonly program: T.ElementwiseProgram; readonly extras: Var[] } => {
  const extras: Var[] = []
  const slot = new Map<number, number>([[product.id, 0]])
  for (const v of inputs)
    if (!slot.has(v.id)) {
      slot.set(v.id, 1 + extras.length)
      extras.push(v)
    }
  const arity = 1 + extras.length
  const value = (old: number): number =>
    old < program.arity ? slot.get(inputs[old]!.id)! : arity + (old - program.arity)
  const instructions = program.instructions.map((step): T.ProgramInstruction => {
    if (step.kind === 'constant') return step
    if (step.kind === 'unary') return { ...step, x: value(step.x) }
    return { ...step, a: value(step.a), b: value(step.b) }
  })
  return { program: { arity, instructions }, extras }
}

/**
 * Fuses each `matmul` whose product is read by exactly one equation, an elementwise one (a fused
 * `elementwiseProgram`, or a single unary or arithmetic op such as the bias `add`), into a
 * `matmulEpilogue` equation that takes the reader's place: the product is the program's input 0 and
 * the reader's other inputs (bias, residual, scalar constants) follow. Only when the product is not a
 * graph output and the reader keeps the product's shape and float dtype (an epilogue never
 * broadcasts the product up). Every transpose variant fuses, so the backward pass's products
 * (`C̄ Bᵀ`, `Aᵀ C̄`) do too. Values agree with the unfused graph to float rounding.
 * @example
 * const g = fuseEpilogues(makeGraph((x: Tensor, w: Tensor, b: Tensor) => relu(add(matmul(x, w), b)))(x, w, b))
 * // one equation: matmulEpilogue x w b { a·b → (2) add a0 a1; relu v2 }
 * @since 0.2.0
 */
export const fuseEpilogues = (graph: Graph): Graph => {
  const equations = graph.equations
  const readers = new Map<number, Set<number>>()
  equations.forEach((eq, i) => {
    for (const v of eq.inputs) readers.set(v.id, (readers.get(v.id) ?? new Set()).add(i))
  })
  const outputs = new Set(graph.outputs.map((v) => v.id))
  const removed = new Set<number>()
  const replaced = new Map<number, Equation>()
  equations.forEach((eq, i) => {
    if (eq.op !== matmulOp || outputs.has(eq.output.id)) return
    const read = readers.get(eq.output.id)
    if (read === undefined || read.size !== 1) return
    const j = [...read][0]!
    if (replaced.has(j)) return
    const reader = equations[j]!
    const program = readerProgram(reader)
    if (program === undefined || reader.output.dtype !== eq.output.dtype) return
    const rebased = rebase(program, reader.inputs, eq.output)
    const matmulParams = eq.params as MatmulParams
    const params: MatmulEpilogueParams = {
      transposeA: matmulParams.transposeA,
      transposeB: matmulParams.transposeB,
      program: rebased.program,
    }
    const [a, b] = eq.inputs as [Var, Var]
    try {
      const out = T.matmulEpilogueOutput(a, b, params, params.program, rebased.extras)
      if (!T.shapesEqual(out.shape, reader.output.shape) || out.dtype !== reader.output.dtype) return
    } catch {
      // Not an epilogue this op can run (an int32 product, a reader that broadcasts the product up).
      return
    }
    removed.add(i)
    replaced.set(j, {
      op: matmulEpilogueOp,
      inputs: [a, b, ...rebased.extras],
      params,
      output: reader.output,
    })
  })
  if (removed.size === 0) return graph
  return {
    ...graph,
    equations: equations.flatMap((eq, i) => (removed.has(i) ? [] : [replaced.get(i) ?? eq])),
  }
}
