import { TraceError, abstractValue, claimSingleCopy, type Tensor } from '@backfold/tensor'
import type { Aval } from './op'
import type { Equation, Var } from '../staging/graph'

/**
 * Thrown when a transformation is misused (escaped traced value, bad cotangent, int32 argument) or
 * a kernel of `@backfold/tensor` is handed a traced value. Defined in `@backfold/tensor` (its kernels
 * throw it too) and re-exported here: one class, so `instanceof TraceError` holds for both.
 * @since 0.1.0
 */
export { TraceError }

/** The package version, inlined by the build (tsup `define`); absent when running from sources. */
declare const __BACKFOLD_VERSION__: string | undefined

// Trace levels below are numbered by this module: a second copy would number its own from 1, and
// `instanceof Tracer` would fail across the two, so a tracer of one would pass through the other's
// ops as a constant (a gradient of zero). A second copy therefore refuses to load.
claimSingleCopy(
  '@backfold/ops',
  typeof __BACKFOLD_VERSION__ === 'string' ? __BACKFOLD_VERSION__ : 'sources',
  import.meta.url,
)

/**
 * One transformation in progress. Levels grow with nesting, so the innermost transformation
 * always has the highest level among the live ones; this is what prevents perturbation confusion.
 * @internal
 */
export class Trace {
  private live = true
  constructor(readonly level: number) {}
  get active(): boolean {
    return this.live
  }
  /** Called once when the transformation that opened this trace returns. */
  close(): void {
    this.live = false
  }
}

/**
 * A `vmap` in progress: its traced values are batches of `axisSize` examples, each mapped along one
 * axis. Ops applied to them run their batching rule instead of recording a node.
 * @internal
 */
export class BatchTrace extends Trace {
  constructor(
    level: number,
    readonly axisSize: number,
  ) {
    super(level)
  }
}

/**
 * A staging in progress (`makeGraph`, `jit`): its traced values are abstract (shape and dtype) and
 * every op applied to them appends an equation here instead of computing. The equation list and
 * the captured constants are local to one staging; nothing else sees them until it closes.
 * @internal
 */
export class GraphTrace extends Trace {
  readonly equations: Equation[] = []
  readonly constants = new Map<Tensor, Var>()
  private nextId = 0
  /** A fresh variable of this graph. */
  newVar(aval: Aval): Var {
    return { id: this.nextId++, shape: [...aval.shape], dtype: aval.dtype }
  }
  /** The variable standing for a concrete tensor the staged function closed over (one per tensor). */
  constant(value: Tensor): Var {
    let v = this.constants.get(value)
    if (v === undefined) {
      v = this.newVar(value)
      this.constants.set(value, v)
    }
    return v
  }
}

let nextLevel = 0

/** Opens a new trace nested inside every live one. @internal */
export const openTrace = (): Trace => new Trace(++nextLevel)

/** Opens a new `vmap` trace over `axisSize` examples, nested inside every live one. @internal */
export const openBatchTrace = (axisSize: number): BatchTrace => new BatchTrace(++nextLevel, axisSize)

/** Opens a new staging, nested inside every live trace. @internal */
export const openGraphTrace = (): GraphTrace => new GraphTrace(++nextLevel)

/** The operation that produced a traced value. @internal */
export interface Node {
  /** The op applied (its name, for messages): a built-in or user op, or a `customVjp` function. */
  readonly op: { readonly name: string }
  /** The inputs as the op received them: tracers of this trace or constants w.r.t. it. */
  readonly inputs: ReadonlyArray<Tensor>
  readonly params: unknown
  /**
   * The op's VJP bound, with its own input and parameter types, to the primal inputs (the inputs one
   * level down) and the parameters it was applied with: the fold passes only what varies.
   */
  readonly vjp: (
    cotangent: Tensor,
    output: Tensor,
    needed: (input: Tensor) => boolean,
  ) => ReadonlyArray<Tensor | undefined>
}

