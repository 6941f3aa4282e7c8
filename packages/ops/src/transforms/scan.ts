import {
  flatten,
  fmtShape,
  sameStructure,
  shapesEqual,
  unflatten,
  zeros,
  ValueError,
  type Tensor,
  type TreeDef,
} from '@backfold/tensor'
import { backward } from '../core/fold'
import {
  BatchTrace,
  currentSubstitutions,
  GraphTrace,
  openTrace,
  substitute,
  topTrace,
  TraceError,
  Tracer,
  withSubstitutions,
  type Trace,
} from '../core/trace'
import { checkOptions, option, optionSchema } from '../core/options'
import { add } from '../binary/add'
import { slice } from '../indexing/slice'
import { stack } from '../indexing/stack'
import { reshape } from '../shape/reshape'
import { closedOverValues, multiOutputNode, primalsOf } from './closure'

/** Options of `scan`. @since 0.2.0 */
export interface ScanOptions {
  /** Run from the last step to the first (ys stay in the order of xs). Default false. */
  readonly reverse?: boolean | undefined
  /** The number of steps: required when `xs` has no leaves, else it must equal their leading size. */
  readonly length?: number | undefined
}

const OPTIONS = optionSchema({ reverse: option.boolean, length: option.integer })

/** A body on flat leaves: carry leaves and one step's x leaves to new carry leaves and y leaves. */
type FlatBody = (carry: Tensor[], x: Tensor[]) => readonly [Tensor[], Tensor[]]

/** Step `t` of a stacked leaf (its leading axis dropped). */
const stepOf = (x: Tensor, t: number): Tensor =>
  reshape(slice(x, [{ start: t, stop: t + 1 }]), x.shape.slice(1))

/**
 * The scan on flat leaves. Three cases, by the innermost transformation among the carry, the xs and
 * the values the body closed over (found by running it once on a probe trace):
 * - none, `vmap` or staging: a plain loop of the body's ops (under `jit` the graph unrolls it);
 * - a differentiation (`grad`, `vjp`): one node on that trace for the whole scan (see `differentiable`).
 */
const scanFlat = (
  body: FlatBody,
  carry: Tensor[],
  xs: Tensor[],
  n: number,
  reverse: boolean,
): readonly [Tensor[], Tensor[]] => {
  const first = reverse ? n - 1 : 0
  const nc = carry.length
  const closed = closedOverValues([...carry, ...xs.map((x) => stepOf(x, first))], (leaves) =>
    body(leaves.slice(0, nc), leaves.slice(nc)),
  )
  const top = topTrace([...carry, ...xs, ...closed], 'scan')
  if (top === undefined || top instanceof BatchTrace || top instanceof GraphTrace) {
    let c = carry
    const ys: Tensor[][] = []
    for (let k = 0; k < n; k++) {
      const t = reverse ? n - 1 - k : k
      const [next, y] = body(
        c,
        xs.map((x) => stepOf(x, t)),
      )
      c = next
      ys[t] = y
    }
    return [c, ys[0]!.map((_, j) => stack(ys.map((y) => y[j]!)))]
  }
  const own = closed.filter((w) => w instanceof Tracer && w.trace === top)
  return differentiable(
    top,
    body,
    carry,
    xs,
    own,
    closed.filter((w) => !own.includes(w)),
    n,
    reverse,
  )
}

/**
 * `scan` under a differentiation `trace`: the forward pass is a scan one level down (values a body
 * closed over stand in as their primals) that also emits each step's input carry, so the residuals
 * are the stacked carries; the whole scan is one node (several outputs) on `trace`. Its VJP is a
 * scan in the other direction whose body recomputes one step under a fresh trace and folds it back
 * (the cotangents of the closed-over values are summed in its carry). Values of other traces the
 * body closed over (`others`) are inputs of the node too, without cotangent, so that an enclosing
 * scan's or remat's probe walking this node still finds them. Both scans are ordinary
 * scans one level down, so an enclosing differentiation (second order) records them the same way.
 */
