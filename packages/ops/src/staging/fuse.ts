// Fusion of elementwise chains: each maximal group of elementwise equations that one result
// depends on, and whose other values nothing outside the group reads, becomes one
// `elementwiseProgram` equation, run as one kernel (one pass over the data, no intermediate tensors).
import {
  isProgramBinaryOp,
  isProgramUnaryOp,
  isRowReduceOp,
  programOutput,
  reductionProgramOutput,
  shapesEqual,
  sizeOf,
  type ArithmeticOp,
  type DType,
  type ElementwiseProgram,
  type ProgramInstruction,
  type ReductionInstruction,
  type ReductionProgram,
  type RowReduceOp,
  type Shape,
  type UnaryOp,
} from '@backfold/tensor'
import type { AnyOp } from '../core/op'
import type { ReduceParams } from '../internal/reduceParams'
import { programReduceOps, reductionProgramOp, type ReductionProgramParams } from '../reduce/reductionProgram'
import { reshapeOp, type ReshapeParams } from '../shape/reshape'
import { broadcastToOp } from '../shape/broadcastTo'
import { softmaxOp, type SoftmaxParams } from '../activations/softmax'
import { maxOp } from '../reduce/max'
import { sumOp } from '../reduce/sum'
import { subOp } from '../binary/sub'
import { divOp } from '../binary/div'
import { expOp } from '../elementwise/exp'
import {
  elementwiseProgramOp,
  programBinaryOps,
  programUnaryOps,
  type ElementwiseProgramParams,
} from '../elementwise/elementwiseProgram'
import type { Equation, Graph, Var } from './graph'

/** What an equation computes, as a program step: a unary or arithmetic op of the kernels. @since 0.2.0 */
export type Step =
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

/**
 * The program step a built-in op record computes (by identity), or undefined: the one table the
 * fusion, epilogue and executor passes share.
 * @example
 * import { expOp, programStepOf } from '@backfold/ops'
 * programStepOf(expOp) // { kind: 'unary', op: 'exp' }
 * @since 0.2.0
 */