/** What a kernel that is handed a tracer tells the user (the `abstractValue` brand's value). */
const TRACED =
  'it is a value traced by a transformation of @backfold/ops (grad, vjp, jvp, hvp, jacrev, jacfwd, hessian). ' +
  'Compute on it with the differentiable ops of @backfold/ops (same names as the kernels); a kernel ' +
  'would drop it from the derivative, and the gradient would silently be zero. In a custom op, ' +
  'forward receives concrete tensors and may use kernels; vjp must use ops'

/**
 * A value flowing through a transformation: it has its primal's dtype and shape and remembers how it
 * was computed. Users never construct one. It carries the `abstractValue` brand of
 * `@backfold/tensor` and has no readable `data`: inside a transformation compute with ops; to look
 * at the current value (logging), use `concrete(x)`, which is not differentiated.
 * @since 0.1.0
 */
export class Tracer implements Tensor {
  /** Made by the transformations (users never construct one). */
  constructor(
    readonly trace: Trace,
    /** The value at the next level down: a concrete tensor or a tracer of an enclosing transformation. */
    readonly primal: Tensor,
    /** How this value was computed; `undefined` for an input of the transformation. */
    readonly node: Node | undefined,
  ) {}
  /** The dtype of the value it stands for. */
  get dtype(): Tensor['dtype'] {
    return this.primal.dtype
  }
  /** The shape of the value it stands for. */
  get shape(): Tensor['shape'] {
    return this.primal.shape
  }
  /**
   * Always throws: what a traced value holds is not its data but a place in a computation, and
   * reading the primal's numbers here would cut the derivative silently.
   */
  get data(): never {
    throw new TraceError(
      'Tracer.data',
      'a traced value has no data to read inside a transformation; compute with the ops of ' +
        '@backfold/ops, return the value from the transformed function to read it, or use ' +
        'concrete(x) to look at the current value (not differentiated)',
    )
  }
  /** The `abstractValue` brand: kernels of `@backfold/tensor` refuse this value with this advice. */
  get [abstractValue](): string {
    return TRACED
  }
}

/** What a kernel that is handed a batch tracer tells the user. */
const BATCHED =
  'it is a batch of values mapped by vmap of @backfold/ops. Compute on it with the ops of ' +
  '@backfold/ops (same names as the kernels): each op has a batching rule, a kernel would see the ' +
  'whole batch as one example'

/**
 * A value flowing through `vmap`: one example as the mapped function sees it (its `shape` has no
 * batch axis), held as the whole batch `value` with the examples along `axis`. Users never
 * construct one; like `Tracer`, it has no readable `data`.
 * @since 0.2.0
 */
export class BatchTracer implements Tensor {
  readonly shape: Tensor['shape']
  /** Made by the transformations (users never construct one). */
  constructor(
    readonly trace: BatchTrace,
    /** The whole batch, at the next level down: a concrete tensor or a value of an enclosing transformation. */
    readonly value: Tensor,
    /** Where the examples lie in `value` (a valid axis of it, not negative). */
    readonly axis: number,
  ) {
    this.shape = value.shape.filter((_, i) => i !== axis)
  }
  /** The dtype of the value it stands for. */
  get dtype(): Tensor['dtype'] {
    return this.value.dtype
  }
  /** Always throws: one example's data is not a view of the batch; compute with ops. */
  get data(): never {
    throw new TraceError(
      'BatchTracer.data',
      'a value mapped by vmap has no data to read inside the mapped function; compute with the ops ' +
        'of @backfold/ops, or return the value from the mapped function to read it',
    )
  }
  /** The `abstractValue` brand: kernels of `@backfold/tensor` refuse this value with this advice. */
  get [abstractValue](): string {
    return BATCHED
  }
}

/** What a kernel that is handed a staged value tells the user. */
const STAGED =
  'it is an abstract value of a function being staged by makeGraph or jit of @backfold/ops: it has ' +
  'a shape and a dtype but no data yet. Compute on it with the ops of @backfold/ops (same names as ' +
  'the kernels)'

/**
 * A value of a function being staged (`makeGraph`, `jit`): a variable of the graph, with a shape and
 * a dtype and no data. Users never construct one.
 * @since 0.2.0
 */
