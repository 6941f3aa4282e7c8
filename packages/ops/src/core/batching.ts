// Helpers shared by the ops' batching rules (see `Op.batch`). A rule receives whole batches and the
// axis of each input's examples; these move, insert and broadcast that axis with ops, so a rule
// computes with ops and composes with every other transformation.
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { mapTensors, type BatchAxes, type Batched } from './op'
import { transpose } from '../shape/transpose'
import { reshape } from '../shape/reshape'
import { broadcastTo } from '../shape/broadcastTo'

/**
 * `x` with its axis `from` moved to position `to` (both non-negative), the other axes in order.
 * @since 0.2.0
 */
export const moveAxis = (x: Tensor, from: number, to: number): Tensor => {
  if (from === to) return x
  const perm = x.shape.map((_, i) => i).filter((i) => i !== from)
  perm.splice(to, 0, from)
  return transpose(x, perm)
}

/**
 * The input's batch with its examples along axis 0: moved there if mapped, broadcast to `size`
 * examples if not (`axis` undefined). For rules that need every input batched the same way.
 * @since 0.2.0
 */
export const batchAtFront = (x: Tensor, axis: number | undefined, size: number): Tensor =>
  axis === undefined ? broadcastTo(reshape(x, [1, ...x.shape]), [size, ...x.shape]) : moveAxis(x, axis, 0)

/**
 * The number of examples: the size of the mapped axis of any mapped input (a batching rule runs
 * only when at least one input is mapped).
 * @since 0.2.0
 */
export const batchSize = (xs: ReadonlyArray<Tensor>, axes: ReadonlyArray<number | undefined>): number => {
  for (let i = 0; i < xs.length; i++) {
    const axis = axes[i]
    if (axis !== undefined) return xs[i]!.shape[axis]!
  }
  throw new T.TraceError('vmap', 'a batching rule ran with no mapped input (a bug in backfold)')
}

/**
 * The batching rule of every elementwise op, unary or broadcasting n-ary: when all inputs are
 * mapped along the same axis of the same rank, the op applies to the batches as they are; otherwise
 * each mapped input's examples move to axis 0 and size-1 axes pad it to the common rank of one
 * example, so NumPy broadcasting lines the examples up and leaves unmapped inputs shared.
 * @example
 * import * as T from '@backfold/tensor'
 * import { defineOp, type Tensor, mul, cos, batchElementwise, sameAsInput } from '@backfold/ops'
 * // y = sin x, applied to the whole batch:
 * defineOp<'mySin', [Tensor]>({
 *   name: 'mySin',
 *   forward: ([x]) => T.sin(x),
 *   vjp: (ct, [x]) => [mul(ct, cos(x))],
 *   batch: batchElementwise,
 *   abstract: sameAsInput,
 * })
 * @since 0.2.0
 */
export const batchElementwise = <In extends ReadonlyArray<Tensor>, P>(
  xs: In,
  axes: BatchAxes<In>,
  p: P,
  self: (xs: In, p: P) => Tensor,
): Batched => {
  const first = axes[0]
  const sameLayout =
    first !== undefined && xs.every((x, i) => axes[i] === first && x.shape.length === xs[0]!.shape.length)
  if (sameLayout) return [self(xs, p), first]
  // One example's rank is the rank of an unmapped input, or a mapped one's less its batch axis.
  const exampleRank = Math.max(...xs.map((x, i) => x.shape.length - (axes[i] === undefined ? 0 : 1)))
  const aligned = mapTensors(xs, (x, i) => {
    const axis = axes[i]
    if (axis === undefined) return x
    const front = moveAxis(x, axis, 0)
    const missing = exampleRank - (x.shape.length - 1)
    return missing === 0
      ? front
      : reshape(front, [front.shape[0]!, ...new Array<number>(missing).fill(1), ...front.shape.slice(1)])
  })
  return [self(aligned, p), 0]
}