export const programStepOf = (op: AnyOp): Step | undefined => STEPS.get(op)

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
 * float dtype, is not a graph output, and every equation reading it is already in the group (or
 * recomputes it in its own): so every value read outside a group is the root of its own group and
 * is still computed once. A cheap step (one whole operand, the others scalar constants; neg, abs,
 * square) that some reader outside the group needs joins as a copy: the group recomputes it from
 * its operand instead of reading it, and the original equation stays unless every reader ends up
 * recomputing it.
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
  // A cheap step (one whole operand, the others scalar constants: x·c, x + c, -x, x², ...) whose
  // value is also read outside a group is recomputed inside it instead of read from memory, and
  // `recomputedBy` remembers which readers no longer need the stored value (GELU's ½x and x/√2,
  // read by its forward chain and by its backward program: both then fuse).
  const recomputedBy = new Map<number, Set<number>>()
  const cheap = (i: number): boolean => {
    const step = steps[i]
    if (step === undefined || (step.kind === 'unary' && !CHEAP_UNARY.has(step.op))) return false
    return equations[i]!.inputs.filter((v) => !scalars.has(v.id)).length === 1
  }
  const rootOf = new Map<number, number>()
  const fused = new Map<number, Equation>()
  for (let root = equations.length - 1; root >= 0; root--) {
    if (rootOf.has(root) || steps[root] === undefined) continue
    const result = equations[root]!.output
    const members = new Set([root])
    const copies = new Set<number>()
    // 'member' when every reader is in the group (or recomputes it), 'copy' when only a cheap
    // step's recomputation can join, undefined when nothing can.
    const joins = (candidate: number | undefined): 'member' | 'copy' | undefined => {
      if (candidate === undefined || members.has(candidate) || rootOf.has(candidate)) return undefined
      if (steps[candidate] === undefined) return undefined
      const value = equations[candidate]!.output
      if (outputs.has(value.id) || value.dtype !== result.dtype || !shapesEqual(value.shape, result.shape))
        return undefined
      const elsewhere = (readers.get(value.id) ?? []).filter(
        // A copied reader's original equation stays in the graph and still reads the value.
        (reader) =>
          !(members.has(reader) && !copies.has(reader)) && recomputedBy.get(value.id)?.has(reader) !== true,
      )
      return elsewhere.length === 0 ? 'member' : cheap(candidate) ? 'copy' : undefined
    }
    // Until nothing more joins: a value read twice by the group joins once both readers are in.
    for (let grew = true; grew;) {
      grew = false
      for (const member of [...members])
        for (const v of equations[member]!.inputs) {
          const candidate = producer.get(v.id)
          const how = joins(candidate)
          if (how === undefined) continue
          members.add(candidate!)
          if (how === 'copy') copies.add(candidate!)
          grew = true
        }
    }
    if (members.size < 2) continue
    const ordered = [...members].sort((a, b) => a - b)
    const equation = fusedEquation(
      ordered.map((i) => [equations[i]!, steps[i]!] as const),
      scalars,
    )
    if (equation === undefined) continue
    for (const member of ordered) {
      if (!copies.has(member)) {
        rootOf.set(member, root)
        continue
      }
      // The group now reads the copy's operands itself (through its root, which no later group takes).
      for (const v of equations[member]!.inputs) readers.set(v.id, [...(readers.get(v.id) ?? []), root])
      const value = equations[member]!.output.id
      const own = recomputedBy.get(value) ?? new Set<number>()
      // Only full members: a copied reader's original equation may stay and still read the value.
      for (const reader of readers.get(value) ?? [])
        if (members.has(reader) && !copies.has(reader)) own.add(reader)
      recomputedBy.set(value, own)
    }
    fused.set(root, equation)
  }
  // A value every reader recomputes is no longer needed.
  const unread = (eq: Equation): boolean =>
    !outputs.has(eq.output.id) &&
    (readers.get(eq.output.id) ?? []).every((reader) => recomputedBy.get(eq.output.id)?.has(reader) === true)
  return {
    ...graph,
    equations: equations.flatMap((eq, i) => {
      const root = rootOf.get(i)
      if (root === undefined) return recomputedBy.has(eq.output.id) && unread(eq) ? [] : [eq]
      const equation = fused.get(i)
      return equation === undefined ? [] : [equation]
    }),
  }
}

/** Unary steps cheap enough to recompute in a group rather than read (exact, one or two instructions). */
const CHEAP_UNARY: ReadonlySet<string> = /* @__PURE__ */ new Set(['neg', 'abs', 'square'])

/** A constant as a key that tells every double apart (`String` prints -0 as 0). */
const constantKey = (value: number): string => (Object.is(value, -0) ? '-0' : String(value))

/**
 * `instructions` with repeated steps computed once: equal constants (the graph may hold one per
 * use), and the same op applied to the same values (e.g. a forward value the backward pass
 * recomputes). Operands are renumbered; the result stays the last instruction.
 */
function dedupe(arity: number, instructions: ReadonlyArray<ProgramInstruction>): ProgramInstruction[]
function dedupe(arity: number, instructions: ReadonlyArray<ReductionInstruction>): ReductionInstruction[]
function dedupe(arity: number, instructions: ReadonlyArray<ReductionInstruction>): ReductionInstruction[] {
  const renumbered: number[] = Array.from({ length: arity }, (_, k) => k)
  const seen = new Map<string, number>()
  const kept: ReductionInstruction[] = []
  instructions.forEach((step, i) => {
    const r = (value: number): number => renumbered[value]!
    const mapped: ReductionInstruction =
      step.kind === 'constant'
        ? step
        : step.kind === 'binary'
          ? { ...step, a: r(step.a), b: r(step.b) }
          : { ...step, x: r(step.x) }
    const key =
      mapped.kind === 'constant'
        ? `constant ${constantKey(mapped.value)}`
        : mapped.kind === 'binary'
          ? `${mapped.kind} ${mapped.op} ${mapped.a} ${mapped.b}`
          : `${mapped.kind} ${mapped.op} ${mapped.x}`
    const earlier = seen.get(key)
    if (earlier !== undefined && i < instructions.length - 1) {
      renumbered.push(earlier)
      return
    }
    kept.push(mapped)
    renumbered.push(arity + kept.length - 1)
    if (earlier === undefined) seen.set(key, arity + kept.length - 1)
  })
  return kept
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
  const program: ElementwiseProgram = { arity, instructions: dedupe(arity, instructions) }
  const output = members[members.length - 1]![0].output
  const { shape, dtype } = programOutput(program, inputs)
  if (!shapesEqual(shape, output.shape) || dtype !== output.dtype) return undefined
  const params: ElementwiseProgramParams = { program }
  return { op: elementwiseProgramOp, inputs, params, output }
}

