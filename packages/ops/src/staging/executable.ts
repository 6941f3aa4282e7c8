// The wasm-resident executable: a graph compiled for the wasm backend keeps every float32 value in
// one region of wasm memory laid out by the buffer plan (plan.ts). Matmuls, fused matmul epilogues
// and elementwise steps run on region addresses (`wasmResident` of @backfold/tensor); only the
// graph's inputs are written in and its outputs read out. A step with no resident kernel (a
// reduction, a gather, a transcendental program...) runs its op's forward on tensors read out of the
// region and writes its result back when a resident step reads it. Sums over leading axes (bias
// gradients) and ReLU's backward pass (reluGrad) run resident too. Scalar int32/float64 fallbacks
// (an optimizer's step count and schedule) run on plain numbers (see `scalarStepOf`).
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { TraceError } from '../core/trace'
import { elementwiseProgramOp, type ElementwiseProgramParams } from '../elementwise/elementwiseProgram'
import { programStepOf } from './fuse'
import { matmulOp, type MatmulParams } from '../linalg/matmul'
import { matmulEpilogueOp, type MatmulEpilogueParams } from '../linalg/matmulEpilogue'
import { reshapeOp } from '../shape/reshape'
import { sumOp } from '../reduce/sum'
import { reluGradOp } from '../elementwise/reluGrad'
import { linearOp, type LinearParams } from '../linalg/linear'
import { reductionProgramOp, type ReductionProgramParams } from '../reduce/reductionProgram'
import { logSoftmaxOp } from '../activations/logSoftmax'
import { softmaxCrossEntropyOp, type SoftmaxCrossEntropyParams } from '../losses/softmaxCrossEntropy'
import { meanOp } from '../reduce/mean'
import { astypeOp, type AstypeParams } from '../elementwise/astype'
import { addOp } from '../binary/add'
import { subOp } from '../binary/sub'
import type { SoftmaxParams } from '../activations/softmax'
import type { ReduceParams } from '../internal/reduceParams'
import { forwardRecorded, type Equation, type Graph, type Var } from './graph'
import { planBuffers, type BufferPlan } from './plan'

/** What one run of an executable did. @since 0.2.0 */
export interface ExecutableStats {
  /** Equations run by a kernel on region addresses. */
  readonly residentSteps: number
  /** Reshapes that only renamed a buffer. */
  readonly aliasSteps: number
  /** Equations run by their op's forward on tensors (no resident kernel for them). */
  readonly fallbackSteps: number
  /**
   * Of the fallbacks, those run on plain numbers instead of tensors: scalar int32 sums and
   * differences, scalar float64 programs and casts to a float dtype (an optimizer's step count,
   * schedule and bias corrections), with the op's values. @since 0.2.0
   */
  readonly scalarSteps: number
  /** Bytes of the region (all resident values, buffers reused once dead). */
  readonly regionBytes: number
  /** Bytes the resident values would take with a buffer each. */
  readonly unsharedBytes: number
  /** Equations that wrote their result over a dead input. */
  readonly inPlaceSteps: number
  /** Bytes written into the region per run (inputs, constants, fallback results read by kernels). */
  readonly bytesIn: number
  /**
   * Bytes read out of the region per run: inputs of fallback steps, and results of earlier runs
   * copied out because this run writes over them while they are still in use (not donated). Results
   * are not read out by the run itself: they stay in the region until read (see `RegionTensor`).
   */
  readonly bytesOut: number
}

/** A graph compiled for wasm-resident execution. @since 0.2.0 */
export interface Executable {
  /** Runs the graph on concrete tensors (one per graph input); undefined when the region does not fit in wasm memory. */
  readonly run: (inputs: ReadonlyArray<Tensor>) => Tensor[] | undefined
  /**
   * What the executable does per run: its resident, alias and fallback step counts (fixed at
   * compile time), the region's size, and the bytes the latest `run` copied in and out (zero before
   * the first run).
   */
  readonly stats: () => ExecutableStats
  /** The buffer plan the region is laid out by: each resident value's offset, the region's size. */
  readonly plan: BufferPlan
}

/** A prepared step on the region at `base`; false when it left the result to the op's forward. */
type Step = (base: number) => boolean | void

