// Fusion of elementwise chains: each maximal group of elementwise equations that one result
// depends on, and whose other values nothing outside the group reads, becomes one
// `elementwiseProgram` equation, run as one kernel (one pass over the data, no intermediate tensors).
import {
  isProgramBinaryOp,
  isProgramUnaryOp,
  programOutput,
  shapesEqual,
  type ArithmeticOp,
  type ElementwiseProgram,
  type ProgramInstruction,
  type UnaryOp,
} from '@backfold/tensor'
import type { AnyOp } from '../core/op'
import {
  elementwiseProgramOp,
  programBinaryOps,
  programUnaryOps,
  type ElementwiseProgramParams,
} from '../elementwise/elementwiseProgram'
import type { Equation, Graph, Var } from './graph'

/** What an equation computes, as a program step: a unary or arithmetic op of the kernels. */
type Step =
  { readonly kind: 'unary'; readonly op: UnaryOp } | { readonly kind: 'binary'; readonly op: ArithmeticOp }

// By identity with the op records: a user op that happens to be called 'exp' is not fused. Marked
// pure so that a bundle that never stages a program drops it and the elementwise ops it names.
const STEPS = /* @__PURE__ */ (() =>
  new Map<AnyOp, Step>([
    ...Object.entries(programUnaryOps).flatMap(([op, record]) =>
      isProgramUnaryOp(op) ? [[record, { kind: 'unary', op }] as const] : [],
    ),
    ...Object.entries(programBinaryOps).flatMap(([op, record]) =>
      isProgramBinaryOp(op) ? [[record, { kind: 'binary', op }] as const] : [],
    ),
  ]))()

/** The equation's step when it can join a fused group: a known op on inputs of its own float dtype. */
const stepOf = (eq: Equation): Step | undefined => {
  const step = STEPS.get(eq.op)
  if (step === undefined || eq.params !== undefined || eq.output.dtype === 'int32') return undefined
  return eq.inputs.every((v) => v.dtype === eq.output.dtype) ? step : undefined
}

/**
 * Fuses chains of elementwise equations into `elementwiseProgram` equations. A group grows from a
 * result (its root) back through the equations that produce its inputs, taking one in when it is
 * elementwise (unary ops and add, sub, mul, div, pow, maximum, minimum), has the root's shape and
 * float dtype, is not a graph output, and every equation reading it is already in the group: so
 * every value read outside a group is the root of its own group and is still computed once.
 * Scalar constants are written into the program; other values are its inputs, broadcast by the
 * kernel. Groups of one equation stay as they are. The fused equation takes the root's place, after
 * all of its inputs. Values agree with the unfused graph to float rounding (a fused chain rounds
 * once, see `elementwiseProgram`).
 * @since 0.2.0
 */
export const fuseElementwise = (graph: Graph): Graph => {
  const equations = graph.equations
  const steps = equations.map(stepOf)
  const producer = new Map<number, number>()
  const readers = new Map<number, number[]>()
  equations.forEach((eq, i) => {
    producer.set(eq.output.id, i)
    for (const v of eq.inputs) readers.set(v.id, [...(readers.get(v.id) ?? []), i])
  })
  const outputs = new Set(graph.outputs.map((v) => v.id))
  const scalars = new Map(
    graph.constants.filter((c) => c.variable.shape.length === 0).map((c) => [c.variable.id, c.value]),
  )
  const rootOf = new Map<number, number>()
  const fused = new Map<number, Equation>()
  for (let root = equations.length - 1; root >= 0; root--) {
    if (rootOf.has(root) || steps[root] === undefined) continue
    const result = equations[root]!.output
    const members = new Set([root])
    const joins = (candidate: number | undefined): candidate is number => {
      if (candidate === undefined || members.has(candidate) || rootOf.has(candidate)) return false
      if (steps[candidate] === undefined) return false
      const value = equations[candidate]!.output
      return (
        !outputs.has(value.id) &&
        value.dtype === result.dtype &&
        shapesEqual(value.shape, result.shape) &&
        (readers.get(value.id) ?? []).every((reader) => members.has(reader))
      )
    }
    // Until nothing more joins: a value read twice by the group joins once both readers are in.
    for (let grew = true; grew;) {
      grew = false
      for (const member of [...members])
        for (const v of equations[member]!.inputs) {
          const candidate = producer.get(v.id)
          if (joins(candidate)) {
            members.add(candidate)
            grew = true
          }
        }
    }
    if (members.size < 2) continue
    const ordered = [...members].sort((a, b) => a - b)
    const equation = fusedEquation(
      ordered.map((i) => [equations[i]!, steps[i]!] as const),
      scalars,
    )
    if (equation === undefined) continue
    for (const member of ordered) rootOf.set(member, root)
    fused.set(root, equation)
  }
  return {
    ...graph,
    equations: equations.flatMap((eq, i) => {
      const root = rootOf.get(i)
      if (root === undefined) return [eq]
      const equation = fused.get(i)
      return equation === undefined ? [] : [equation]
    }),
  }
}

/**
 * The `elementwiseProgram` equation computing the last of `members` (in graph order), or undefined
 * when the program's broadcast shape would not be the result's (never for a well-formed graph; the
 * group then stays unfused rather than risk a wrong shape).
 */
const fusedEquation = (
  members: ReadonlyArray<readonly [Equation, Step]>,
  scalars: ReadonlyMap<number, { readonly data: ArrayLike<number> }>,
): Equation | undefined => {
  const internal = new Set(members.map(([eq]) => eq.output.id))
  const inputs: Var[] = []
  const inputSlot = new Map<number, number>()
  const constants: number[] = []
  const constantSlot = new Map<number, number>()
  for (const [eq] of members)
    for (const v of eq.inputs) {
      if (internal.has(v.id) || inputSlot.has(v.id) || constantSlot.has(v.id)) continue
      const scalar = scalars.get(v.id)
      if (scalar === undefined) {
        inputSlot.set(v.id, inputs.length)
        inputs.push(v)
      } else {
        constantSlot.set(v.id, constants.length)
        constants.push(scalar.data[0]!)
      }
    }
  const arity = inputs.length
  const valueOf = new Map<number, number>()
  inputSlot.forEach((slot, id) => valueOf.set(id, slot))
  constantSlot.forEach((slot, id) => valueOf.set(id, arity + slot))
  const instructions: ProgramInstruction[] = constants.map((value) => ({ kind: 'constant', value }))
  for (const [eq, step] of members) {
    const operand = (k: number): number => valueOf.get(eq.inputs[k]!.id)!
    instructions.push(
      step.kind === 'unary'
        ? { kind: 'unary', op: step.op, x: operand(0) }
        : { kind: 'binary', op: step.op, a: operand(0), b: operand(1) },
    )
    valueOf.set(eq.output.id, arity + instructions.length - 1)
  }
  const program: ElementwiseProgram = { arity, instructions }
  const output = members[members.length - 1]![0].output
  const { shape, dtype } = programOutput(program, inputs)
  if (!shapesEqual(shape, output.shape) || dtype !== output.dtype) return undefined
  const params: ElementwiseProgramParams = { program }
  return { op: elementwiseProgramOp, inputs, params, output }
}
