// Batching with channel groups: where the examples may fold into a channel axis.
import type { Conv2dSpec } from '@backfold/tensor'
import type { Fold } from '../internal/foldBatch'

/**
 * `fold` for a channel axis of a grouped convolution: the examples as the inner index, so that
 * channel axis [g·k] becomes [g·k·B], still g contiguous blocks (each k·B wide) that line up with the
 * other operand's blocks. Folded outer ([B·g·k]), the blocks would mix examples. Without groups
 * either side works and `fold` is kept (it may save a transpose).
 * @internal
 */
export const channelFold = (fold: Fold, p: Conv2dSpec): Fold =>
  p.groups === undefined ? fold : { ...fold, before: false }

/** The geometry without groups: the one-hot patch convolutions of the im2col batching rules. @internal */
export const ungrouped = (p: Conv2dSpec): Conv2dSpec => ({
  stride: p.stride,
  padding: p.padding,
  dilation: p.dilation,
})

/** The groups of a spec (1 when absent). @internal */
export const groupsOf = (p: Conv2dSpec): number => p.groups ?? 1
