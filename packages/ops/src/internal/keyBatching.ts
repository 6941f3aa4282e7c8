// Shared by the random ops (packages/ops/src/random): what they take as a key, and their batching
// rule. Every random op draws independently for each key of a batch [..., 2], so a mapped key axis
// is just one more leading key axis.
import * as T from '@backfold/tensor'
import type { Key, Tensor } from '@backfold/tensor'
import type { BatchAxes, Batched } from '../core/op'
import { moveAxis } from '../core/batching'

/**
 * The key words as data: a `Key` (ordinary, or wrapped around a traced value by `random.wrapKey`)
 * becomes its int32 `[2]`; a tensor is taken as a key batch `[..., 2]` as it is.
 * @internal
 */
export const keysOf = (key: Key | Tensor): Tensor => (T.random.isKey(key) ? T.random.keyData(key) : key)

/**
 * The batching rule of every random op (one input, the keys): the examples' keys moved to the front
 * become the leading key axis, and the op draws for all of them at once (one kernel call; each key's
 * draw is the single-key draw), its output holding the examples along axis 0.
 * @internal
 */
export const batchOverKeys = <P>(
  xs: [Tensor],
  axes: BatchAxes<[Tensor]>,
  p: P,
  self: (xs: [Tensor], p: P) => Tensor,
): Batched => {
  const [keys] = xs
  const [axis] = axes
  // A rule runs only when an input is mapped, and the keys are the only input.
  if (axis === undefined) return [self(xs, p), undefined]
  return [self([moveAxis(keys, axis, 0)], p), 0]
}