// ---------------------------------------------------------------------------------------------
// Fusion of reductions along the last axis (softmax, log-softmax, cross-entropy, layer norm).

/** How a value lies in a group's row domain: a whole row, one per row kept as [..., 1], or one per row squeezed. */
type Layout = 'row' | 'kept' | 'squeezed'

interface Domain {
  readonly row: Shape
  readonly kept: Shape
  readonly squeezed: Shape
  readonly dtype: DType
}

// Marked pure like STEPS: a bundle that never stages a program drops it and the reductions it names.
const ROW_REDUCTIONS = /* @__PURE__ */ (() =>
  new Map<AnyOp, RowReduceOp>(
    Object.entries(programReduceOps).flatMap(([op, record]) =>
      isRowReduceOp(op) ? [[record, op] as const] : [],
    ),
  ))()

/** The row reduction an equation computes: one of sum/max/min/mean over exactly the last axis (of length ≥ 2) of a float value. */
const rowReductionOf = (
  eq: Equation,
): { readonly op: RowReduceOp; readonly keepDims: boolean } | undefined => {
  const op = ROW_REDUCTIONS.get(eq.op)
  const x = eq.inputs[0]
  if (op === undefined || x === undefined || x.dtype === 'int32' || eq.output.dtype !== x.dtype)
    return undefined
  // why: the reduction ops' records are applied with ReduceParams (see reduce/sum.ts and its siblings)
  const { axes, keepDims } = eq.params as ReduceParams
  const rank = x.shape.length
  if (rank === 0 || axes.length !== 1 || axes[0] !== rank - 1 || x.shape[rank - 1]! < 2) return undefined
  return { op, keepDims }
}

/**
 * The layout an equation reads when it only renames a value of the group's rows (the layout of its
 * input), or undefined: broadcastTo of a kept value to the rows (a reduction's VJP spreading its
 * cotangent), and reshape between the squeezed and kept forms of one value per row. A program holds
 * either as the value itself, since it broadcasts one-per-row values along the row anyway.
 */
const aliasIn = (eq: Equation, domain: Domain): Layout | undefined => {
  const input = eq.inputs[0]
  if (input === undefined || input.dtype !== eq.output.dtype) return undefined
  const from = layoutIn(domain, input.shape)
  const to = layoutIn(domain, eq.output.shape)
  if (eq.op === broadcastToOp && from === 'kept' && to === 'row') return from
  if (
    eq.op === reshapeOp &&
    from !== undefined &&
    to !== undefined &&
    from !== 'row' &&
    to !== 'row' &&
    from !== to
  )
    return from
  return undefined
}

const layoutIn = (domain: Domain, shape: Shape): Layout | undefined =>
  shapesEqual(shape, domain.row)
    ? 'row'
    : shapesEqual(shape, domain.kept)
      ? 'kept'
      : shapesEqual(shape, domain.squeezed)
        ? 'squeezed'
        : undefined

