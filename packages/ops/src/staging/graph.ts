// The staged-program IR: a function traced with abstract values (shape and dtype, no data) into
// equations `output = op(inputs; params)` over the same Op records eager mode runs. Graphs are
// immutable values; passes (passes.ts) return new graphs and the interpreter (below) runs one.
import {
  BackfoldError,
  flatten,
  fmtShape,
  isAbstract,
  unflatten,
  type DType,
  type Shape,
  type Tensor,
  type TreeDef,
} from '@backfold/tensor'
import { applyOp, type AnyOp, type Op } from '../core/op'
import { GraphVar, TraceError, openGraphTrace } from '../core/trace'

/** A variable of a graph: an input, a constant or an equation's output. @since 0.2.0 */
export interface Var {
  readonly id: number
  readonly shape: Shape
  readonly dtype: DType
}

/** One equation: `output = op(inputs; params)`. @since 0.2.0 */
export interface Equation {
  readonly op: AnyOp
  readonly inputs: ReadonlyArray<Var>
  /** The parameters the op was applied with (its `P`). */
  readonly params: unknown
  readonly output: Var
}

/** A constant of a graph: a concrete tensor the staged function closed over, or a folded value. @since 0.2.0 */
export interface Constant {
  readonly variable: Var
  readonly value: Tensor
}

/**
 * A staged program: typed, immutable. `inputs` are the tensor leaves of the arguments in order
 * (`inTrees` restores the argument trees), `outputs` the tensor leaves of the result (`outTree`).
 * @since 0.2.0
 */
export interface Graph {
  readonly inputs: ReadonlyArray<Var>
  readonly constants: ReadonlyArray<Constant>
  readonly equations: ReadonlyArray<Equation>
  readonly outputs: ReadonlyArray<Var>
  readonly inTrees: ReadonlyArray<TreeDef>
  readonly outTree: TreeDef
}

/**
 * Stages `f`: calls it once on abstract values shaped like `args` (their data is never read) and
 * returns the graph of every op it applied, the backward pass included when `f` takes a gradient.
 * Arguments and results are trees of tensors; non-tensor leaves of the arguments are fixed values.
 * @example
 * import { makeGraph, show, mul, sum, tensor, type Tensor } from '@backfold/ops'
 * console.log(show(makeGraph((x: Tensor) => sum(mul(x, x)))(tensor([1, 2, 3]))))
 * // { lambda a:f32[3] .
 * //   let b:f32[3] = mul a a
 * //       c:f32[] = sum b {"axes":[0],"keepDims":false}
 * //   in ( c ) }
 * @throws the op's error, prefixed with the function's name, when the program is mis-shaped.
 * @since 0.2.0
 */
export const makeGraph =
  <Args extends ReadonlyArray<unknown>, Out>(f: (...args: Args) => Out) =>
  (...args: Args): Graph => {
    const trace = openGraphTrace()
    const inTrees: TreeDef[] = []
    const inputs: Var[] = []
    let leaves: Tensor[]
    let outTree: TreeDef
    try {
      const staged = args.map((arg) => {
        const { leaves: argLeaves, def } = flatten(arg)
        inTrees.push(def)
        return unflatten(
          def,
          argLeaves.map((leaf) => {
            const variable = trace.newVar(leaf)
            inputs.push(variable)
            return new GraphVar(trace, variable)
          }),
        )
      })
      let out: Out
      try {
        // The staged arguments have the caller's structure with tensors replaced by graph values (tensors).
        out = f(...(staged as unknown as Args))
      } catch (error) {
        throw inUserFunction(error, f)
      }
      ;({ leaves, def: outTree } = flatten(out))
    } finally {
      trace.close()
    }
    const outputs = leaves.map((leaf) => {
      if (leaf instanceof GraphVar && leaf.trace === trace) return leaf.variable
      if (!isAbstract(leaf)) return trace.constant(leaf)
      throw new TraceError(
        'makeGraph',
        'the staged function returned a value traced outside it (from a closure); pass that value as an argument',
      )
    })
    return {
      inputs,
      constants: [...trace.constants].map(([value, variable]) => ({ variable, value })),
      equations: [...trace.equations],
      outputs,
      inTrees,
      outTree,
    }
  }

/** A staging error names the user's function first, then the op and the shapes (the op's own message). */
const inUserFunction = (error: unknown, f: { readonly name: string }): unknown => {
  if (!(error instanceof BackfoldError)) return error
  const where = f.name === '' ? 'an anonymous function' : `function ${f.name}`
  error.message = `while staging ${where}: ${error.message}`
  return error
}

