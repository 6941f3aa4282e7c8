import { BackfoldError, type Tensor } from '@backfold/tensor'
import type { Op } from './op'

/** Thrown when a transformation is misused (escaped traced value, bad cotangent, int32 argument). @since 0.1.0 */
export class TraceError extends BackfoldError {
  constructor(op: string, message: string) {
    super('TraceError', op, message)
  }
}

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

let nextLevel = 0

/** Opens a new trace nested inside every live one. @internal */
export const openTrace = (): Trace => new Trace(++nextLevel)

/** The operation that produced a traced value. @internal */
export interface Node {
  /** Any op: `Op<P>` is assignable to `Op<never>`, and `params` below is the `P` it was applied with. */
  readonly op: Op<never>
  /** The inputs as the op received them: tracers of this trace or constants w.r.t. it. */
  readonly inputs: ReadonlyArray<Tensor>
  readonly params: unknown
}

/**
 * A value flowing through a transformation: it behaves as a tensor (its dtype, shape and data are
 * its primal's) and remembers how it was computed. Users never construct one.
 * @since 0.1.0
 */
export class Tracer implements Tensor {
  constructor(
    readonly trace: Trace,
    /** The value at the next level down: a concrete tensor or a tracer of an enclosing transformation. */
    readonly primal: Tensor,
    /** How this value was computed; `undefined` for an input of the transformation. */
    readonly node: Node | undefined,
  ) {}
  get dtype(): Tensor['dtype'] {
    return this.primal.dtype
  }
  get shape(): Tensor['shape'] {
    return this.primal.shape
  }
  get data(): Tensor['data'] {
    return this.primal.data
  }
}

/** The innermost live trace among `xs`, or `undefined` when none is traced. @internal */
export const topTrace = (xs: ReadonlyArray<Tensor>, opName: string): Trace | undefined => {
  let top: Trace | undefined
  for (const x of xs) {
    if (x instanceof Tracer) {
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

/** Removes every level of tracing: the concrete tensor underneath. @since 0.1.0 */
export const concrete = (x: Tensor): Tensor => {
  let v = x
  while (v instanceof Tracer) v = v.primal
  return v
}
