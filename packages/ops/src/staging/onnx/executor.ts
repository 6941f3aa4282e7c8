// jit's ONNX Runtime executor: the graph after the generic passes (constant folding, CSE, DCE; not
// the wasm executor's fusions, ONNX Runtime fuses itself) lowered through the ops' `onnx` rules,
// one InferenceSession per staged signature, run synchronously (runtime.ts). Anything that stops
// it (no onnxruntime-node, an op without a lowering, a kernel ONNX Runtime lacks for a dtype) makes
// jit run that graph on the wasm executor and records why, unless the caller said `fallback: false`.
import { getThreads, TraceError, type Tensor } from '@backfold/tensor'
import type { Graph } from '../graph'
import { eliminateCommonSubexpressions, eliminateDeadCode, foldConstants } from '../passes'
import { OnnxUnsupported } from './builder'
import { lowerGraph } from './lower'
import { createSession, loaderGeneration, onnxRuntime, type OrtSession } from './runtime'

/**
 * Where a jitted function's graphs run: `'wasm'` (the default: backfold's own kernels, fused and
 * wasm-resident) or `'onnxruntime'` (ONNX Runtime's native CPU kernels, Node only, with
 * onnxruntime-node installed).
 * @since 0.2.0
 */
export type Executor = 'wasm' | 'onnxruntime'

let defaultExecutor: Executor = 'wasm'

/**
 * Sets the executor of every jitted function that names none (`jit(f)` without `executor`,
 * `makeTrainStep`, `fit`), from its next call on.
 * @example
 * import { setDefaultExecutor, jit, sum, tensor, type Tensor } from '@backfold/ops'
 * setDefaultExecutor('onnxruntime') // falls back to wasm, with the reason in executorStatus(), where it cannot run
 * jit((x: Tensor) => sum(x))(tensor([1, 2]))
 * setDefaultExecutor('wasm')
 * @since 0.2.0
 */
export const setDefaultExecutor = (executor: Executor): void => {
  if (executor !== 'wasm' && executor !== 'onnxruntime')
    throw new TraceError(
      'setDefaultExecutor',
      `executor must be 'wasm' or 'onnxruntime', got ${String(executor)}`,
    )
  defaultExecutor = executor
}

/** The executor of jitted functions that name none (see `setDefaultExecutor`). @since 0.2.0 */
export const getDefaultExecutor = (): Executor => defaultExecutor

/**
 * Which executor one jitted function used on its last concrete call, and why.
 * @since 0.2.0
 */
export interface JitExecutorStatus {
  /** The executor asked for (its `executor` option, else the default at the call). */
  readonly requested: Executor
  /** The executor that ran the last concrete call (`undefined` before one). */
  readonly running: Executor | undefined
  /** Why `running` differs from `requested`: the package is missing, an op has no lowering, ... */
  readonly reason?: string
  /** Milliseconds ONNX Runtime took to create the last call's session (load, optimise, plan). */
  readonly sessionCreateMs?: number
}

/**
 * Whether ONNX Runtime can run here and the default executor.
 * @since 0.2.0
 */
export interface ExecutorStatus {
  readonly defaultExecutor: Executor
  readonly onnxruntime:
    | { readonly available: true; readonly version: string }
    | { readonly available: false; readonly reason: string }
}

/**
 * The executor status: of the process (whether onnxruntime-node loads here, and why not; the
 * default executor), or of one jitted function (`executorStatus(jitted)`: the executor its last call
 * ran on, and why it is not the one asked for).
 * @example
 * import { executorStatus, jit, sum, tensor, type Tensor } from '@backfold/ops'
 * const f = jit((x: Tensor) => sum(x), { executor: 'onnxruntime' })
 * f(tensor([1, 2]))
 * executorStatus(f) // { requested: 'onnxruntime', running: 'onnxruntime' } or running: 'wasm' and the reason
 * executorStatus().onnxruntime // { available: true, version: '1.23.2' } or { available: false, reason }
 * @since 0.2.0
 */
