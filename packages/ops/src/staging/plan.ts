// Liveness and buffer planning for an executable: each value's last use in the optimised graph,
// and byte offsets in one region such that a value's buffer is reused once the value is dead, and
// an elementwise step may write its result over a dead input. Independent of any backend: the
// wasm-resident executable (executable.ts) lays its values out with it.
import type { Equation, Graph, Var } from './graph'

/**
 * The index of the last equation that reads each value; graph outputs are read "after the last
 * equation" (`graph.equations.length`), and a value nothing reads has no entry.
 * @example
 * lastUses(makeGraph((x: Tensor) => exp(neg(x)))(x)) // x → 0, neg's output → 1, exp's → 2 (an output)
 * @since 0.2.0
 */
export const lastUses = (graph: Graph): Map<number, number> => {
  const last = new Map<number, number>()
  graph.equations.forEach((eq, i) => {
    for (const v of eq.inputs) last.set(v.id, i)
  })
  for (const v of graph.outputs) last.set(v.id, graph.equations.length)
  return last
}

/** What a buffer plan needs to know about the executable's steps. @since 0.2.0 */
export interface PlanRules {
  /** Whether a value lives in the region (others live outside it, e.g. as ordinary tensors). */
  readonly resident: (v: Var) => boolean
  /** The bytes a buffer for `v` takes (its elements and any padding the kernels need). */
  readonly bytes: (v: Var) => number
  /** The input whose buffer the equation's output shares (a reshape: same data), if any. */
  readonly alias?: (eq: Equation) => Var | undefined
  /** Inputs of the equation it may overwrite with its output (an elementwise step reading them whole). */
  readonly inPlace?: (eq: Equation) => ReadonlyArray<Var>
  /**
   * Values that get a buffer of their own for the whole run: allocated before the first step (at
   * their exact size), never reused for another value and never written over in place. For graph
   * inputs, constants and outputs computed by an equation (not aliases): what the buffers hold
   * after a run is then exactly the inputs, constants and outputs, so a caller may keep values in
   * the region across runs, or exchange an input's buffer with an output's of the same size.
   */
  readonly pinned?: (v: Var) => boolean
}

/** Where each resident value lives, relative to the region's start. @since 0.2.0 */
export interface BufferPlan {
  /** Byte offset of each resident value's buffer (aliases and in-place results share one). */
  readonly offsets: ReadonlyMap<number, number>
  /** Bytes of the whole region: the most that is live at once, plus fragmentation. */
  readonly bytes: number
  /** Bytes the values would take with one buffer each (what reuse saves, for reports). */
  readonly unsharedBytes: number
  /** Distinct buffers. */
  readonly buffers: number
  /** Equations (by index) whose output was written over one of their inputs. */
  readonly inPlace: ReadonlySet<number>
  /** Each value's last use (see `lastUses`). */
  readonly lastUse: ReadonlyMap<number, number>
  /** Values (by id) with a pinned buffer of their own (see `PlanRules.pinned`). */
  readonly pinned: ReadonlySet<number>
}

interface Storage {
  readonly bytes: number
  offset: number
  /** The last step that reads any value stored here; Infinity while an output lives here. */
  last: number
}

/**
 * Assigns buffers in one pass over the equations: the graph's resident inputs and constants first,
 * then each equation's output, into the smallest free buffer that fits (else a new one at the end
 * of the region), or over an input that dies at this equation when `rules.inPlace` allows it.
 * A buffer is freed after the last equation that reads any value stored in it; outputs are never
 * freed. Inputs and outputs of one equation never share a buffer unless in place.
 * @example
 * const graph = makeGraph((v: Tensor) => relu(matmul(v, w)))(x)
 * const plan = planBuffers(graph, { resident: () => true, bytes: (v) => 4 * T.sizeOf(v.shape) })
 * plan.bytes // at most the sum of every value's bytes
 * @since 0.2.0
 */