/**
 * Whether an equation of output layout `user` (or a reduction, which reads whole rows) may read an
 * internal value of layout `value`: a row step may read rows and kept values (they broadcast along
 * the row); a kept or squeezed step only values of its own layout (a squeezed [b] would broadcast
 * against a row [b, n] along the wrong axis).
 */
const reads = (user: Layout | 'reduce', value: Layout): boolean =>
  user === 'reduce' ? value === 'row' : user === 'row' ? value !== 'squeezed' : user === value

/**
 * Fuses each group of equations around row reductions into one `reductionProgram` equation: a
 * reduction along the last axis (sum, max, min, mean of a float value, with or without keepDims)
 * seeds a group over its row shape; it grows back through producers (elementwise steps and other
 * row reductions of the same rows) whose every reader is in the group, and forward through the
 * group's result while that has one reader that fits. A value may be a whole row, one per row
 * kept as [..., 1], or one per row squeezed (a reduction without keepDims); a step over rows may
 * read kept values, squeezed ones only feed squeezed steps. So softmax (max, sub, exp, sum, div),
 * log-softmax, cross-entropy up to its per-example loss, layer norm (mean, sub, square, mean, add,
 * rsqrt, mul, mul, add) and their backward passes each become one equation. Values from outside a
 * group are its inputs (squeezed ones reshaped to [..., 1] by a new reshape equation), scalar
 * constants are written into the program. Values agree with the unfused graph to float rounding.
 * @example
 * import { div, exp, fuseReductions, makeGraph, max, show, sub, sum, tensor } from '@backfold/ops'
 * import type { Tensor } from '@backfold/tensor'
 * const softmax = (x: Tensor) => {
 *   const e = exp(sub(x, max(x, { axis: -1, keepDims: true })))
 *   return div(e, sum(e, { axis: -1, keepDims: true }))
 * }
 * show(fuseReductions(makeGraph(softmax)(tensor([[1, 2, 3]]))))
 * // b:f32[1,3] = reductionProgram a { (1) max a0; sub a0 v1; exp v2; sum v3; div v3 v4 → [1,3] }
 * @since 0.2.0
 */
