import {
  donateAllBut,
  donationOf,
  flatten,
  getBackend,
  isAbstract,
  sameStructure,
  unflatten,
  wasmBackend,
  type Tensor,
  type TreeDef,
} from '@backfold/tensor'
import { TraceError } from '../core/trace'
import { checkOptions, option, optionSchema } from '../core/options'
import { evalGraph, makeGraph, type Graph } from './graph'
import { optimize } from './passes'
import { fuseEpilogues } from './epilogue'
import { compileResident, type Executable, type ExecutableStats } from './executable'
import { OnnxExecutor, type Executor, type JitExecutorStatus } from './onnx/executor'

/** Options of `jit`. @since 0.2.0 */
export interface JitOptions {
  /**
   * Arguments that are not traced but fixed at staging time (a layer config, a flag): their value
   * is part of the cache key, so each distinct value stages once. Values must be JSON-serialisable.
   */
  readonly staticArgnums?: ReadonlyArray<number>
  /**
   * Where concrete calls run: `'wasm'` (backfold's kernels) or `'onnxruntime'` (ONNX Runtime's
   * native kernels; Node with onnxruntime-node installed). Default: `getDefaultExecutor()`. A graph
   * ONNX Runtime cannot run falls back to wasm; `executorStatus(jitted)` says why.
   */
  readonly executor?: Executor | undefined
  /** With `executor: 'onnxruntime'`: false throws instead of falling back to wasm (default true). */
  readonly fallback?: boolean | undefined
  /**
   * Arguments (by index, not static ones) whose tensors the caller gives up (JAX's
   * `donate_argnums`): after a concrete call, every tensor in them that is not itself among the
   * results is invalidated (reading its data, or passing it to any op or jitted function, throws and
   * says it was donated), so the executable may write this call's results over their memory. A
   * training step that donates its parameters and optimizer state keeps them in wasm memory from
   * step to step: no copies in or out and no new buffers (see `ExecutableStats`). Calls under
   * `grad`/`vmap` (traced arguments) donate nothing.
   */
  readonly donate?: ReadonlyArray<number>
}

/** How often a jitted function staged a new graph and how often it reused one. @since 0.2.0 */
export interface JitStats {
  /** Signatures staged (each a trace of the function, the passes, and a cache entry). */
  readonly traces: number
  /** Calls that reused a staged graph. */
  readonly hits: number
  /** The optimised graph of the most recent call, to inspect with `show`. */
  readonly lastGraph: Graph | undefined
  /**
   * How the most recent call ran: `'resident'` (the wasm-resident executable, see `compileResident`)
   * or `'interpreted'` (`evalGraph`: the reference or a custom backend, traced inputs under `grad`
   * or `vmap`, a graph with no resident kernel, or a region too large for wasm memory), or
   * `'onnxruntime'` (the ONNX Runtime executor).
   */
  readonly lastRun: 'resident' | 'interpreted' | 'onnxruntime' | undefined
  /** The executable of the most recent resident call: its plan and copies. */
  readonly lastExecutable: ExecutableStats | undefined
  /** The executor asked for and the one the last concrete call ran on, with the reason if they differ. */
  readonly executor: JitExecutorStatus
}

/** A jitted function: the original's type, plus its staging statistics. @since 0.2.0 */
export type Jitted<F> = F & {
  /** The counts of traces and cache hits so far, and the last graph staged. */
  readonly stats: () => JitStats
}

const JIT_OPTIONS = optionSchema({
  staticArgnums: {
    expected: 'an array of argument indices',
    check: (v: unknown) => Array.isArray(v) && v.every((n) => Number.isInteger(n) && (n as number) >= 0),
  },
  executor: {
    expected: "'wasm' or 'onnxruntime'",
    check: (v: unknown) => v === 'wasm' || v === 'onnxruntime',
  },
  fallback: option.boolean,
  donate: {
    expected: 'an array of argument indices',
    check: (v: unknown) => Array.isArray(v) && v.every((n) => Number.isInteger(n) && (n as number) >= 0),
  },
})