/**
 * Runs a graph on `inputs` (one tensor per graph input) with the ops themselves, so a graph runs
 * eagerly on concrete tensors and composes with `grad` and `vmap` when its inputs are traced.
 * @since 0.2.0
 */
export const evalGraph = (graph: Graph, inputs: ReadonlyArray<Tensor>): Tensor[] => {
  if (inputs.length !== graph.inputs.length)
    throw new TraceError('evalGraph', `the graph takes ${graph.inputs.length} inputs, got ${inputs.length}`)
  const env = new Map<number, Tensor>()
  graph.inputs.forEach((v, i) => {
    const x = inputs[i]!
    if (x.dtype !== v.dtype || x.shape.length !== v.shape.length || x.shape.some((d, j) => d !== v.shape[j]))
      throw new TraceError(
        'evalGraph',
        `input ${i} is ${x.dtype}${fmtShape(x.shape)} but the graph was staged for ${v.dtype}${fmtShape(v.shape)}`,
      )
    env.set(v.id, x)
  })
  for (const c of graph.constants) env.set(c.variable.id, c.value)
  for (const eq of graph.equations) {
    const xs = eq.inputs.map((v) => env.get(v.id)!)
    env.set(eq.output.id, applyRecorded(eq.op, xs, eq.params))
  }
  return graph.outputs.map((v) => env.get(v.id)!)
}

/**
 * Applies a recorded op to values shaped like the ones it was recorded with. The equation erased
 * the op's input and parameter types; they were the op's own when it was recorded, so restoring
 * them here (and in `forwardRecorded`) is sound.
 * @internal
 */
export const applyRecorded = (op: AnyOp, xs: ReadonlyArray<Tensor>, params: unknown): Tensor =>
  applyOp(op as unknown as Op<string, ReadonlyArray<Tensor>, unknown>, xs, params)

/** `op.forward` of a recorded equation on concrete inputs (constant folding). @internal */
export const forwardRecorded = (op: AnyOp, xs: ReadonlyArray<Tensor>, params: unknown): Tensor =>
  (op as unknown as Op<string, ReadonlyArray<Tensor>, unknown>).forward(xs, params)

const DTYPE_NAMES: Readonly<Record<DType, string>> = { float32: 'f32', float64: 'f64', int32: 'i32' }

/** Short variable names: a … z, ba, bb, … (as jaxprs print them). */
const nameOf = (index: number): string => {
  let name = ''
  let n = index
  do {
    name = String.fromCharCode(97 + (n % 26)) + name
    n = Math.floor(n / 26)
  } while (n > 0)
  return name
}

/**
 * A graph as text, one equation per line with the shape and dtype of what it defines, for a person
 * debugging a model. Constants print as `const` lines (their shape, not their values).
 * @example
 * show(makeGraph((x: Tensor) => exp(x))(tensor([1, 2])))
 * // { lambda a:f32[2] .
 * //   let b:f32[2] = exp a
 * //   in ( b ) }
 * @since 0.2.0
 */
export const show = (graph: Graph): string => {
  const names = new Map<number, string>()
  const name = (v: Var): string => {
    let n = names.get(v.id)
    if (n === undefined) {
      n = nameOf(names.size)
      names.set(v.id, n)
    }
    return n
  }
  const typed = (v: Var): string => `${name(v)}:${DTYPE_NAMES[v.dtype]}${fmtShape(v.shape)}`
  const lines: string[] = [`{ lambda ${graph.inputs.map(typed).join(' ')} .`]
  const body: string[] = [
    ...graph.constants.map((c) => `${typed(c.variable)} = const`),
    ...graph.equations.map((eq) => {
      const params = formatParams(eq.op, eq.params)
      return `${typed(eq.output)} = ${eq.op.name} ${eq.inputs.map(name).join(' ')}${params === '' ? '' : ` ${params}`}`
    }),
  ]
  body.forEach((line, i) => lines.push(`${i === 0 ? '  let ' : '      '}${line}`))
  lines.push(`  in ( ${graph.outputs.map(name).join(' ')} ) }`)
  return lines.join('\n')
}

const formatParams = (op: AnyOp, params: unknown): string => {
  if (params === undefined) return ''
  // The op's own format, with the parameters it was recorded with (see applyRecorded).
  if (op.formatParams !== undefined) return `{ ${(op.formatParams as (p: unknown) => string)(params)} }`
  try {
    return JSON.stringify(params) ?? ''
  } catch {
    return '{…}'
  }
}
