// Helpers shared by the batching rules of the indexing ops (gather, scatterAdd, takeAlongAxis,
// scatterAddAlongAxis, slice, pad): they renumber per-axis parameters around the examples' axis,
// place an input's examples at a chosen axis, and offset each example's indices into its own block
// of a flattened batch. All of them compute with ops, so the rules compose with grad.
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { moveAxis } from '../core/batching'
import { broadcastTo } from '../shape/broadcastTo'
import { reshape } from '../shape/reshape'
import { add } from '../binary/add'

/** `xs` with `value` inserted at position `at` (a per-axis parameter renumbered around the batch axis). @internal */
export const insertAt = <A>(xs: ReadonlyArray<A>, at: number, value: A): A[] => [
  ...xs.slice(0, at),
  value,
  ...xs.slice(at),
]

/**
 * The input's batch with its examples along axis `to`: moved there if mapped (`axis` defined),
 * broadcast to `size` examples there if not. `batchAtFront` for any target axis, so a rule can line
 * an unmapped input up with a mapped one without moving the mapped one.
 * @internal
 */
export const batchAt = (x: Tensor, axis: number | undefined, to: number, size: number): Tensor =>
  axis === undefined
    ? broadcastTo(reshape(x, insertAt(x.shape, to, 1)), insertAt(x.shape, to, size))
    : moveAxis(x, axis, to)

/**
 * `indices` (int32, examples along axis 0, each example of rank `rank`) plus `n × stride` for
 * example `n`: an index into the flattened `[size × stride]` axis of the whole batch that lands in
 * example `n`'s own block, so one gather or scatter serves every example at once.
 * @internal
 */
export const offsetIndices = (indices: Tensor, stride: number, rank: number): Tensor => {
  const size = indices.shape[0] ?? 0
  // A constant (the same for every value of the indices), so it is made directly.
  const offsets = T.unsafeTensor(
    'int32',
    [size, ...new Array<number>(rank).fill(1)],
    Int32Array.from({ length: size }, (_, n) => n * stride),
  )
  return add(indices, offsets)
}
