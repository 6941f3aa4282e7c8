/**
 * Reductions: `sum`, `mean`, `prod`, `max`, `min`, `logsumexp` over any set of axes, and
 * `argmax`, `argmin` along one axis or over the flattened tensor.
 *
 * Dtypes: `sum`, `prod`, `max`, `min` keep the input dtype; `mean` and `logsumexp` give
 * float32 for int32 input; `argmax` and `argmin` give int32. Sums and products accumulate in
 * float64 whatever the dtype. NaN propagates through every reduction.
 * @since 0.1.0
 */
import { getBackend } from '../backend'
import { allocate, isDType, toFloat, type DType } from '../dtype'
import { DTypeError, ValueError, fmtShape } from '../errors'
import { normalizeAxes, normalizeAxis, shapesEqual, type Shape } from '../shape'
import { requireConcrete, unsafeTensor, type Tensor } from '../tensor'

/**
 * Which axes to reduce and whether to keep them.
 * @since 0.1.0
 */
export interface ReduceOptions {
  /** Axis or axes to reduce (negative counts from the end); all axes when omitted. */
  readonly axes?: number | ReadonlyArray<number>
  /** Keep each reduced axis as size 1, so the result broadcasts against the input. Default false. */
  readonly keepDims?: boolean
}

/**
 * Options of `argmax` / `argmin`.
 * @since 0.1.0
 */
export interface ArgReduceOptions {
  /** The axis to search along (negative counts from the end); the flattened tensor when omitted. */
  readonly axis?: number
  /** Keep the searched axis (every axis, when `axis` is omitted) as size 1. Default false. */
  readonly keepDims?: boolean
}

const checkDType = (op: string, dtype: unknown): DType => {
  if (!isDType(dtype))
    throw new DTypeError(op, `x has dtype ${String(dtype)}; expected 'float32', 'float64' or 'int32'`)
  return dtype
}

const checkKeepDims = (op: string, keepDims: unknown): boolean => {
  if (keepDims === undefined) return false
  if (typeof keepDims !== 'boolean')
    throw new ValueError(op, `keepDims must be a boolean, got ${String(keepDims)}`)
  return keepDims
}

/** `shape` with `axes` set to 1: the shape `keepDims` gives. */
const keptShape = (shape: Shape, axes: ReadonlyArray<number>): number[] => {
  const out = [...shape]
  for (const axis of axes) out[axis] = 1
  return out
}

const countOver = (shape: Shape, axes: ReadonlyArray<number>): number => {
  let count = 1
  for (const axis of axes) count *= shape[axis]!
  return count
}

/** Throws unless the reduction has an element to pick (an empty result needs none, as in NumPy). */
const checkNotEmpty = (op: string, shape: Shape, axes: ReadonlyArray<number>): void => {
  if (countOver(shape, axes) > 0) return
  let outSize = 1
  for (let i = 0; i < shape.length; i++) if (!axes.includes(i)) outSize *= shape[i]!
  if (outSize === 0) return
  throw new ValueError(
    op,
    `x of shape ${fmtShape(shape)} has no elements along axes [${axes.join(',')}]; ` +
      `${op} of an empty set is undefined, so reduce over non-empty axes`,
  )
}

/**
 * The reductions over a set of axes (`reduceShape`, `reduceDType`).
 * @since 0.2.0
 */
export type Reduction = 'sum' | 'mean' | 'prod' | 'max' | 'min' | 'logsumexp'

/** A reduction's resolved axes and output shape: every check of the kernels on shapes alone. */
interface ResolvedReduction {
  readonly axes: number[]
  readonly outShape: number[]
}

