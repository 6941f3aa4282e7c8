import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { Key, Tensor } from '@backfold/tensor'
import { dataError } from './error'
import type { DataError } from './error'

/**
 * A supervised data set: inputs `x` of shape `[N, ...]` and targets `y` of shape `[N, ...]` (int32
 * class indices `[N]` for classification). Example `i` is `x[i]`, `y[i]`. A batch is a `Dataset` too.
 * @since 0.1.0
 */
export interface Dataset {
  readonly x: Tensor
  readonly y: Tensor
}

/**
 * A `Dataset` from two tensors, checking that both have a leading example axis of the same length.
 * @example
 * import * as T from '@backfold/tensor'
 * import { fromTensors } from '@backfold/nn'
 * fromTensors(T.zeros([100, 64]), T.zeros([100], 'int32'))  // Right({ x, y })
 * fromTensors(T.zeros([100, 64]), T.zeros([99], 'int32'))   // Left: x has 100 examples but y has 99
 * @since 0.1.0
 */
export const fromTensors = (
  x: Tensor,
  y: Tensor,
  opts: { readonly source?: string } = {},
): E.Either<DataError, Dataset> => {
  const source = opts.source ?? 'fromTensors'
  if (x.shape.length === 0 || y.shape.length === 0)
    return E.left(
      dataError(
        source,
        `x has shape ${T.fmtShape(x.shape)} and y has shape ${T.fmtShape(y.shape)}; ` +
          'both need a leading example axis (rank >= 1)',
      ),
    )
  if (x.shape[0] !== y.shape[0])
    return E.left(
      dataError(
        source,
        `x has ${x.shape[0]} examples (shape ${T.fmtShape(x.shape)}) but y has ${y.shape[0]} (shape ${T.fmtShape(y.shape)}); ` +
          'expected the same first dimension',
      ),
    )
  return E.right({ x, y })
}

/** The number of examples (the length of the leading axis). @since 0.1.0 */
export const numExamples = (dataset: Dataset): number => dataset.x.shape[0] ?? 0

/** An int32 index tensor from plain numbers, rejecting non-integers before any gather runs. */
const indexTensor = (op: string, indices: ReadonlyArray<number> | Tensor): Tensor => {
  if (T.isTensor(indices)) return indices
  const data = new Int32Array(indices.length)
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i]!
    if (!Number.isInteger(index))
      throw new T.ValueError(op, `indices[${i}] is ${index}; expected an integer example index`)
    data[i] = index
  }
  return T.unsafeTensor('int32', [data.length], data)
}

/**
 * The examples at `indices` (int32 tensor `[k]` or plain numbers), in that order; repeats allowed.
 * An index outside `[0, N)` throws a `ValueError`.
 * @example
 * subset(dataset, [0, 5, 7]) // three examples
 * @since 0.1.0
 */
export const subset = (dataset: Dataset, indices: ReadonlyArray<number> | Tensor): Dataset => {
  const index = indexTensor('subset', indices)
  return { x: T.gather(dataset.x, index, 0), y: T.gather(dataset.y, index, 0) }
}

/**
 * The first `count` examples (all of them when `count >= N`, as `tf.data`'s `take`).
 * @since 0.1.0
 */
export const take = (dataset: Dataset, count: number): Dataset => {
  if (!Number.isInteger(count) || count < 0)
    throw new T.ValueError('take', `count must be a non-negative integer, got ${count}`)
  const stop = Math.min(count, numExamples(dataset))
  return { x: T.slice(dataset.x, [{ stop }]), y: T.slice(dataset.y, [{ stop }]) }
}

/**
 * The examples in the random order `T.random.permutation(key, N)`: the same key always gives the
 * same order.
 * @since 0.1.0
 */
export const shuffle = (dataset: Dataset, key: Key): Dataset =>
  subset(dataset, T.random.permutation(key, numExamples(dataset)))

/** Options of `batches`. @since 0.1.0 */
export interface BatchesOptions {
  /** Shuffle with this key first (default: keep the order). */
  readonly key?: Key
}

/**
 * Consecutive batches of `batchSize` examples; the last one holds the remainder (it is kept, not
 * dropped). With `key`, the examples are shuffled first. Lazy: one batch is materialised at a time.
 * @example
 * for (const batch of batches(train, 32, { key: T.random.key(0) })) console.log(batch.x.shape) // [32, ...]
 * @since 0.1.0
 */