type Kernel =
  | { readonly kind: 'matmul'; readonly params: MatmulParams }
  | {
      readonly kind: 'epilogue'
      readonly params: MatmulEpilogueParams
      readonly extras: ReadonlyArray<T.OperandKind>
    }
  | {
      readonly kind: 'program'
      readonly program: T.ElementwiseProgram
      readonly operands: ReadonlyArray<T.OperandKind>
    }
  | { readonly kind: 'sumRows'; readonly rows: number; readonly cols: number }
  | { readonly kind: 'reluGrad' }
  | { readonly kind: 'reduction'; readonly params: ReductionProgramParams; readonly rowShape: T.Shape }
  | { readonly kind: 'alias' }
  | {
      readonly kind: 'rows'
      readonly program: T.ReductionProgram
      /** The inputs as the kernel reads them: row-major data viewed as `[rows, n]`. */
      readonly shapes: ReadonlyArray<T.Shape>
      readonly rowShape: T.Shape
      /** Results to check for NaN: a NaN result is computed again by the op (see `crossEntropyKernel`). */
      readonly guard: number
    }

/** The equation as an elementwise program over its inputs, when it is one. */
const asProgram = (eq: Equation): T.ElementwiseProgram | undefined => {
  if (eq.op === elementwiseProgramOp) return (eq.params as ElementwiseProgramParams).program
  if (eq.params !== undefined) return undefined
  const step = programStepOf(eq.op)
  const unary = step?.kind === 'unary' ? step.op : undefined
  if (unary !== undefined && eq.inputs.length === 1)
    return { arity: 1, instructions: [{ kind: 'unary', op: unary, x: 0 }] }
  const binary = step?.kind === 'binary' ? step.op : undefined
  if (binary !== undefined && eq.inputs.length === 2)
    return { arity: 2, instructions: [{ kind: 'binary', op: binary, a: 0, b: 1 }] }
  return undefined
}

const kinds = (inputs: ReadonlyArray<Var>, out: Var): T.OperandKind[] | undefined => {
  const found = inputs.map((v) => T.wasmResident.operandKind(v.shape, out.shape))
  return found.every((k) => k !== undefined) ? (found as T.OperandKind[]) : undefined
}

/**
 * The dense op (`linear`: the product x·wᵀ, the bias added, the ReLU) as the resident GEMM with the
 * bias and activation as its epilogue program: the arithmetic of its forward pass (a float32 add,
 * then max with 0), in the product's output pass.
 */
const linearKernel = (eq: Equation): Kernel | undefined => {
  const { activation } = eq.params as LinearParams
  const product = { transposeA: false, transposeB: true }
  const biased = eq.inputs.length === 3
  const instructions: T.ProgramInstruction[] = []
  if (biased) instructions.push({ kind: 'binary', op: 'add', a: 0, b: 1 })
  if (activation === 'relu') instructions.push({ kind: 'unary', op: 'relu', x: biased ? 2 : 0 })
  if (instructions.length === 0) return { kind: 'matmul', params: product }
  const program: T.ElementwiseProgram = { arity: biased ? 2 : 1, instructions }
  const extras = kinds(eq.inputs.slice(2), eq.output)
  return extras !== undefined && T.wasmResident.exact(program)
    ? { kind: 'epilogue', params: { ...product, program }, extras }
    : undefined
}

/**
 * The log-sum-exp of the row at register 0, max + log Σ exp(x − max), as the instructions of a
 * program with `arity` inputs: it ends in register `arity + 5`; the row's max is at `arity`.
 */
const logSumExp = (arity: number): T.ReductionProgram['instructions'] => [
  { kind: 'reduce', op: 'max', x: 0 }, // arity
  { kind: 'binary', op: 'sub', a: 0, b: arity }, // arity + 1
  { kind: 'unary', op: 'exp', x: arity + 1 }, // arity + 2
  { kind: 'reduce', op: 'sum', x: arity + 2 }, // arity + 3
  { kind: 'unary', op: 'log', x: arity + 3 }, // arity + 4
  { kind: 'binary', op: 'add', a: arity, b: arity + 4 }, // arity + 5
]

/** log-softmax of a row: x − (max + log Σ exp(x − max)). */
const LOG_SOFTMAX_ROWS: T.ReductionProgram = {
  arity: 1,
  instructions: [...logSumExp(1), { kind: 'binary', op: 'sub', a: 0, b: 6 }],
}

/**
 * A reduction program (softmax, log-softmax, cross-entropy and norm rows, as the fusion pass builds
 * them) on region addresses, when a generated kernel takes it.
 */