const differentiable = (
  trace: Trace,
  body: FlatBody,
  carry: Tensor[],
  xs: Tensor[],
  closed: Tensor[],
  others: Tensor[],
  n: number,
  reverse: boolean,
): readonly [Tensor[], Tensor[]] => {
  const nc = carry.length
  const nx = xs.length
  const pCarry = primalsOf(carry, trace)
  const pXs = primalsOf(xs, trace)
  const pClosed = primalsOf(closed, trace)
  // Replacements made by enclosing scans, still needed when the VJP re-runs the body after they end.
  const context = currentSubstitutions()
  const [carryOut, ysAndCarries] = withSubstitutions(new Map(closed.map((w, i) => [w, pClosed[i]!])), () =>
    scanFlat(
      (c, x) => {
        const [next, y] = body(c, x)
        return [next, [...y, ...c]]
      },
      pCarry,
      pXs,
      n,
      reverse,
    ),
  )
  const ny = ysAndCarries.length - nc
  const ys = ysAndCarries.slice(0, ny)
  const carries = ysAndCarries.slice(ny)
  if ([...carryOut, ...ys].some((o) => o instanceof Tracer && o.trace === trace))
    throw new TraceError(
      'scan',
      'the body used a value being differentiated at a later step that it did not use at its first ' +
        'step; a scan body must apply the same ops at every step',
    )
  const backBody: FlatBody = (acc, step) => {
    const [c, x, ctY] = [step.slice(0, nc), step.slice(nc, nc + nx), step.slice(nc + nx)]
    const inner = openTrace()
    const wrap = (v: Tensor): Tracer => new Tracer(inner, v, undefined)
    const [cB, xB, wB] = [c.map(wrap), x.map(wrap), pClosed.map(wrap)]
    let out: readonly [Tensor[], Tensor[]]
    try {
      out = withSubstitutions(new Map([...context, ...closed.map((w, i) => [w, wB[i]!] as const)]), () =>
        body(cB, xB),
      )
    } finally {
      inner.close()
    }
    const cts = backward(inner, [...out[0], ...out[1]], [...acc.slice(0, nc), ...ctY], [...cB, ...xB, ...wB])
    const ctW = acc.slice(nc).map((a, i) => add(a, cts[nc + nx + i]!))
    return [[...cts.slice(0, nc), ...ctW], cts.slice(nc, nc + nx)]
  }
  const outputs = multiOutputNode(
    'scan',
    trace,
    [...carry, ...xs, ...closed, ...others],
    [...carryOut, ...ys],
    (cts) => {
      const ctW0 = pClosed.map((w) => zeros(w.shape, w.dtype))
      const [acc, ctXs] = scanFlat(
        backBody,
        [...cts.slice(0, nc), ...ctW0],
        [...carries, ...pXs, ...cts.slice(nc)],
        n,
        !reverse,
      )
      return [...acc.slice(0, nc), ...ctXs, ...acc.slice(nc), ...others.map(() => undefined)]
    },
  )
  return [outputs.slice(0, nc), outputs.slice(nc)]
}

/**
 * Loops `f(carry, x) → [carry, y]` over the leading axis of `xs`, like JAX's `lax.scan`: returns the
 * final carry and the per-step outputs stacked along a new leading axis. Carry, xs and y are trees
 * of tensors; the carry must keep its structure, shapes and dtypes from step to step.
 *
 * Under `grad`/`vjp` (the innermost transformation seeing the scan, the body's closed-over weights
 * included) the whole scan is one recorded node: the forward pass keeps only the stacked input
 * carries (one tensor per carry leaf, `[n, ...]`), not a tape entry per op of the body, and the
 * backward pass is a reverse scan that recomputes each step's intermediates and folds them back.
 * Inside `vmap` or `jit` (as the innermost transformation) the loop runs op by op: `vmap` batches each
 * op, `jit` unrolls the steps into its graph. The body runs once more than `n` times per scan (a probe
 * that finds the values it closed over), so it must be a pure function applying the same ops at
 * every step.
 * @example
 * import { tensor, type Tensor } from '@backfold/tensor'
 * import { scan, add } from '@backfold/ops'
 * // a cumulative sum: carry the running total, emit it at each step
 * const [total, running] = scan((c: Tensor, x: Tensor) => { const s = add(c, x); return [s, s] }, tensor(0), tensor([1, 2, 3]))
 * // total 6, running [1, 3, 6]
 * @throws ValueError when the xs leaves have different leading sizes, `length` disagrees with them
 *   or is missing, the scan has no steps, or the body changes the carry's structure, shapes or dtypes.
 * @since 0.2.0
 */
