import { flatten, fmtShape, isTensor, unflatten, type Tensor, type TreeDef } from '@backfold/tensor'
import { BatchTracer, TraceError, openBatchTrace, type BatchTrace } from '../core/trace'
import { checkOptions, optionSchema } from '../core/options'
import { batchAtFront, moveAxis } from '../core/batching'

/**
 * Where one argument (or the output) holds its examples: an axis for every tensor of it, `null` for
 * not mapped (the same value for every example), or a tree of those with the argument's structure.
 * @since 0.2.0
 */
export type AxisSpec = number | null | ReadonlyArray<AxisSpec> | { readonly [key: string]: AxisSpec }

/** Options of `vmap`. @since 0.2.0 */
export interface VmapOptions {
  /**
   * One spec for all arguments, or one per positional argument (default 0: every tensor of every
   * argument is mapped along its first axis). Negative axes count from the end.
   */
  readonly inAxes?: number | null | ReadonlyArray<AxisSpec>
  /** Where the outputs hold their examples (default 0); `null` for outputs that must not vary. */
  readonly outAxes?: AxisSpec
}

const VMAP_OPTIONS = optionSchema({
  inAxes: {
    expected: 'an axis, null, or an array with one axis spec per argument',
    check: (v: unknown) => v === null || typeof v === 'number' || Array.isArray(v),
  },
  outAxes: {
    expected: 'an axis, null, or a tree of them shaped like the output',
    check: (v: unknown) => v === null || typeof v === 'number' || (typeof v === 'object' && v !== null),
  },
})

/**
 * Vectorising map: `vmap(f)` applies `f`, written for one example, to a batch of examples at once.
 * Each op runs its batching rule on the whole batch (no loop), so `vmap` composes with `grad`,
 * `jvp`, `vjp` and itself: `vmap(grad(loss), { inAxes: [null, 0, 0] })(params, xs, ys)` gives
 * per-example gradients. Arguments and results are trees of tensors.
 * @example
 * import { vmap, grad, dot, sum, mul, tensor, type Tensor } from '@backfold/ops'
 * vmap(dot)(tensor([[1, 2], [3, 4]]), tensor([[1, 1], [2, 2]])) // [3, 14]: one dot per row
 * // per-example gradients of a squared error, the parameters shared (null):
 * const loss = (w: Tensor, x: Tensor) => sum(mul(mul(w, x), mul(w, x)))
 * vmap(grad(loss), { inAxes: [null, 0] })(tensor([1, 2]), tensor([[1, 0], [0, 1]])) // [[2, 0], [0, 8]]
 * @throws TraceError when mapped axes disagree in size, an axis is out of range, nothing is mapped,
 *   or an output marked `null` in `outAxes` varies across the examples.
 * @since 0.2.0
 */
export const vmap = <Args extends ReadonlyArray<unknown>, Out>(
  f: (...args: Args) => Out,
  opts: VmapOptions = {},
): ((...args: Args) => Out) => {
  checkOptions('vmap', opts, VMAP_OPTIONS)
  return (...args: Args): Out => {
    const inAxes = opts.inAxes === undefined ? 0 : opts.inAxes
    if (Array.isArray(inAxes) && inAxes.length !== args.length)
      throw new TraceError(
        'vmap',
        `inAxes has ${inAxes.length} entries but the function was called with ${args.length} arguments; give one per argument`,
      )
    const mapped = args.map((arg, n) => {
      const spec: AxisSpec = Array.isArray(inAxes) ? (inAxes[n] as AxisSpec) : (inAxes as number | null)
      const { leaves, def } = flatten(arg)
      const axes = axesFor(spec, def, `inAxes[${n}]`)
      return {
        leaves,
        def,
        axes: leaves.map((leaf, j) => normalize(axes[j]!, leaf, `argument ${n}, leaf ${j}`)),
      }
    })
    const size = commonSize(
      mapped.flatMap(({ leaves, axes }) => leaves.map((leaf, j) => [leaf, axes[j]] as const)),
    )
    const trace = openBatchTrace(size)
    let out: Out
    try {
      const wrapped = mapped.map(({ leaves, def, axes }) =>
        unflatten(
          def,
          leaves.map((leaf, j) => {
            const axis = axes[j]
            return axis === undefined ? leaf : new BatchTracer(trace, leaf, axis)
          }),
        ),
      )
      // The wrapped arguments have the caller's structure, tensors replaced by batch tracers (tensors).
      out = f(...(wrapped as unknown as Args))
    } finally {
      trace.close()
    }
    const { leaves, def } = flatten(out)
    const outAxes = axesFor(opts.outAxes === undefined ? 0 : opts.outAxes, def, 'outAxes')
    return unflatten<Out>(
      def,
      leaves.map((leaf, j) => unwrap(leaf, outAxes[j]!, trace, j)),
    )
  }
}