export class GraphVar implements Tensor {
  /** Made by the transformations (users never construct one). */
  constructor(
    readonly trace: GraphTrace,
    readonly variable: Var,
  ) {}
  /** The shape of the value it stands for. */
  get shape(): Tensor['shape'] {
    return this.variable.shape
  }
  /** The dtype of the value it stands for. */
  get dtype(): Tensor['dtype'] {
    return this.variable.dtype
  }
  /** Always throws: a staged value has no data until the graph runs. */
  get data(): never {
    throw new TraceError(
      'GraphVar.data',
      'a value being staged by makeGraph or jit has no data yet; compute with the ops of @backfold/ops, ' +
        'or read the value once the jitted function has returned it',
    )
  }
  /** The `abstractValue` brand: kernels of `@backfold/tensor` refuse this value with this advice. */
  get [abstractValue](): string {
    return STAGED
  }
}

/**
 * Values to stand in for others while a function runs (closure conversion for `scan` and `remat`):
 * a body that closed over a traced value `w` sees, through `applyOp`, the stand-in instead (its
 * primal, or a tracer of a fresh trace that differentiates the body alone). Empty outside them.
 */
let substitutions: ReadonlyMap<Tensor, Tensor> | undefined

/**
 * The stand-in for `x` while `withSubstitutions` runs, or `x` itself. Followed transitively: a
 * second-order scan maps a weight to its primal, which an inner scan maps to its own primal.
 * @internal
 */
export const substitute = (x: Tensor): Tensor => {
  if (substitutions === undefined) return x
  let v = x
  for (let next = substitutions.get(v); next !== undefined && next !== x; next = substitutions.get(v))
    v = next
  return v
}

/**
 * The substitutions in force now: a node that re-runs a body later (in its VJP) reinstates them,
 * since the body may close over values an enclosing scan replaced while the node was recorded.
 * @internal
 */
export const currentSubstitutions = (): ReadonlyMap<Tensor, Tensor> => substitutions ?? new Map()

/** Whether any substitution is active (so `applyOp` pays nothing otherwise). @internal */
export const substituting = (): boolean => substitutions !== undefined

/** Runs `fn` with every op seeing `map.get(x)` in place of `x` (inner maps take precedence). @internal */
export const withSubstitutions = <R>(map: ReadonlyMap<Tensor, Tensor>, fn: () => R): R => {
  if (map.size === 0) return fn()
  const previous = substitutions
  substitutions = new Map([...(previous ?? []), ...map])
  try {
    return fn()
  } finally {
    substitutions = previous
  }
}

/** The innermost live trace among `xs`, or `undefined` when none is traced. @internal */
export const topTrace = (xs: ReadonlyArray<Tensor>, opName: string): Trace | undefined => {
  let top: Trace | undefined
  for (const x of xs) {
    if (x instanceof Tracer || x instanceof BatchTracer || x instanceof GraphVar) {
      if (!x.trace.active)
        throw new TraceError(
          opName,
          'received a traced value from a transformation that has already returned (an escaped tracer); ' +
            'return values from the transformed function instead of storing them outside it',
        )
      if (top === undefined || x.trace.level > top.level) top = x.trace
    }
  }
  return top
}

/** The value of `x` as seen one level below `trace` (the primal of its tracer, or `x` itself). @internal */
export const primalOf = (x: Tensor, trace: Trace): Tensor =>
  x instanceof Tracer && x.trace === trace ? x.primal : x

/**
 * Removes every level of differentiation: the concrete tensor underneath, for logging (it is not
 * differentiated). A value mapped by `vmap` has no single concrete value: return it from the
 * mapped function instead.
 * @since 0.1.0
 */
export const concrete = (x: Tensor): Tensor => {
  let v = x
  while (v instanceof Tracer) v = v.primal
  if (v instanceof BatchTracer)
    throw new TraceError(
      'concrete',
      'the value is mapped by vmap and has no single concrete value; return it from the mapped function to read it',
    )
  if (v instanceof GraphVar)
    throw new TraceError(
      'concrete',
      'the value is being staged by makeGraph or jit and has no data yet; return it from the staged function to read it',
    )
  return v
}