export const scan = <C, X, Y>(
  f: (carry: C, x: X) => readonly [C, Y],
  init: C,
  xs: X,
  opts: ScanOptions = {},
): [C, Y] => {
  checkOptions('scan', opts, OPTIONS)
  if (typeof f !== 'function')
    throw new ValueError('scan', 'the body f must be a function (carry, x) => [carry, y]')
  const { leaves: carry, def: carryDef } = flatten(init)
  const { leaves: xLeaves, def: xDef } = flatten(xs)
  const n = stepCount(xLeaves, opts.length)
  let yDef: TreeDef | undefined
  const body: FlatBody = (c, x) => {
    const out = f(unflatten<C>(carryDef, c), unflatten<X>(xDef, x))
    if (!Array.isArray(out) || out.length !== 2)
      throw new ValueError('scan', 'the body must return a pair [carry, y] (y may be an empty tree, e.g. [])')
    const next = flatten(out[0])
    const y = flatten(out[1])
    checkCarry(carryDef, carry, next.def, next.leaves)
    if (yDef === undefined) yDef = y.def
    else if (!sameStructure(yDef, y.def))
      throw new ValueError(
        'scan',
        'the body returned per-step outputs y of a different structure at different steps',
      )
    // A closed-over value returned as it is never passes through an op: substitute it here too.
    return [next.leaves.map(substitute), y.leaves.map(substitute)]
  }
  const [final, ys] = scanFlat(body, carry, xLeaves, n, opts.reverse === true)
  return [unflatten<C>(carryDef, final), unflatten<Y>(yDef!, ys)]
}

const stepCount = (xs: ReadonlyArray<Tensor>, length: number | undefined): number => {
  const sizes = xs.map((x, i) => {
    if (x.shape.length === 0)
      throw new ValueError(
        'scan',
        `xs leaf ${i} is a scalar; every xs leaf is stacked along a leading axis of steps`,
      )
    return x.shape[0]!
  })
  const n = length ?? sizes[0]
  if (n === undefined)
    throw new ValueError('scan', 'xs has no tensors: give the number of steps as { length }')
  sizes.forEach((s, i) => {
    if (s !== n)
      throw new ValueError(
        'scan',
        `xs leaf ${i} of shape ${fmtShape(xs[i]!.shape)} has ${s} steps, but ` +
          (length === undefined ? `xs leaf 0 has ${n}` : `length is ${n}`) +
          '; every xs leaf needs the same leading size',
      )
  })
  if (n < 1)
    throw new ValueError(
      'scan',
      `a scan needs at least one step (got ${n}): its outputs' shapes come from the body`,
    )
  return n
}

const checkCarry = (
  def: TreeDef,
  carry: ReadonlyArray<Tensor>,
  nextDef: TreeDef,
  next: ReadonlyArray<Tensor>,
): void => {
  if (!sameStructure(def, nextDef))
    throw new ValueError('scan', 'the body returned a carry of a different tree structure than init')
  next.forEach((c, i) => {
    const was = carry[i]!
    if (!shapesEqual(c.shape, was.shape) || c.dtype !== was.dtype)
      throw new ValueError(
        'scan',
        `the body changed carry leaf ${i} from ${fmtShape(was.shape)} ${was.dtype} to ` +
          `${fmtShape(c.shape)} ${c.dtype}; the carry must keep its shapes and dtypes (astype or reshape it in the body)`,
      )
  })
}
