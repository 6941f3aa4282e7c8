// Graph-to-graph passes. Each takes a graph and returns a new one that computes the same outputs;
// `optimize` runs them in the order jit uses. Ops are pure (random ops included: a key decides
// every draw), which is what makes removing, merging and precomputing equations sound.
import { sizeOf, type Tensor } from '@backfold/tensor'
import { forwardRecorded, type Constant, type Equation, type Graph, type Var } from './graph'
import { fuseElementwise, fuseReductions } from './fuse'

/**
 * Removes every equation and constant no output depends on.
 * @since 0.2.0
 */
export const eliminateDeadCode = (graph: Graph): Graph => {
  const live = new Set<number>(graph.outputs.map((v) => v.id))
  const kept: Equation[] = []
  for (let i = graph.equations.length - 1; i >= 0; i--) {
    const eq = graph.equations[i]!
    if (!live.has(eq.output.id)) continue
    kept.push(eq)
    for (const v of eq.inputs) live.add(v.id)
  }
  kept.reverse()
  return { ...graph, equations: kept, constants: graph.constants.filter((c) => live.has(c.variable.id)) }
}

/**
 * Merges equations that apply the same op to the same variables with equal parameters (the
 * second use reads the first's output), and constants that are the same tensor.
 * @since 0.2.0
 */
export const eliminateCommonSubexpressions = (graph: Graph): Graph => {
  const replaced = new Map<number, Var>()
  const resolve = (v: Var): Var => replaced.get(v.id) ?? v
  const seen = new Map<string, Var>()
  const equations: Equation[] = []
  for (const eq of graph.equations) {
    const inputs = eq.inputs.map(resolve)
    const params = paramsKey(eq.params)
    const key =
      params === undefined ? undefined : `${eq.op.name}(${inputs.map((v) => v.id).join(',')})${params}`
    const earlier = key === undefined ? undefined : seen.get(key)
    if (earlier !== undefined && earlier.dtype === eq.output.dtype) {
      replaced.set(eq.output.id, earlier)
      continue
    }
    if (key !== undefined) seen.set(key, eq.output)
    equations.push(inputs.every((v, i) => v === eq.inputs[i]) ? eq : { ...eq, inputs })
  }
  return { ...graph, equations, outputs: graph.outputs.map(resolve) }
}

/** Parameters as a comparable string, or undefined when they hold something JSON cannot compare. */
const paramsKey = (params: unknown): string | undefined => {
  if (params === undefined) return ''
  try {
    let exact = true
    const text = JSON.stringify(params, (_key, value: unknown) => {
      if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') exact = false
      if (typeof value === 'number' && !Number.isFinite(value)) return `#${String(value)}`
      // JSON writes -0 as 0, which would merge programs whose constants differ only in sign.
      if (Object.is(value, -0)) return '#-0'
      return value
    })
    return exact ? text : undefined
  } catch {
    return undefined
  }
}

/**
 * Computes at staging time every equation whose inputs are all constants, when its result has at
 * most `maxElements` elements (folding `broadcastTo` of a scalar to a large shape would only trade
 * an equation for a large constant). Runs the op's forward, exactly as eager mode would.
 * @since 0.2.0
 */
export const foldConstants = (graph: Graph, maxElements = 4096): Graph => {
  const values = new Map<number, Tensor>(graph.constants.map((c) => [c.variable.id, c.value]))
  const constants: Constant[] = [...graph.constants]
  const equations: Equation[] = []
  for (const eq of graph.equations) {
    const inputs = eq.inputs.map((v) => values.get(v.id))
    if (inputs.every((x) => x !== undefined) && sizeOf(eq.output.shape) <= maxElements) {
      const value = forwardRecorded(eq.op, inputs, eq.params)
      values.set(eq.output.id, value)
      constants.push({ variable: eq.output, value })
    } else equations.push(eq)
  }
  return { ...graph, constants, equations }
}

/**
 * The passes jit runs, in order: constant folding, common-subexpression elimination, dead-code
 * elimination, fusion of reductions along the last axis with their elementwise neighbours, then of
 * the remaining elementwise chains (after dead code is gone, so an unused reader does not keep a
 * value out of a group), and dead-code elimination again (for the scalar constants fusion
 * wrote into its programs).
 * @since 0.2.0
 */
export const optimize = (graph: Graph): Graph =>
  eliminateDeadCode(
    fuseElementwise(fuseReductions(eliminateDeadCode(eliminateCommonSubexpressions(foldConstants(graph))))),
  )