const reductionKernel = (params: ReductionProgramParams, inputs: ReadonlyArray<Var>): Kernel | undefined => {
  const { rowShape } = T.reductionProgramOutput(params.program, inputs, params.shape)
  const probe = T.wasmResident.prepareReduction(
    params.program,
    inputs.map((v) => v.shape),
    inputs.map(() => 0),
    rowShape,
    0,
  )
  return probe === undefined ? undefined : { kind: 'reduction', params, rowShape }
}

/**
 * A reduction program over inputs viewed as `[rows, n]` (row-major data, any shape of that size),
 * one result per row, when a generated kernel takes it.
 */
const rowsKernel = (
  program: T.ReductionProgram,
  rows: number,
  n: number,
  arity: number,
  guard: number,
): Kernel | undefined => {
  const rowShape = [rows, n]
  const shapes = new Array<T.Shape>(arity).fill(rowShape)
  const probe = T.wasmResident.prepareReduction(
    program,
    shapes,
    shapes.map(() => 0),
    rowShape,
    0,
  )
  return probe === undefined ? undefined : { kind: 'rows', program, shapes, rowShape, guard }
}

/** A row's mean. */
const MEAN_ROWS: T.ReductionProgram = { arity: 1, instructions: [{ kind: 'reduce', op: 'mean', x: 0 }] }

/** The mean over trailing axes (a loss averaged over the batch) as one row reduction per leading index. */
const meanKernel = (eq: Equation): Kernel | undefined => {
  const { axes } = eq.params as ReduceParams
  const shape = eq.inputs[0]!.shape
  const first = shape.length - axes.length
  if (axes.length === 0 || !axes.every((axis, j) => axis === first + j)) return undefined
  return rowsKernel(MEAN_ROWS, T.sizeOf(shape.slice(0, first)), T.sizeOf(shape.slice(first)), 1, 0)
}

/** A row's cross-entropy: Σ labels · (max + log Σ exp(x − max) − x), inputs logits and labels. */
const CROSS_ENTROPY_ROWS: T.ReductionProgram = {
  arity: 2,
  instructions: [
    ...logSumExp(2), // ends in 7
    { kind: 'binary', op: 'sub', a: 7, b: 0 }, // 8
    { kind: 'binary', op: 'mul', a: 1, b: 8 }, // 9
    { kind: 'reduce', op: 'sum', x: 9 }, // 10
  ],
}

/**
 * softmaxCrossEntropy along the last axis as one row reduction (float64 throughout, rounded once;
 * eager rounds log-sum-exp, the difference and the product to float32 first: within an ulp or so).
 * The op gives a class with label 0 no share even where its logit is −∞ (0 · ∞ would be NaN), which
 * the program does not: a NaN result is computed again by the op (it is NaN there too otherwise).
 */
const crossEntropyKernel = (eq: Equation): Kernel | undefined => {
  const { axis } = eq.params as SoftmaxCrossEntropyParams
  const [logits, labels] = eq.inputs as [Var, Var]
  if (axis !== logits.shape.length - 1 || !T.shapesEqual(logits.shape, labels.shape)) return undefined
  const n = logits.shape[axis]!
  const rows = T.sizeOf(logits.shape) / n
  return rowsKernel(CROSS_ENTROPY_ROWS, rows, n, 2, rows)
}