const resolve = (
  op: Reduction | 'argmax' | 'argmin',
  inShape: Shape,
  axes: number[],
  keepDimsOption: unknown,
): ResolvedReduction => {
  const keepDims = checkKeepDims(op, keepDimsOption)
  // Picking an element (max, argmax...) needs one; sums, products and means have an identity.
  if (op === 'max' || op === 'min' || op === 'argmax' || op === 'argmin') checkNotEmpty(op, inShape, axes)
  const outShape = keepDims ? keptShape(inShape, axes) : inShape.filter((_, i) => !axes.includes(i))
  return { axes, outShape }
}

const resolveReduce = (op: Reduction, inShape: Shape, opts: ReduceOptions | undefined): ResolvedReduction =>
  resolve(op, inShape, normalizeAxes(op, opts?.axes, inShape.length), opts?.keepDims)

const resolveArgReduce = (
  op: 'argmax' | 'argmin',
  inShape: Shape,
  opts: ArgReduceOptions | undefined,
): ResolvedReduction => {
  const rank = inShape.length
  const axis = opts?.axis
  const axes = axis === undefined ? normalizeAxes(op, undefined, rank) : [normalizeAxis(op, axis, rank)]
  return resolve(op, inShape, axes, opts?.keepDims)
}

/**
 * The shape reduction `op` gives for `x` of shape `inShape`, or the error the kernel would throw
 * (a bad axis or `keepDims`; `max`/`min` over an empty set). For shapes alone (a staged value's,
 * say), where the kernels need a concrete tensor.
 * @example
 * reduceShape('sum', [2, 3, 4], { axes: [0, 2] })               // [3]
 * reduceShape('max', [2, 3], { axes: -1, keepDims: true })      // [2, 1]
 * @since 0.2.0
 */
export const reduceShape = (op: Reduction, inShape: Shape, opts?: ReduceOptions): number[] =>
  resolveReduce(op, inShape, opts).outShape

/**
 * The shape `argmax`/`argmin` give for `x` of shape `inShape`, or the error they would throw.
 * @example
 * argReduceShape('argmax', [4, 10], { axis: -1 }) // [4]
 * argReduceShape('argmax', [4, 10])               // [] (an index into the flattened tensor)
 * @since 0.2.0
 */
export const argReduceShape = (op: 'argmax' | 'argmin', inShape: Shape, opts?: ArgReduceOptions): number[] =>
  resolveArgReduce(op, inShape, opts).outShape

/**
 * The dtype reduction `op` gives for input dtype `dtype`: `sum`, `prod`, `max`, `min` keep it;
 * `mean` and `logsumexp` give floating point (float32 for int32); `argmax` and `argmin` give int32.
 * @example
 * reduceDType('mean', 'int32')     // 'float32'
 * reduceDType('argmax', 'float64') // 'int32'
 * @since 0.2.0
 */
export const reduceDType = (op: Reduction | 'argmax' | 'argmin', dtype: DType): DType => {
  switch (op) {
    case 'mean':
    case 'logsumexp':
      return toFloat(dtype)
    case 'argmax':
    case 'argmin':
      return 'int32'
    default:
      return dtype
  }
}

/** `y` given the shape the shape rule computed (the backend drops the reduced axes; keepDims keeps them). */
const shaped = (y: Tensor, outShape: Shape): Tensor =>
  shapesEqual(y.shape, outShape) ? y : unsafeTensor(y.dtype, outShape, y.data)

const run = (op: Exclude<Reduction, 'mean'>, x: Tensor, opts: ReduceOptions | undefined): Tensor => {
  requireConcrete(op, 'x', x)
  const dtype = checkDType(op, x.dtype)
  const { axes, outShape } = resolveReduce(op, x.shape, opts)
  return shaped(getBackend().reduce(op, x, axes, reduceDType(op, dtype)), outShape)
}

/**
 * Sum over `axes` (all by default). The sum of nothing is 0.
 * @example
 * sum(x)                                  // scalar
 * sum(x, { axes: -1 })                    // [2,3] → [2]
 * sum(x, { axes: [0, 1], keepDims: true }) // [2,3] → [1,1]
 * @since 0.1.0
 */