/**
 * Stages `f` once per input signature (argument tree structure, each tensor's shape and dtype, the
 * values of static arguments) into a graph, optimises it (constant folding, common-subexpression
 * and dead-code elimination) and runs the optimised graph on every later call with that signature.
 * The graph runs with the ops themselves, so `grad(jit(f))`, `jit(grad(f))` and `vmap(jit(f))` all
 * work and agree with eager evaluation. `jitted.stats()` counts traces and cache hits. Tensors the
 * function closes over are captured as constants when it is staged (pass anything that changes
 * between calls as an argument); a value traced by a transformation outside is refused.
 * @example
 * import { jit, grad, mul, sum, tensor, show, type Tensor } from '@backfold/ops'
 * const loss = jit((x: Tensor) => sum(mul(x, x)))
 * loss(tensor([1, 2])) // 5; a second call with a [2] float32 tensor reuses the graph
 * const dloss = jit(grad(loss)) // the backward pass staged too
 * console.log(show(loss.stats().lastGraph!))
 * @since 0.2.0
 */
export const jit = <Args extends ReadonlyArray<unknown>, Out>(
  f: (...args: Args) => Out,
  opts: JitOptions = {},
): Jitted<(...args: Args) => Out> => {
  checkOptions('jit', opts, JIT_OPTIONS)
  const staticArgnums = new Set(opts.staticArgnums ?? [])
  const donated = [...new Set(opts.donate ?? [])]
  for (const n of donated)
    if (staticArgnums.has(n))
      throw new TraceError(
        'jit',
        `argument ${n} cannot be both static (staticArgnums) and donated (donate): only tensors are donated`,
      )
  const cache = new Map<string, Graph>()
  // Compiled lazily, on the first concrete call on the wasm backend (null: nothing to run resident).
  const executables = new Map<Graph, Executable | null>()
  let traces = 0
  let hits = 0
  let lastGraph: Graph | undefined
  let lastRun: JitStats['lastRun']
  // The executable of the last resident call; its stats are read when asked, not on every call.
  let lastExecutable: Executable | undefined
  const onnx = new OnnxExecutor(nameOf(f), opts.executor, opts.fallback ?? true)
  let previous: Signature | undefined
  const jitted = (...args: Args): Out => {
    const statics = args.map((arg, n) => (staticArgnums.has(n) ? staticKey(arg, n) : ''))
    const traced = args.map((arg, n) => (staticArgnums.has(n) ? undefined : flatten(arg)))
    const leaves = traced.flatMap((t) => (t === undefined ? [] : t.leaves))
    // Abstract leaves: values traced by a transformation outside, or tensors donated before.
    let concrete = true
    for (let i = 0; i < leaves.length; i++) {
      if (!isAbstract(leaves[i]!)) continue
      concrete = false
      const why = donationOf(leaves[i]!)
      if (why !== undefined) throw usedAfterDonation(nameOf(f), traced, i, why)
    }
    // A call with the previous call's signature (every step of a training loop) skips the key.
    const same = previous !== undefined && sameSignature(previous, traced, leaves, statics)
    let graph = same ? previous!.graph : cache.get(signature(traced, leaves, statics))
    if (graph !== undefined) hits++
    else {
      traces++
      // Static arguments are passed through as they are; the others are staged as abstract values.
      const dynamic = args.filter((_, n) => !staticArgnums.has(n))
      const rebuild = (dyn: ReadonlyArray<unknown>): Args => {
        let next = 0
        // Positions keep the caller's order: static ones from `args`, the rest from `dyn`.
        return args.map((arg, n) => (staticArgnums.has(n) ? arg : dyn[next++])) as unknown as Args
      }
      const named = { [nameOf(f)]: (...dyn: unknown[]) => f(...rebuild(dyn)) }[nameOf(f)]!
      const staged = makeGraph(named)(...dynamic)
      graph = fuseEpilogues(optimize(staged))
      cache.set(signature(traced, leaves, statics), graph)
      onnx.remember(graph, staged)
    }
    // Remembered only when it changed: a loop's steady calls allocate nothing for it.
    if (!same)
      previous = {
        defs: traced.map((t) => t?.def),
        types: leaves.map((x) => ({ dtype: x.dtype, shape: x.shape })),
        statics,
        graph,
      }
    lastGraph = graph
    // Traced inputs (grad, vmap, an enclosing jit) compose through evalGraph, which applies the ops.
    const outs = concrete ? runConcrete(graph, leaves) : evalGraph(graph, leaves)
    if (!concrete) lastRun = 'interpreted'
    else if (donated.length > 0) donate(args, traced, outs)
    return unflatten<Out>(graph.outTree, outs)
  }
  const runConcrete = (graph: Graph, leaves: ReadonlyArray<Tensor>): Tensor[] => {
    const onOnnx = onnx.run(graph, leaves)
    if (onOnnx !== undefined) {
      lastRun = 'onnxruntime'
      return onOnnx
    }
    onnx.ranElsewhere(onnx.current().reason)
    if (getBackend() === wasmBackend) {
      let executable = executables.get(graph)
      if (executable === undefined) {
        executable = compileResident(graph) ?? null
        executables.set(graph, executable)
      }
      const outs = executable?.run(leaves)
      if (outs !== undefined) {
        lastRun = 'resident'
        lastExecutable = executable!
        return outs
      }
    }
    lastRun = 'interpreted'
    return evalGraph(graph, leaves)
  }
  const why = `it was donated to the jitted function '${nameOf(f)}' (jit option donate), which may have written its results over its memory; use the tensors that call returned`
  // The donated arguments' tensors, invalidated unless returned as they are.
  const donate = (
    args: Args,
    traced: ReadonlyArray<{ readonly leaves: ReadonlyArray<Tensor> } | undefined>,
    outs: ReadonlyArray<Tensor>,
  ): void =>
    donateAllBut(
      donated.flatMap((n) => (n < args.length ? (traced[n]?.leaves ?? []) : [])),
      outs,
      why,
    )
  return Object.assign(jitted, {
    stats: (): JitStats => ({
      traces,
      hits,
      lastGraph,
      lastRun,
      lastExecutable: lastExecutable?.stats(),
      executor: onnx.current(),
    }),
  })
}