/** One axis (or null) per leaf of `def`, from a spec that is one axis for all or a tree like it. */
const axesFor = (spec: AxisSpec, def: TreeDef, where: string): Array<number | null> => {
  const out: Array<number | null> = []
  const walk = (s: AxisSpec, d: TreeDef, path: string): void => {
    if (s === null || typeof s === 'number') {
      if (s !== null && !Number.isInteger(s))
        throw new TraceError('vmap', `${path} must be an integer axis or null, got ${s}`)
      const count = countLeaves(d)
      for (let i = 0; i < count; i++) out.push(s)
      return
    }
    if (d.kind === 'array' && Array.isArray(s) && s.length === d.children.length) {
      d.children.forEach((child, i) => walk((s as ReadonlyArray<AxisSpec>)[i]!, child, `${path}[${i}]`))
      return
    }
    if (d.kind === 'record' && !Array.isArray(s)) {
      const record = s as { readonly [key: string]: AxisSpec }
      const keys = Object.keys(record)
      if (
        keys.length === d.keys.length &&
        d.keys.every((k) => Object.prototype.hasOwnProperty.call(record, k))
      ) {
        d.keys.forEach((k, i) => walk(record[k]!, d.children[i]!, `${path}.${k}`))
        return
      }
    }
    throw new TraceError(
      'vmap',
      `${path} does not have the structure of the value it describes; give one axis (or null) for all of it, or a tree with the same keys and lengths`,
    )
  }
  walk(spec, def, where)
  return out
}

const countLeaves = (def: TreeDef): number =>
  def.kind === 'leaf' ? 1 : def.kind === 'constant' ? 0 : def.children.reduce((n, c) => n + countLeaves(c), 0)

const normalize = (axis: number | null, leaf: Tensor, where: string): number | undefined => {
  if (axis === null) return undefined
  const rank = leaf.shape.length
  if (axis < -rank || axis >= rank)
    throw new TraceError(
      'vmap',
      `${where} of shape ${fmtShape(leaf.shape)} has no axis ${axis} to map over (expected -${rank} <= axis < ${rank})`,
    )
  return axis < 0 ? axis + rank : axis
}

const commonSize = (leaves: ReadonlyArray<readonly [Tensor, number | undefined]>): number => {
  let size: number | undefined
  const sizes: string[] = []
  for (const [leaf, axis] of leaves) {
    if (axis === undefined) continue
    const n = leaf.shape[axis]!
    sizes.push(`${n} (axis ${axis} of ${fmtShape(leaf.shape)})`)
    if (size === undefined) size = n
    else if (n !== size)
      throw new TraceError('vmap', `mapped axes must have one size; got ${sizes.join(', ')}`)
  }
  if (size === undefined)
    throw new TraceError('vmap', 'no argument is mapped: give at least one tensor an axis in inAxes')
  return size
}

/** One output leaf as the caller sees it: its examples along `outAxis`, or refused if it must not vary. */
const unwrap = (leaf: Tensor, outAxis: number | null, trace: BatchTrace, index: number): Tensor => {
  if (!isTensor(leaf)) return leaf
  const ours = leaf instanceof BatchTracer && leaf.trace === trace
  if (outAxis === null) {
    if (ours)
      throw new TraceError(
        'vmap',
        `output leaf ${index} differs between examples, but outAxes gives it null; give it an axis`,
      )
    return leaf
  }
  const rank = leaf.shape.length + 1
  if (outAxis < -rank || outAxis >= rank)
    throw new TraceError(
      'vmap',
      `outAxes ${outAxis} is out of range for output leaf ${index} of example shape ${fmtShape(leaf.shape)}`,
    )
  const at = outAxis < 0 ? outAxis + rank : outAxis
  // An output that does not depend on the mapped inputs is the same for every example: repeat it.
  return ours
    ? moveAxis(leaf.value, leaf.axis, at)
    : moveAxis(batchAtFront(leaf, undefined, trace.axisSize), 0, at)
}