export const planBuffers = (graph: Graph, rules: PlanRules): BufferPlan => {
  const lastUse = lastUses(graph)
  const storageOf = new Map<number, Storage>()
  const storages: Storage[] = []
  // Liveness of a buffer: the latest use of every value stored in it (aliases extend it).
  const aliasOf = new Map<number, number>()
  graph.equations.forEach((eq) => {
    const source = rules.alias?.(eq)
    if (source !== undefined && rules.resident(eq.output) && rules.resident(source))
      aliasOf.set(eq.output.id, aliasOf.get(source.id) ?? source.id)
  })
  const rootLast = new Map<number, number>()
  const outputs = new Set(graph.outputs.map((v) => v.id))
  const lastOf = (id: number): number => (outputs.has(id) ? Infinity : (lastUse.get(id) ?? -Infinity))
  for (const id of new Set([...lastUse.keys(), ...graph.equations.map((eq) => eq.output.id)])) {
    const root = aliasOf.get(id) ?? id
    rootLast.set(root, Math.max(rootLast.get(root) ?? -Infinity, lastOf(id)))
  }
  const free: Array<{ offset: number; bytes: number }> = []
  let end = 0
  let unsharedBytes = 0
  const allocate = (v: Var): Storage => {
    const bytes = rules.bytes(v)
    unsharedBytes += bytes
    let best = -1
    free.forEach((block, k) => {
      if (block.bytes >= bytes && (best < 0 || block.bytes < free[best]!.bytes)) best = k
    })
    let offset: number
    let size = bytes
    if (best >= 0) {
      offset = free[best]!.offset
      size = free[best]!.bytes
      free.splice(best, 1)
    } else {
      offset = end
      end += bytes
    }
    const storage: Storage = { bytes: size, offset, last: rootLast.get(v.id) ?? -Infinity }
    storages.push(storage)
    return storage
  }
  const release = (storage: Storage): void => {
    free.push({ offset: storage.offset, bytes: storage.bytes })
  }
  const define = (v: Var): void => {
    const storage = allocate(v)
    storageOf.set(v.id, storage)
  }
  const pinned = (v: Var): boolean => rules.resident(v) && (rules.pinned?.(v) ?? false)
  const pinnedIds = new Set<number>()
  // Inputs and constants are written before the first step; pinned outputs get their buffers then too.
  const sources = [...graph.inputs, ...graph.constants.map((c) => c.variable)]
  for (const v of sources) if (rules.resident(v) && !storageOf.has(v.id)) define(v)
  const computed = new Set(graph.equations.map((eq) => eq.output.id))
  for (const v of graph.outputs)
    if (computed.has(v.id) && !aliasOf.has(v.id) && pinned(v) && !storageOf.has(v.id)) {
      define(v)
      pinnedIds.add(v.id)
    }
  for (const v of sources) {
    const storage = storageOf.get(v.id)
    if (storage === undefined) continue
    if (pinned(v)) {
      storage.last = Infinity
      pinnedIds.add(v.id)
    } else if (storage.last < 0) release(storage)
  }
  const inPlace = new Set<number>()
  graph.equations.forEach((eq, i) => {
    const v = eq.output
    if (rules.resident(v) && !storageOf.has(v.id)) {
      const source = aliasOf.has(v.id) ? storageOf.get(aliasOf.get(v.id)!) : undefined
      if (source !== undefined) storageOf.set(v.id, source)
      else {
        const reused = (rules.inPlace?.(eq) ?? []).find((x) => {
          const s = storageOf.get(x.id)
          return (
            s !== undefined &&
            s.last === i &&
            s.bytes >= rules.bytes(v) &&
            // Every operand in that buffer must be read whole (at the same index it is written).
            eq.inputs.every((y) => storageOf.get(y.id) !== s || (rules.inPlace?.(eq) ?? []).includes(y))
          )
        })
        const taken = reused === undefined ? undefined : storageOf.get(reused.id)
        if (taken !== undefined) {
          unsharedBytes += rules.bytes(v)
          taken.last = rootLast.get(v.id) ?? -Infinity
          storageOf.set(v.id, taken)
          inPlace.add(i)
        } else define(v)
      }
    }
    // Buffers whose values are all read for the last time here (or never read) are free again.
    const dying = new Set<Storage>()
    for (const x of [...eq.inputs, v]) {
      const s = storageOf.get(x.id)
      if (s !== undefined && s.last <= i) dying.add(s)
    }
    for (const s of dying) {
      release(s)
      s.last = Infinity
    }
  })
  return {
    offsets: new Map([...storageOf].map(([id, s]) => [id, s.offset])),
    bytes: end,
    unsharedBytes,
    buffers: storages.length,
    inPlace,
    lastUse,
    pinned: pinnedIds,
  }
}