export const sum = (x: Tensor, opts?: ReduceOptions): Tensor => run('sum', x, opts)

/**
 * Arithmetic mean over `axes` (all by default); float32 for int32 input. The mean of nothing is NaN.
 * @example
 * mean(x, { axes: 0 }) // [2,3] → [3]
 * @since 0.1.0
 */
export const mean = (x: Tensor, opts?: ReduceOptions): Tensor => {
  requireConcrete('mean', 'x', x)
  const dtype = checkDType('mean', x.dtype)
  const { axes, outShape } = resolveReduce('mean', x.shape, opts)
  const outDtype = reduceDType('mean', dtype)
  const backend = getBackend()
  const total = backend.reduce('sum', x, axes, outDtype)
  const count = allocate(outDtype, 1)
  count[0] = countOver(x.shape, axes)
  // 0 / 0 gives the NaN mean of an empty set.
  const y = backend.binary('div', total, unsafeTensor(outDtype, [], count), total.shape, outDtype)
  return shaped(y, outShape)
}

/** Product over `axes` (all by default). The product of nothing is 1. @since 0.1.0 */
export const prod = (x: Tensor, opts?: ReduceOptions): Tensor => run('prod', x, opts)

/**
 * Largest value over `axes` (all by default); NaN if any element is NaN.
 * Throws a `ValueError` when an output would reduce over no elements.
 * @example
 * max(x, { axes: 1, keepDims: true }) // [2,3] → [2,1]
 * @since 0.1.0
 */
export const max = (x: Tensor, opts?: ReduceOptions): Tensor => run('max', x, opts)

/**
 * Smallest value over `axes` (all by default); NaN if any element is NaN.
 * Throws a `ValueError` when an output would reduce over no elements.
 * @since 0.1.0
 */
export const min = (x: Tensor, opts?: ReduceOptions): Tensor => run('min', x, opts)

/**
 * `log(sum(exp(x)))` over `axes`, computed stably as `m + log(sum(exp(x - m)))` with `m` the
 * maximum, so large inputs do not overflow: `logsumexp([1000, 1000])` is `1000 + log 2`.
 * If the maximum is ±Infinity or NaN it is the result (all -Infinity gives -Infinity, not NaN).
 * Over no elements the result is -Infinity, the identity of log-add-exp (as NumPy's
 * `logaddexp.reduce`). float32 for int32 input.
 * @example
 * logsumexp(logits, { axes: -1, keepDims: true }) // log of the softmax normaliser
 * @since 0.1.0
 */
export const logsumexp = (x: Tensor, opts?: ReduceOptions): Tensor => run('logsumexp', x, opts)

const runArg = (op: 'argmax' | 'argmin', x: Tensor, opts: ArgReduceOptions | undefined): Tensor => {
  requireConcrete(op, 'x', x)
  const dtype = checkDType(op, x.dtype)
  const { axes, outShape } = resolveArgReduce(op, x.shape, opts)
  return shaped(getBackend().reduce(op, x, axes, reduceDType(op, dtype)), outShape)
}

/**
 * Index of the largest value along `axis`, or into the flattened tensor when `axis` is omitted;
 * int32. Ties go to the first occurrence; a NaN counts as the largest (the first NaN wins).
 * Throws a `ValueError` when there is no element to pick.
 * @example
 * argmax(logits, { axis: -1 }) // [batch, classes] → [batch] predicted classes
 * @since 0.1.0
 */
export const argmax = (x: Tensor, opts?: ArgReduceOptions): Tensor => runArg('argmax', x, opts)

/**
 * Index of the smallest value along `axis`, or into the flattened tensor when `axis` is omitted;
 * int32. Ties go to the first occurrence; a NaN counts as the smallest (the first NaN wins).
 * @since 0.1.0
 */
export const argmin = (x: Tensor, opts?: ArgReduceOptions): Tensor => runArg('argmin', x, opts)