const nameOf = (f: { readonly name: string }): string => (f.name === '' ? 'jitted' : f.name)

/** The error for a call given a tensor donated before: which argument, and why it is gone. */
const usedAfterDonation = (
  name: string,
  traced: ReadonlyArray<{ readonly leaves: ReadonlyArray<Tensor> } | undefined>,
  leaf: number,
  why: string,
): TraceError => {
  let at = leaf
  const arg = traced.findIndex((t) => {
    if (t === undefined) return false
    if (at < t.leaves.length) return true
    at -= t.leaves.length
    return false
  })
  return new TraceError(name, `argument ${arg} (tensor ${at} of its tree) cannot be used: ${why}`)
}

const staticKey = (value: unknown, n: number): string => {
  try {
    const text = JSON.stringify(value)
    if (text !== undefined) return text
  } catch {
    // reported below
  }
  throw new TraceError(
    'jit',
    `static argument ${n} must be JSON-serialisable: its value is part of the cache key`,
  )
}

/** A call's signature as it came (see `sameSignature`), and the graph staged for it. */
interface Signature {
  readonly defs: ReadonlyArray<TreeDef | undefined>
  readonly types: ReadonlyArray<{ readonly dtype: string; readonly shape: ReadonlyArray<number> }>
  readonly statics: ReadonlyArray<string>
  readonly graph: Graph
}

/** Whether a call has the signature `s`: what `signature` would key the same, compared in place. */
const sameSignature = (
  s: Signature,
  traced: ReadonlyArray<{ readonly def: TreeDef } | undefined>,
  leaves: ReadonlyArray<Tensor>,
  statics: ReadonlyArray<string>,
): boolean => {
  if (leaves.length !== s.types.length || traced.length !== s.defs.length) return false
  for (let i = 0; i < statics.length; i++) if (statics[i] !== s.statics[i]) return false
  for (let i = 0; i < leaves.length; i++) {
    const x = leaves[i]!
    const t = s.types[i]!
    if (x.dtype !== t.dtype || x.shape.length !== t.shape.length) return false
    for (let j = 0; j < t.shape.length; j++) if (x.shape[j] !== t.shape[j]) return false
  }
  for (let i = 0; i < traced.length; i++) {
    const d = s.defs[i]
    const t = traced[i]
    if (d === undefined || t === undefined ? d !== t?.def : !sameStructure(d, t.def)) return false
  }
  return true
}

/** The cache key: each traced argument's structure, each leaf's dtype and shape, the static values. */
const signature = (
  traced: ReadonlyArray<{ readonly def: TreeDef } | undefined>,
  leaves: ReadonlyArray<Tensor>,
  statics: ReadonlyArray<string>,
): string =>
  JSON.stringify([
    traced.map((t) => (t === undefined ? null : t.def)),
    leaves.map((x) => `${x.dtype}[${x.shape.join(',')}]`),
    statics,
  ])
