// The reduction ops take their batching rules from this module at load time, so it must not
// import (even indirectly) any reduction: a cycle back to it would leave their rule undefined when
// the cycle is entered here. The VJP helpers, which need broadcastTo (and so unbroadcast and sum),
// live in reduceCotangent.ts. The shape and dtype rules here read only @backfold/tensor's shape
// functions (the kernels' own), so they add no import of an op either.
import * as T from '@backfold/tensor'
import type { Shape, Tensor } from '@backfold/tensor'
import type { Aval, BatchAxes, Batched } from '../core/op'
import { checkOptions, option, optionSchema } from '../core/options'
import { reshape } from '../shape/reshape'
import { transpose } from '../shape/transpose'

/**
 * Options of the reductions: `axis` to reduce, one or several (default all; negative axes count
 * from the end), and whether to keep the reduced axes as size-1 axes.
 * @since 0.1.0
 */
export interface ReduceOptions {
  readonly axis?: number | ReadonlyArray<number> | undefined
  readonly keepDims?: boolean | undefined
}

/** The accepted keys of `ReduceOptions`. @internal */
export const REDUCE_OPTIONS = optionSchema({ axis: option.axes, keepDims: option.boolean })

/** Canonical parameters of a reduction op: sorted distinct non-negative axes. @since 0.1.0 */
export interface ReduceParams {
  readonly axes: ReadonlyArray<number>
  readonly keepDims: boolean
}

/**
 * Resolves user options against `x`'s rank (throws a `ValueError` naming `op` for an unknown key or
 * a bad axis). @internal
 */
export const reduceParams = (op: string, x: Tensor, opts: ReduceOptions | undefined): ReduceParams => {
  checkOptions(op, opts, REDUCE_OPTIONS)
  return { axes: T.normalizeAxes(op, opts?.axis, x.shape.length), keepDims: opts?.keepDims ?? false }
}

/** `inShape` with every reduced axis set to 1: the keepDims shape of the result. @internal */
export const keptShape = (inShape: Shape, axes: ReadonlyArray<number>): number[] =>
  inShape.map((dim, i) => (axes.includes(i) ? 1 : dim))

/** Number of elements each output element reduces over. @internal */
export const reducedCount = (inShape: Shape, axes: ReadonlyArray<number>): number =>
  axes.reduce((count, axis) => count * inShape[axis]!, 1)

/**
 * The shape and dtype rule of reduction `op` over `ReduceParams`: the kernel's own shape and dtype
 * functions, so staging gives (and refuses) exactly what `forward` does. @internal
 */
// Free of side effects (a function declaration: see defineOp), so an unused reduction op is dropped.
/* @__NO_SIDE_EFFECTS__ */
export function reductionAval(op: T.Reduction): (xs: readonly [Tensor], p: ReduceParams) => Aval {
  return ([x], p) => ({ shape: T.reduceShape(op, x.shape, p), dtype: T.reduceDType(op, x.dtype) })
}

/**
 * The batching rule of the reductions over `ReduceParams`: the reduced axes are renumbered around
 * the examples' axis, which stays where it is (no transpose); without `keepDims` it moves left by
 * the reduced axes before it. @internal
 */
export const batchReduction = <In extends readonly [Tensor], P extends ReduceParams>(
  xs: In,
  batchAxes: BatchAxes<In>,
  p: P,
  self: (xs: In, p: P) => Tensor,
): Batched => {
  // A reduction has one input, so it is the mapped one.
  const b = batchAxes[0] ?? 0
  const axes = p.axes.map((a) => (a >= b ? a + 1 : a))
  const outAxis = p.keepDims ? b : b - p.axes.filter((a) => a < b).length
  return [self(xs, { ...p, axes }), outAxis]
}

/** Options of `argmax`/`argmin`: one `axis` (default: over the flattened tensor). @since 0.1.0 */
export interface ArgReduceOptions {
  readonly axis?: number | undefined
  readonly keepDims?: boolean | undefined
}

/** The accepted keys of `ArgReduceOptions`. @internal */
export const ARG_REDUCE_OPTIONS = optionSchema({ axis: option.axis, keepDims: option.boolean })

/** Resolves `argmax`/`argmin` options against `x`'s rank. @internal */
export const argReduceParams = (
  op: string,
  x: Tensor,
  opts: ArgReduceOptions | undefined,
): ArgReduceParams => {
  checkOptions(op, opts, ARG_REDUCE_OPTIONS)
  return {
    axis: opts?.axis === undefined ? undefined : T.normalizeAxis(op, opts.axis, x.shape.length),
    keepDims: opts?.keepDims ?? false,
  }
}

/** Canonical parameters of `argmax`/`argmin`: a non-negative axis or `undefined` for all. @since 0.1.0 */
export interface ArgReduceParams {
  readonly axis: number | undefined
  readonly keepDims: boolean
}

/** The kernel options `ArgReduceParams` stand for (an omitted axis is absent, not `undefined`). @internal */
export const argReduceOptions = (p: ArgReduceParams): T.ArgReduceOptions =>
  p.axis === undefined ? { keepDims: p.keepDims } : { axis: p.axis, keepDims: p.keepDims }

/** The shape and dtype rule of `argmax`/`argmin`: the kernel's own (an int32 index). @internal */
/* @__NO_SIDE_EFFECTS__ */
export function argReductionAval(
  op: 'argmax' | 'argmin',
): (xs: readonly [Tensor], p: ArgReduceParams) => Aval {
  return ([x], p) => ({
    shape: T.argReduceShape(op, x.shape, argReduceOptions(p)),
    dtype: T.reduceDType(op, x.dtype),
  })
}

/**
 * The batching rule of `argmax`/`argmin`. With an axis, it is renumbered around the examples' axis,
 * which stays in place. Without one each example is searched flattened, so the examples move to
 * the front and each is flattened to one row (the index is into one example, not the batch), then
 * searched along that row. @internal
 */
export const batchArgReduction = (
  xs: [Tensor],
  batchAxes: BatchAxes<[Tensor]>,
  p: ArgReduceParams,
  self: (xs: [Tensor], p: ArgReduceParams) => Tensor,
): Batched => {
  const b = batchAxes[0] ?? 0
  const [x] = xs
  const exampleShape = x.shape.filter((_, i) => i !== b)
  // A rank-1 example flattened is itself: search its one axis, with no transpose.
  const axis = p.axis ?? (exampleShape.length === 1 ? 0 : undefined)
  if (axis !== undefined) {
    const outAxis = p.keepDims || axis >= b ? b : b - 1
    return [self(xs, { ...p, axis: axis >= b ? axis + 1 : axis }), outAxis]
  }
  const size = x.shape[b] ?? 0
  const examplesFirst = b === 0 ? x : transpose(x, [b, ...exampleShape.map((_, i) => (i < b ? i : i + 1))])
  const rows = reshape(examplesFirst, [size, T.sizeOf(exampleShape)])
  const indices = self([rows], { axis: 1, keepDims: false })
  // keepDims without an axis keeps every axis of the example, as size 1.
  const kept = exampleShape.map(() => 1)
  return [p.keepDims ? reshape(indices, [size, ...kept]) : indices, 0]
}
