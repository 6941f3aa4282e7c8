import { flatten, fmtShape, unflatten, type Tensor, type TreeDef } from '@backfold/tensor'
import { Tracer, TraceError, primalOf, type Trace } from '../core/trace'

/** Which positional arguments a transformation differentiates: one index or several. @since 0.1.0 */
export type Argnums = number | ReadonlyArray<number>

/** The gradient type for `argnums`: the argument's own type, or a tuple of them. @since 0.1.0 */
export type GradOf<Args extends ReadonlyArray<unknown>, N extends Argnums> = N extends number
  ? Args[N]
  : { -readonly [K in keyof N]: Args[N[K] & number] }

/**
 * What `vjp`'s pullback returns: one cotangent tree per differentiated argument, in argnums order,
 * each typed like its argument (a tuple even for a single index).
 * @since 0.2.0
 */
export type CotangentsOf<Args extends ReadonlyArray<unknown>, N extends Argnums> = N extends number
  ? [Args[N]]
  : GradOf<Args, N>

/** One tree per argument, typed like the arguments: the pullback's result when every argument is differentiated. @since 0.2.0 */
export type ArgTrees<Args extends ReadonlyArray<unknown>> = { -readonly [K in keyof Args]: Args[K] }

/** Resolves argnums to a list of distinct valid indices. @internal */
export const resolveArgnums = (transform: string, argnums: Argnums, count: number): number[] => {
  const list = typeof argnums === 'number' ? [argnums] : [...argnums]
  for (const n of list) {
    if (!Number.isInteger(n) || n < 0 || n >= count)
      throw new TraceError(
        transform,
        `argnums ${n} is out of range: the function was called with ${count} arguments`,
      )
  }
  if (new Set(list).size !== list.length)
    throw new TraceError(transform, `argnums [${list.join(',')}] repeats an index`)
  return list
}

/** The differentiated arguments, wrapped as tracers of `trace`. @internal */
export interface WrappedArgs {
  readonly args: unknown[]
  /** One entry per differentiated argument: its structure and its tracer leaves. */
  readonly inputs: ReadonlyArray<{ readonly def: TreeDef; readonly tracers: ReadonlyArray<Tracer> }>
}

/** Replaces the tensors of each differentiated argument with fresh tracers of `trace`. @internal */
export const wrapArgs = (
  transform: string,
  trace: Trace,
  args: ReadonlyArray<unknown>,
  argnums: ReadonlyArray<number>,
): WrappedArgs => {
  const out = [...args]
  const inputs = argnums.map((n) => {
    const { leaves, def } = flatten(args[n])
    const tracers = leaves.map((leaf, j) => {
      if (leaf.dtype === 'int32')
        throw new TraceError(
          transform,
          `argument ${n} (leaf ${j}, shape ${fmtShape(leaf.shape)}) is int32 and cannot be differentiated; ` +
            `cast it with astype(x, 'float32') or leave it out of argnums`,
        )
      return new Tracer(trace, leaf, undefined)
    })
    out[n] = unflatten(def, tracers)
    return { def, tracers }
  })
  return { args: out, inputs }
}

/** Strips `trace` from every tensor of a tree (the caller sees values, not tracers). @internal */
export const unwrapTree = <T>(tree: T, trace: Trace): T => {
  const { leaves, def } = flatten(tree)
  return unflatten<T>(
    def,
    leaves.map((x) => primalOf(x, trace)),
  )
}

/** Regroups flat per-leaf cotangents into one tree per differentiated argument. @internal */
export const regroup = (inputs: WrappedArgs['inputs'], flat: ReadonlyArray<Tensor>): unknown[] => {
  let offset = 0
  return inputs.map(({ def, tracers }) => {
    const part = flat.slice(offset, offset + tracers.length)
    offset += tracers.length
    return unflatten(def, part)
  })
}