export const fuseReductions = (staged: Graph): Graph => {
  const graph = lowerSoftmax(staged)
  const equations = graph.equations
  const producer = new Map<number, number>()
  const readers = new Map<number, number[]>()
  let nextId = freeId(graph)
  equations.forEach((eq, i) => {
    producer.set(eq.output.id, i)
    for (const v of eq.inputs) {
      const list = readers.get(v.id) ?? []
      if (!list.includes(i)) list.push(i)
      readers.set(v.id, list)
    }
  })
  const outputs = new Set(graph.outputs.map((v) => v.id))
  const scalars = new Map(
    graph.constants.filter((c) => c.variable.shape.length === 0).map((c) => [c.variable.id, c.value]),
  )
  const taken = new Set<number>()
  const replacement = new Map<number, Equation[]>()
  for (let seed = equations.length - 1; seed >= 0; seed--) {
    const reduction = taken.has(seed) ? undefined : rowReductionOf(equations[seed]!)
    if (reduction === undefined) continue
    const x = equations[seed]!.inputs[0]!
    const domain: Domain = {
      row: x.shape,
      kept: [...x.shape.slice(0, -1), 1],
      squeezed: x.shape.slice(0, -1),
      dtype: x.dtype,
    }
    /** An equation's output layout in this domain, when it may join a group of it. */
    const layoutOf = (i: number): Layout | undefined => {
      const eq = equations[i]!
      if (eq.output.dtype !== domain.dtype) return undefined
      const r = rowReductionOf(eq)
      if (r !== undefined)
        return shapesEqual(eq.inputs[0]!.shape, domain.row) ? layoutIn(domain, eq.output.shape) : undefined
      if (aliasIn(eq, domain) !== undefined) return layoutIn(domain, eq.output.shape)
      return stepOf(eq) === undefined ? undefined : layoutIn(domain, eq.output.shape)
    }
    /** What an equation reads its inputs as: whole rows for a reduction, an alias its input's layout. */
    const use = (i: number): Layout | 'reduce' =>
      rowReductionOf(equations[i]!) !== undefined
        ? 'reduce'
        : (aliasIn(equations[i]!, domain) ?? layoutOf(i)!)
    const members = new Set([seed])
    let root = seed
    const roots: number[] = []
    const free = (i: number | undefined): i is number => i !== undefined && !members.has(i) && !taken.has(i)
    for (let grew = true; grew;) {
      grew = false
      // Back through producers whose every reader is in the group.
      for (const member of [...members])
        for (const v of equations[member]!.inputs) {
          const candidate = producer.get(v.id)
          if (!free(candidate) || outputs.has(v.id)) continue
          const layout = layoutOf(candidate)
          const users = readers.get(v.id) ?? []
          if (layout === undefined || !users.every((u) => members.has(u) && reads(use(u), layout))) continue
          members.add(candidate)
          grew = true
        }
      // Forward through the result's one reader.
      const result = equations[root]!.output
      const next = readers.get(result.id) ?? []
      const candidate = next[0]
      if (
        !outputs.has(result.id) &&
        next.length === 1 &&
        free(candidate) &&
        layoutOf(candidate) !== undefined
      ) {
        const user = use(candidate)
        const fits = equations[candidate]!.inputs.every((v) => {
          const from = producer.get(v.id)
          return from === undefined || !members.has(from) || reads(user, layoutOf(from)!)
        })
        if (fits) {
          members.add(candidate)
          roots.push(root)
          root = candidate
          grew = true
        }
      }
    }
    // An alias computes nothing: the group ends at the value it renames, which that alias then reads.
    while (aliasIn(equations[root]!, domain) !== undefined && roots.length > 0) {
      members.delete(root)
      root = roots.pop()!
    }
    if (members.size < 2) continue
    const ordered = [...members].sort((a, b) => a - b)
    const built = reductionEquations(
      ordered.map((i) => [equations[i]!, use(i)] as const),
      domain,
      scalars,
      () => nextId++,
    )
    if (built === undefined) continue
    for (const member of ordered) taken.add(member)
    replacement.set(root, built)
  }
  return {
    ...graph,
    equations: equations.flatMap((eq, i) => replacement.get(i) ?? (taken.has(i) ? [] : [eq])),
  }
}

/** One more than the largest variable id of `graph`: where new variables' ids start. */
const freeId = (graph: Graph): number =>
  Math.max(
    -1,
    ...graph.inputs.map((v) => v.id),
    ...graph.constants.map((c) => c.variable.id),
    ...graph.equations.map((eq) => eq.output.id),
  ) + 1

/**
 * Writes each `softmax` equation over the last axis (of length ≥ 2, float) as the ops its forward
 * runs, max, sub, exp, sum, div, so that it fuses with its neighbours like a softmax written by
 * hand (its own VJP is already written in ops).
 */
const lowerSoftmax = (graph: Graph): Graph => {
  let nextId = freeId(graph)
  const equations = graph.equations.flatMap((eq): Equation[] => {
    const x = eq.inputs[0]
    if (eq.op !== softmaxOp || x === undefined || x.dtype === 'int32' || x.dtype !== eq.output.dtype)
      return [eq]
    // why: softmaxOp is applied with SoftmaxParams (activations/softmax.ts)
    const { axis } = eq.params as SoftmaxParams
    const rank = x.shape.length
    if (axis !== rank - 1 || x.shape[rank - 1]! < 2) return [eq]
    const kept: Var = { id: 0, shape: [...x.shape.slice(0, -1), 1], dtype: x.dtype }
    const fresh = (like: Var): Var => ({ ...like, id: nextId++ })
    const keep: ReduceParams = { axes: [rank - 1], keepDims: true }
    const m = fresh(kept)
    const d = fresh(x)
    const e = fresh(x)
    const s = fresh(kept)
    return [
      { op: maxOp, inputs: [x], params: keep, output: m },
      { op: subOp, inputs: [x, m], params: undefined, output: d },
      { op: expOp, inputs: [d], params: undefined, output: e },
      { op: sumOp, inputs: [e], params: keep, output: s },
      { op: divOp, inputs: [e, s], params: undefined, output: eq.output },
    ]
  })
  return { ...graph, equations }
}