/** The resident kernel of an equation, or undefined when it must run as a fallback. */
const kernelOf = (eq: Equation): Kernel | undefined => {
  const float32 = eq.output.dtype === 'float32' && eq.inputs.every((v) => v.dtype === 'float32')
  if (!float32) return undefined
  if (eq.op === matmulOp) return { kind: 'matmul', params: eq.params as MatmulParams }
  if (eq.op === reshapeOp) return { kind: 'alias' }
  if (eq.op === reluGradOp) {
    const [ct, y] = eq.inputs as [Var, Var]
    return T.shapesEqual(ct.shape, y.shape) && T.shapesEqual(ct.shape, eq.output.shape)
      ? { kind: 'reluGrad' }
      : undefined
  }
  if (eq.op === sumOp) {
    // A sum over the leading axes (a bias gradient): column sums of a rows × cols view.
    const { axes } = eq.params as ReduceParams
    const shape = eq.inputs[0]!.shape
    if (axes.length === 0 || !axes.every((axis, j) => axis === j)) return undefined
    return {
      kind: 'sumRows',
      rows: T.sizeOf(shape.slice(0, axes.length)),
      cols: T.sizeOf(shape.slice(axes.length)),
    }
  }
  if (eq.op === linearOp) return linearKernel(eq)
  if (eq.op === logSoftmaxOp) {
    // Along the last axis: x − (m + log Σ exp(x − m)), m the row's max, as one reduction kernel
    // (eager rounds log-sum-exp to float32 before the subtraction: within an ulp).
    const { axis } = eq.params as SoftmaxParams
    const x = eq.inputs[0]!
    if (axis !== x.shape.length - 1) return undefined
    return reductionKernel({ program: LOG_SOFTMAX_ROWS, shape: x.shape }, eq.inputs)
  }
  if (eq.op === reductionProgramOp) return reductionKernel(eq.params as ReductionProgramParams, eq.inputs)
  if (eq.op === meanOp) return meanKernel(eq)
  if (eq.op === softmaxCrossEntropyOp) return crossEntropyKernel(eq)
  if (eq.op === matmulEpilogueOp) {
    const params = eq.params as MatmulEpilogueParams
    const extras = kinds(eq.inputs.slice(2), eq.output)
    return extras !== undefined && T.wasmResident.exact(params.program)
      ? { kind: 'epilogue', params, extras }
      : undefined
  }
  const program = asProgram(eq)
  if (program === undefined || !T.wasmResident.exact(program)) return undefined
  const operands = kinds(eq.inputs, eq.output)
  return operands === undefined ? undefined : { kind: 'program', program, operands }
}

/**
 * A fallback equation on scalars that runs on numbers, not tensors: an optimizer's int32 step count
 * (`add`, `sub`), its float64 schedule and bias corrections (float64 elementwise programs) and their
 * casts (`astype` to a float dtype). Each computes what its op's forward gives, rounded to the
 * output dtype (the program with `programScalar`, the reference kernels' arithmetic; int32 sums
 * wrap as the kernels' Int32Array stores do), so running it here changes no value.
 */
const scalarStepOf = (eq: Equation): ((values: Float64Array) => number) | undefined => {
  const out = eq.output
  if (out.shape.length !== 0 || !eq.inputs.every((v) => v.shape.length === 0)) return undefined
  if (eq.op === elementwiseProgramOp) {
    const { program } = eq.params as ElementwiseProgramParams
    return out.dtype === 'float64' ? (values) => T.programScalar(program, values) : undefined
  }
  if (eq.op === astypeOp) {
    const { dtype } = eq.params as AstypeParams
    if (dtype === 'float64') return (values) => values[0]!
    if (dtype === 'float32') return (values) => Math.fround(values[0]!)
    return undefined
  }
  if ((eq.op !== addOp && eq.op !== subOp) || !eq.inputs.every((v) => v.dtype === out.dtype)) return undefined
  const add = eq.op === addOp
  if (out.dtype === 'int32') return add ? (v) => (v[0]! + v[1]!) | 0 : (v) => (v[0]! - v[1]!) | 0
  if (out.dtype === 'float64') return add ? (v) => v[0]! + v[1]! : (v) => v[0]! - v[1]!
  return undefined
}

/** Numbers keys 0, 1, 2, ... in the order first seen: the same key always gets the same number. */
const indexer = <K>(): ((key: K) => number) => {
  const numbers = new Map<K, number>()
  return (key) => {
    let n = numbers.get(key)
    if (n === undefined) numbers.set(key, (n = numbers.size))
    return n
  }
}

const sameShape = (a: Var, b: Var): boolean =>
  a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, j) => d === b.shape[j])

const sameType = (x: Tensor, v: Var): boolean =>
  x.dtype === v.dtype && x.shape.length === v.shape.length && x.shape.every((d, j) => d === v.shape[j])

/**
 * Compiles `graph` for wasm-resident execution on the wasm backend, or returns undefined when no
 * equation has a resident kernel (a float64 graph, say), so interpreting it is as good. See the
 * file comment for what runs where; values are those of `evalGraph` on the wasm backend (the same
 * kernels, on the same float32 operands).
 * @example
 * const f = (v: Tensor) => relu(matmul(v, w))
 * const exe = compileResident(optimize(makeGraph(f)(x)))
 * exe?.run([x])
 * @since 0.2.0
 */