export function* batches(dataset: Dataset, batchSize: number, opts: BatchesOptions = {}): Generator<Dataset> {
  if (!Number.isInteger(batchSize) || batchSize <= 0)
    throw new T.ValueError('batches', `batchSize must be a positive integer, got ${batchSize}`)
  const count = numExamples(dataset)
  const order = opts.key === undefined ? undefined : T.random.permutation(opts.key, count).data
  for (let start = 0; start < count; start += batchSize) {
    const stop = Math.min(start + batchSize, count)
    if (order === undefined)
      yield { x: T.slice(dataset.x, [{ start, stop }]), y: T.slice(dataset.y, [{ start, stop }]) }
    else yield subset(dataset, T.unsafeTensor('int32', [stop - start], order.slice(start, stop)))
  }
}

/** Options of `stratifiedSplit`. @since 0.1.0 */
export interface StratifiedSplitOptions {
  /** Fraction of the examples that go to the test side, in (0, 1). */
  readonly testFraction: number
  /** Which examples of each class are picked: the same key gives the same split. */
  readonly key: Key
}

/**
 * Splits a classification data set so that every class keeps (as nearly as integers allow) its
 * proportion on both sides. The test side gets `round(N · testFraction)` examples in total; each
 * class gets the floor of its exact share, and the examples left over go to the classes with the
 * largest remainders (ties to the lower class), the largest-remainder allocation. Within class `c`
 * the test examples are the first ones of `permutation(foldIn(key, c), n_c)`. Both sides keep the
 * original order of the examples, so the split is deterministic for a key and independent of
 * anything else.
 *
 * `y` must hold int32 class indices `[N]` (non-negative); anything else throws.
 * @example
 * const { train, test } = stratifiedSplit(digits, { testFraction: 0.2, key: T.random.key(0) })
 * @since 0.1.0
 */
export const stratifiedSplit = (
  dataset: Dataset,
  opts: StratifiedSplitOptions,
): { readonly train: Dataset; readonly test: Dataset } => {
  const op = 'stratifiedSplit'
  const { testFraction, key } = opts
  if (!(testFraction > 0 && testFraction < 1))
    throw new T.ValueError(op, `testFraction must be in (0, 1), got ${testFraction}`)
  const labels = dataset.y
  if (labels.dtype !== 'int32' || labels.shape.length !== 1)
    throw new T.DTypeError(
      op,
      `y has dtype ${labels.dtype} and shape ${T.fmtShape(labels.shape)}; expected int32 class indices of shape [N]`,
    )
  const labelData = labels.data
  const count = labelData.length
  // A map, not an array indexed by class: a stray huge label must not allocate a huge table.
  const byClass = new Map<number, number[]>()
  for (let i = 0; i < count; i++) {
    const label = labelData[i]!
    if (label < 0) throw new T.ValueError(op, `y[${i}] is ${label}; class indices must be >= 0`)
    const members = byClass.get(label)
    if (members === undefined) byClass.set(label, [i])
    else members.push(i)
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b)
  const totalTest = Math.round(count * testFraction)
  const allocation = classes.map((c) => {
    const members = byClass.get(c)!
    const share = members.length * testFraction
    return { c, members, testCount: Math.floor(share), remainder: share - Math.floor(share) }
  })
  let leftOver = totalTest - allocation.reduce((n, a) => n + a.testCount, 0)
  const byRemainder = allocation
    .filter((a) => a.testCount < a.members.length)
    .sort((a, b) => b.remainder - a.remainder || a.c - b.c)
  for (const a of byRemainder) {
    if (leftOver <= 0) break
    a.testCount += 1
    leftOver -= 1
  }
  const isTest = new Uint8Array(count)
  for (const { c, members, testCount } of allocation) {
    const order = T.random.permutation(T.random.foldIn(key, c), members.length).data
    for (let j = 0; j < testCount; j++) isTest[members[order[j]!]!] = 1
  }
  const trainIndices: number[] = []
  const testIndices: number[] = []
  for (let i = 0; i < count; i++) (isTest[i] === 1 ? testIndices : trainIndices).push(i)
  return { train: subset(dataset, trainIndices), test: subset(dataset, testIndices) }
}