/**
 * The equations computing the last of `members` (in graph order) as one reduction program: the
 * reshapes that give squeezed inputs their kept shape, then the `reductionProgram` equation. Or
 * undefined when the program would not give the result's shape and dtype (never for a well-formed
 * graph; the group then stays unfused rather than risk a wrong value).
 */
const reductionEquations = (
  members: ReadonlyArray<readonly [Equation, Layout | 'reduce']>,
  domain: Domain,
  scalars: ReadonlyMap<number, { readonly data: ArrayLike<number> }>,
  freshId: () => number,
): Equation[] | undefined => {
  const internal = new Set(members.map(([eq]) => eq.output.id))
  const inputs: Var[] = []
  const reshapes: Equation[] = []
  const slots = new Map<string, number>()
  const constants: number[] = []
  const constantSlot = new Map<number, number>()
  // First pass: every outside value, as an input (keyed by id and whether it is reshaped) or a constant.
  const external = (v: Var, user: Layout | 'reduce'): string | undefined => {
    if (internal.has(v.id)) return undefined
    if (scalars.has(v.id)) {
      if (!constantSlot.has(v.id)) {
        constantSlot.set(v.id, constants.length)
        constants.push(scalars.get(v.id)!.data[0]!)
      }
      return undefined
    }
    const lift = user === 'squeezed' && sizeOf(v.shape) > 1
    const key = `${v.id}${lift ? 'k' : ''}`
    if (!slots.has(key)) {
      slots.set(key, inputs.length)
      if (lift) {
        const output: Var = { id: freshId(), shape: [...v.shape, 1], dtype: v.dtype }
        const params: ReshapeParams = { shape: output.shape }
        reshapes.push({ op: reshapeOp, inputs: [v], params, output })
        inputs.push(output)
      } else inputs.push(v)
    }
    return key
  }
  for (const [eq, user] of members) for (const v of eq.inputs) external(v, user)
  const arity = inputs.length
  const valueOf = new Map<number, number>()
  const instructions: ReductionInstruction[] = constants.map((value) => ({ kind: 'constant', value }))
  for (const [eq, user] of members) {
    const operand = (k: number): number => {
      const v = eq.inputs[k]!
      const value = valueOf.get(v.id)
      if (value !== undefined) return value
      const constant = constantSlot.get(v.id)
      if (constant !== undefined) return arity + constant
      return slots.get(external(v, user)!)!
    }
    const reduction = rowReductionOf(eq)
    if (eq.op === broadcastToOp || eq.op === reshapeOp) {
      // An alias (see aliasIn): the same program value under the output's name.
      valueOf.set(eq.output.id, operand(0))
      continue
    }
    if (reduction !== undefined) instructions.push({ kind: 'reduce', op: reduction.op, x: operand(0) })
    else {
      const step = stepOf(eq)!
      instructions.push(
        step.kind === 'unary'
          ? { kind: 'unary', op: step.op, x: operand(0) }
          : { kind: 'binary', op: step.op, a: operand(0), b: operand(1) },
      )
    }
    valueOf.set(eq.output.id, arity + instructions.length - 1)
  }
  const program: ReductionProgram = { arity, instructions: dedupe(arity, instructions) }
  const output = members[members.length - 1]![0].output
  try {
    const { shape, dtype, rowShape } = reductionProgramOutput(program, inputs, output.shape)
    if (!shapesEqual(shape, output.shape) || dtype !== output.dtype || !shapesEqual(rowShape, domain.row))
      return undefined
  } catch {
    return undefined
  }
  const params: ReductionProgramParams = { program, shape: output.shape }
  return [...reshapes, { op: reductionProgramOp, inputs, params, output }]
}