export function executorStatus(): ExecutorStatus
export function executorStatus(jitted: {
  readonly stats: () => { readonly executor: JitExecutorStatus }
}): JitExecutorStatus
export function executorStatus(jitted?: {
  readonly stats: () => { readonly executor: JitExecutorStatus }
}): ExecutorStatus | JitExecutorStatus {
  if (jitted !== undefined) return jitted.stats().executor
  const runtime = onnxRuntime()
  return {
    defaultExecutor,
    onnxruntime:
      'module' in runtime
        ? { available: true, version: runtime.module.version }
        : { available: false, reason: runtime.error },
  }
}

/** The passes before fusion: what the ONNX executor lowers. */
const genericPasses = (graph: Graph): Graph =>
  eliminateDeadCode(eliminateCommonSubexpressions(foldConstants(graph)))

type Compiled = { readonly session: OrtSession } | { readonly reason: string }

/**
 * One jitted function's ONNX Runtime executor: its sessions (one per staged graph, remade when the
 * thread count or the loader changes) and its status. `run` returns undefined to fall back.
 * @internal
 */
export class OnnxExecutor {
  private readonly compiled = new Map<Graph, Compiled>()
  private readonly staged = new WeakMap<Graph, Graph>()
  private status: JitExecutorStatus

  constructor(
    private readonly functionName: string,
    private readonly option: Executor | undefined,
    private readonly fallback: boolean,
  ) {
    this.status = { requested: option ?? defaultExecutor, running: undefined }
  }

  /** Remembers the graph as staged (before the passes) for the optimised `graph` jit caches. */
  remember(graph: Graph, staged: Graph): void {
    this.staged.set(graph, staged)
  }

  /** The executor asked for now. */
  requested(): Executor {
    return this.option ?? defaultExecutor
  }

  /** jit ran this call itself (wasm-resident or interpreted). */
  ranElsewhere(reason?: string): void {
    const requested = this.requested()
    // Called on every concrete call that jit runs itself: the status is only rebuilt when it changes.
    const now = this.status
    if (
      now.requested === requested &&
      now.running === 'wasm' &&
      (requested === 'wasm' || now.reason === reason)
    )
      return
    this.status =
      requested === 'wasm' || reason === undefined
        ? { requested, running: 'wasm' }
        : { requested, running: 'wasm', reason }
  }

  current(): JitExecutorStatus {
    return this.status
  }

  /** Runs `graph` on ONNX Runtime, or returns undefined (status updated) for jit to run it. */
  run(graph: Graph, leaves: ReadonlyArray<Tensor>): Tensor[] | undefined {
    if (this.requested() !== 'onnxruntime') return undefined
    const compiled = this.compile(graph)
    if ('reason' in compiled) return this.giveUp(compiled.reason)
    let outs: Tensor[]
    try {
      outs = compiled.session.run(leaves)
    } catch (error) {
      // A data-dependent failure (an index out of range, ...): the wasm executor reports it in backfold's words.
      return this.giveUp(
        `onnxruntime failed while running: ${error instanceof Error ? error.message : String(error)}`,
      )
    }
    this.status = {
      requested: 'onnxruntime',
      running: 'onnxruntime',
      sessionCreateMs: compiled.session.createMs,
    }
    return outs
  }

  private giveUp(reason: string): undefined {
    if (!this.fallback)
      throw new TraceError(
        'jit',
        `function ${this.functionName} asked for executor 'onnxruntime' with fallback: false, but ${reason}`,
      )
    this.status = { requested: 'onnxruntime', running: 'wasm', reason }
    return undefined
  }

  private compile(graph: Graph): Compiled {
    const runtime = onnxRuntime()
    if ('error' in runtime) return { reason: runtime.error }
    const threads = getThreads()
    const cached = this.compiled.get(graph)
    if (
      cached !== undefined &&
      ('reason' in cached ||
        (cached.session.threads === threads && cached.session.generation === loaderGeneration()))
    )
      return cached
    if (cached !== undefined && 'session' in cached) cached.session.dispose()
    let result: Compiled
    try {
      const lowered = genericPasses(this.staged.get(graph) ?? graph)
      const model = lowerGraph(lowered)
      try {
        result = { session: createSession(runtime.module, model, lowered.outputs, threads) }
      } catch (error) {
        result = {
          reason: `onnxruntime refused the lowered graph: ${error instanceof Error ? error.message : String(error)}`,
        }
      }
    } catch (error) {
      if (!(error instanceof OnnxUnsupported)) throw error
      result = { reason: error.reason }
    }
    this.compiled.set(graph, result)
    return result
  }
}