export const compileResident = (graph: Graph): Executable | undefined => {
  const steps = graph.equations.map(kernelOf)
  if (!steps.some((k) => k !== undefined && k.kind !== 'alias')) return undefined
  // Resident values: what kernels read and write; reshapes join their input's buffer when either
  // side is resident (to a fixpoint, for chains of reshapes).
  const resident = new Set<number>()
  graph.equations.forEach((eq, i) => {
    const k = steps[i]
    if (k === undefined || k.kind === 'alias') return
    resident.add(eq.output.id)
    for (const v of eq.inputs) resident.add(v.id)
  })
  for (let changed = true; changed;) {
    changed = false
    graph.equations.forEach((eq, i) => {
      if (steps[i]?.kind !== 'alias') return
      const [x] = eq.inputs as [Var]
      if (resident.has(x.id) !== resident.has(eq.output.id)) {
        resident.add(x.id)
        resident.add(eq.output.id)
        changed = true
      }
    })
  }
  const indexOf = new Map(graph.equations.map((eq, i) => [eq, i]))
  const sources = new Set([...graph.inputs, ...graph.constants.map((c) => c.variable)].map((v) => v.id))
  const outputIds = new Set(graph.outputs.map((v) => v.id))
  const plan = planBuffers(graph, {
    resident: (v) => resident.has(v.id),
    bytes: (v) => T.residentBufferBytes(T.sizeOf(v.shape)),
    alias: (eq) => (eq.op === reshapeOp && eq.output.dtype === 'float32' ? eq.inputs[0] : undefined),
    inPlace: (eq) => {
      const k = steps[indexOf.get(eq)!]
      if (k?.kind === 'reluGrad') return eq.inputs
      if (k === undefined || k.kind !== 'program') return []
      return eq.inputs.filter((_, j) => k.operands[j] === 'whole')
    },
    // Inputs, constants and computed outputs keep their own buffers: after a run the region holds
    // exactly them, so a later run skips writing what is already there (see `layouts` below).
    pinned: (v) => sources.has(v.id) || outputIds.has(v.id),
  })
  let bytesIn = 0
  let bytesOut = 0
  const counts = { resident: 0, alias: 0, fallback: 0 }
  steps.forEach((k) => {
    if (k === undefined) counts.fallback++
    else if (k.kind === 'alias') counts.alias++
    else counts.resident++
  })

  // Scalar fallbacks run on numbers (see `scalarStepOf`): each result lives in a slot of `scalars`
  // and becomes a tensor only where something else reads it as one (a graph output, another
  // fallback); a kernel reads it from the region, written there as one float32.
  interface ScalarStep {
    readonly compute: (values: Float64Array) => number
    readonly args: Float64Array
    /** Per input, the slot of a scalar step's result, or -1 (read its tensor). */
    readonly from: ReadonlyArray<number>
    readonly slot: number
    readonly tensor: boolean
  }
  const scalarSlots = new Map<number, number>()
  const readAsTensor = new Set(graph.outputs.map((v) => v.id))
  const scalarSteps = graph.equations.map((eq, i): ScalarStep | undefined => {
    const compute = steps[i] === undefined ? scalarStepOf(eq) : undefined
    if (compute === undefined) {
      for (const v of eq.inputs) readAsTensor.add(v.id)
      return undefined
    }
    const from = eq.inputs.map((v) => scalarSlots.get(v.id) ?? -1)
    const slot = scalarSlots.size
    scalarSlots.set(eq.output.id, slot)
    return { compute, args: new Float64Array(eq.inputs.length), from, slot, tensor: false }
  })
  scalarSteps.forEach((step, i) => {
    const out = graph.equations[i]!.output
    if (step !== undefined) scalarSteps[i] = { ...step, tensor: readAsTensor.has(out.id) }
  })
  const scalars = new Float64Array(scalarSlots.size)
  const scratch = new Float32Array(1)

  // Each step prepared once per layout: kernels fetched, shapes planned, offsets fixed; a run only
  // adds the region's address.
  const empty = (v: Var): boolean => T.sizeOf(v.shape) === 0
  const prepare = (offset: (v: Var) => number): Array<Step | undefined> =>
    graph.equations.map((eq, i): Step | undefined => {
      const k = steps[i]
      const out = eq.output
      if (k === undefined || k.kind === 'alias' || empty(out)) return undefined
      const [a, b] = eq.inputs as [Var, Var]
      switch (k.kind) {
        case 'matmul':
          return T.wasmResident.prepareMatmul(a.shape, b.shape, k.params, offset(a), offset(b), offset(out))
        case 'sumRows':
          return T.wasmResident.prepareSumRows(offset(a), offset(out), k.rows, k.cols)
        case 'reluGrad':
          return T.wasmResident.prepareReluGrad(offset(a), offset(b), offset(out), T.sizeOf(out.shape))
        case 'reduction':
          return T.wasmResident.prepareReduction(
            k.params.program,
            eq.inputs.map((v) => v.shape),
            eq.inputs.map(offset),
            k.rowShape,
            offset(out),
          )
        case 'rows': {
          const step = T.wasmResident.prepareReduction(
            k.program,
            k.shapes,
            eq.inputs.map(offset),
            k.rowShape,
            offset(out),
          )!
          if (k.guard === 0) return step
          const at = offset(out)
          return (base) =>
            step(base) && !T.wasmResident.read(base + at, k.guard).some((value) => Number.isNaN(value))
        }
        case 'epilogue':
          return T.wasmResident.prepareMatmulEpilogue(
            a.shape,
            b.shape,
            k.params,
            k.params.program,
            eq.inputs.slice(2).map((v, j) => ({ kind: k.extras[j]!, offset: offset(v) })),
            offset(a),
            offset(b),
            offset(out),
          )
        case 'program': {
          const cols = out.shape.length === 0 ? 1 : out.shape[out.shape.length - 1]!
          return T.wasmResident.prepareProgram(
            k.program,
            eq.inputs.map((v, j) => ({ kind: k.operands[j]!, offset: offset(v) })),
            offset(out),
            T.sizeOf(out.shape) / cols,
            cols,
          )
        }
      }
    })

  // Layouts: the plan's, and once a run is seen to take outputs of the run before as inputs (a
  // training step's parameters), the plan with each such input's buffer exchanged with that
  // output's (both pinned, the same size). Runs alternate between the two, so a value fed back
  // is already where the next run reads it and is not written again.
  // Every value a run touches has a dense slot (inputs, constants, equation outputs): the run's
  // environment is an array indexed by slot, and each layout fixes every resident slot's offset
  // (-1: not resident, or empty) once, so a run looks nothing up by variable id.
  const slotOf = indexer<number>()
  const vars: Var[] = []
  const slot = (v: Var): number => {
    const k = slotOf(v.id)
    vars[k] = v
    return k
  }
  const inputSlots = graph.inputs.map(slot)
  const constantSlots = graph.constants.map((c) => slot(c.variable))
  const equationInputs = graph.equations.map((eq) => eq.inputs.map(slot))
  const equationOutputs = graph.equations.map((eq) => slot(eq.output))
  const outputSlots = graph.outputs.map(slot)
  const inRegion = vars.map((v) => resident.has(v.id) && !empty(v))
  const sizes = vars.map((v) => T.sizeOf(v.shape))
  /** Inputs (then constants) whose pinned buffer holds them after a run. */
  const inputPinned = graph.inputs.map((v) => plan.pinned.has(v.id) && resident.has(v.id))
  const constantPinned = graph.constants.map(
    (c) => plan.pinned.has(c.variable.id) && resident.has(c.variable.id),
  )
  const bufferOf = indexer<number>()
  interface Layout {
    /** Per slot, the value's byte offset in the region, or -1 when it has none. */
    readonly at: Int32Array
    /** Per slot, the index of its buffer (a distinct offset) in `held`, or -1 when it has none. */
    readonly buffer: Int32Array
    readonly actions: ReadonlyArray<Step | undefined>
  }
  const layoutOf = (swap: ReadonlyMap<number, number>): Layout => {
    const offset = (v: Var): number => {
      const at = plan.offsets.get(v.id)!
      return swap.get(at) ?? at
    }
    const at = Int32Array.from(vars, (v) => (resident.has(v.id) && plan.offsets.has(v.id) ? offset(v) : -1))
    const buffer = at.map((offset) => (offset < 0 ? -1 : bufferOf(offset)))
    return { at, buffer, actions: prepare(offset) }
  }
  const layouts: Layout[] = [layoutOf(new Map())]
  // What the region held after the latest run (when still intact): byte offset → the tensor whose
  // values are there (inputs and constants in their pinned buffers, outputs in theirs).
  // Indexed by buffer (see Layout.buffer): the layouts permute the same offsets, so one index serves both.
  const held: Array<Tensor | undefined> = []
  const heldAt = (buffer: number): Tensor | undefined => (buffer < 0 ? undefined : held[buffer])
  let lastOutputs: ReadonlyArray<Tensor> = []
  const owner = {}
  const pinnedOutputs = new Set(
    graph.outputs.filter((v) => resident.has(v.id) && !sources.has(v.id) && plan.pinned.has(v.id)),
  )
  const outputPinned = graph.outputs.map((v) => pinnedOutputs.has(v))
  /** The second layout, from inputs that are outputs of the run before (undefined: none are). */
  const exchangeLayout = (inputs: ReadonlyArray<Tensor>): Layout | undefined => {
    const swap = new Map<number, number>()
    const taken = new Set<Var>()
    graph.inputs.forEach((v, i) => {
      if (!plan.pinned.has(v.id) || !resident.has(v.id) || empty(v)) return
      const at = plan.offsets.get(v.id)!
      if (swap.has(at)) return
      const j = graph.outputs.findIndex(
        (out, j) =>
          lastOutputs[j] === inputs[i] && pinnedOutputs.has(out) && !taken.has(out) && sameShape(out, v),
      )
      if (j < 0) return
      const out = graph.outputs[j]!
      const to = plan.offsets.get(out.id)!
      if (swap.has(to)) return
      taken.add(out)
      swap.set(at, to)
      swap.set(to, at)
    })
    return swap.size === 0 ? undefined : layoutOf(swap)
  }
  let learned = false
  // Results handed out as RegionTensors whose values may still be only in the region. Before their
  // bytes are written over (by a later run, or when another claimer takes the region) they are
  // copied out, unless donated (see `donateTensor`): then nothing is copied at all.
  let occupants: T.RegionTensor[] = []
  const evict = (): void => {
    for (const r of occupants) r.evacuate()
    occupants = []
    held.fill(undefined)
  }

  const env: Array<Tensor | undefined> = new Array<Tensor | undefined>(vars.length).fill(undefined)
  const run = (inputs: ReadonlyArray<Tensor>): Tensor[] | undefined => {
    if (inputs.length !== graph.inputs.length)
      throw new TraceError(
        'executable',
        `the graph takes ${graph.inputs.length} inputs, got ${inputs.length}`,
      )
    for (let i = 0; i < inputs.length; i++) {
      const x = inputs[i]!
      const v = graph.inputs[i]!
      if (!sameType(x, v))
        throw new TraceError(
          'executable',
          `input ${i} is ${x.dtype}${T.fmtShape(x.shape)} but the graph was staged for ${v.dtype}${T.fmtShape(v.shape)}`,
        )
    }
    const claimed = T.wasmResident.claim(plan.bytes, owner, evict)
    if (claimed === undefined) {
      evict()
      return undefined
    }
    const { base } = claimed
    if (!claimed.intact) evict()
    else if (!learned && lastOutputs.length > 0) {
      learned = true
      const second = exchangeLayout(inputs)
      if (second !== undefined) layouts.push(second)
    }
    // The layout with the least to write: values already in their buffers stay.
    const toWrite = (layout: Layout): number => {
      let bytes = 0
      for (let i = 0; i < inputs.length; i++) {
        const k = inputSlots[i]!
        if (heldAt(layout.buffer[k]!) !== inputs[i]) bytes += sizes[k]!
      }
      return bytes
    }
    // (In a loop that feeds results back, one layout has nothing to write: the other is not counted.)
    const first = layouts.length > 1 ? toWrite(layouts[0]!) : 0
    const layout = first > 0 && toWrite(layouts[1]!) < first ? layouts[1]! : layouts[0]!
    const { at, buffer, actions } = layout
    bytesIn = 0
    bytesOut = 0
    // Every earlier result this run may write over is copied out first; only inputs of this run
    // that are already where it reads them (pinned inputs are never written) stay in the region.
    const kept: T.RegionTensor[] = []
    if (occupants.length > 0) {
      const stay = new Set<Tensor>()
      for (let i = 0; i < inputs.length; i++) {
        const x = inputs[i]!
        const k = inputSlots[i]!
        if (x instanceof T.RegionTensor && heldAt(buffer[k]!) === x && x.at === base + at[k]!) stay.add(x)
      }
      for (const r of occupants) {
        if (stay.has(r)) kept.push(r)
        else bytesOut += r.evacuate()
      }
      occupants = []
    }
    env.fill(undefined)
    const put = (k: number, x: Tensor): void => {
      env[k] = x
      if (inRegion[k]) {
        T.wasmResident.write(base + at[k]!, x.data)
        bytesIn += 4 * x.data.length
      }
    }
    const place = (k: number, x: Tensor): void => {
      if (heldAt(buffer[k]!) === x) env[k] = x
      else put(k, x)
    }
    for (let i = 0; i < inputs.length; i++) place(inputSlots[i]!, inputs[i]!)
    for (let i = 0; i < constantSlots.length; i++) place(constantSlots[i]!, graph.constants[i]!.value)
    const tensorOf = (k: number): Tensor => {
      const known = env[k]
      if (known !== undefined) return known
      // A resident value read as a tensor: one copy out, kept for the rest of the run.
      const size = sizes[k]!
      const data = size === 0 ? new Float32Array(0) : T.wasmResident.read(base + at[k]!, size)
      const x = T.unsafeTensor('float32', vars[k]!.shape, data)
      bytesOut += 4 * size
      env[k] = x
      return x
    }
    const forward = (i: number): Tensor => {
      const eq = graph.equations[i]!
      return forwardRecorded(eq.op, equationInputs[i]!.map(tensorOf), eq.params)
    }
    const runScalar = (step: ScalarStep, i: number): void => {
      const { args, from } = step
      const ins = equationInputs[i]!
      for (let j = 0; j < args.length; j++) {
        const from_j = from[j]!
        args[j] = from_j >= 0 ? scalars[from_j]! : tensorOf(ins[j]!).data[0]!
      }
      const value = step.compute(args)
      scalars[step.slot] = value
      const k = equationOutputs[i]!
      if (at[k]! >= 0) {
        scratch[0] = value
        T.wasmResident.write(base + at[k]!, scratch)
        bytesIn += 4
      }
      if (step.tensor) {
        const out = vars[k]!
        const data = T.allocate(out.dtype, 1)
        data[0] = value
        env[k] = T.unsafeTensor(out.dtype, [], data)
      }
    }
    for (let i = 0; i < actions.length; i++) {
      const action = actions[i]
      // A step that returns false (a reduction with values out of its kernel's range) left its
      // result to the op itself, as a fallback.
      if (action !== undefined) {
        if (action(base) === false) put(equationOutputs[i]!, forward(i))
      } else if (scalarSteps[i] !== undefined) runScalar(scalarSteps[i]!, i)
      else if (steps[i] === undefined) put(equationOutputs[i]!, forward(i))
      // An alias or an empty result outside the region: the op itself (a reshape is free).
      else if (!resident.has(vars[equationOutputs[i]!]!.id)) env[equationOutputs[i]!] = forward(i)
    }
    // Results stay in the region: a RegionTensor copies its values out only when read.
    const resultOf = (k: number): Tensor => {
      const known = env[k]
      if (known !== undefined) return known
      if (!inRegion[k]) return tensorOf(k)
      const r = T.wasmResident.regionTensor(vars[k]!.shape, base + at[k]!, sizes[k]!)
      kept.push(r)
      env[k] = r
      return r
    }
    const outputs = outputSlots.map(resultOf)
    occupants = kept
    // Pinned buffers now hold the inputs, constants and outputs (see PlanRules.pinned).
    held.fill(undefined)
    for (let i = 0; i < inputs.length; i++) if (inputPinned[i]) held[buffer[inputSlots[i]!]!] = inputs[i]!
    for (let i = 0; i < constantSlots.length; i++)
      if (constantPinned[i]) held[buffer[constantSlots[i]!]!] = graph.constants[i]!.value
    for (let j = 0; j < outputSlots.length; j++)
      if (outputPinned[j]) held[buffer[outputSlots[j]!]!] = outputs[j]!
    // Nothing of this run stays reachable through the environment.
    env.fill(undefined)
    lastOutputs = outputs
    return outputs
  }

  return {
    run,
    plan,
    stats: () => ({
      residentSteps: counts.resident,
      aliasSteps: counts.alias,
      fallbackSteps: counts.fallback,
      scalarSteps: scalarSlots.size,
      regionBytes: plan.bytes,
      unsharedBytes: plan.unsharedBytes,
      inPlaceSteps: plan.inPlace.size,
      bytesIn,
      bytesOut,
    }),
  }
}
