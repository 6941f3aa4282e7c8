import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { requireFloat } from './validate'

/** Options of `sequenceCrossEntropy`. @since 0.2.0 */
export interface SequenceCrossEntropyOptions {
  /**
   * A target value that marks a position with no target (padding), as PyTorch's `ignore_index`:
   * those positions add nothing to the loss, are not counted in the mean, and get a zero gradient.
   * Any integer (a class index too: that class is then never scored). Default: none (every position counts).
   */
  readonly ignoreIndex?: number
  /**
   * `'mean'` (default): the sum over the scored positions divided by their number (PyTorch's
   * `reduction='mean'` with `ignore_index`); `'sum'`: their sum (0 when every position is ignored).
   */
  readonly reduction?: 'mean' | 'sum'
}

const SEQUENCE_CROSS_ENTROPY_OPTIONS = O.optionSchema({
  ignoreIndex: O.option.number,
  reduction: O.option.oneOf('mean', 'sum'),
})

/**
 * The cross-entropy loss of per-position class scores with any leading axes: logits `[..., C]`
 * (e.g. `[N, L, C]` for a batch of sequences) and int32 targets `[...]` (e.g. `[N, L]`), as
 * PyTorch's `cross_entropy` with `ignore_index` (there the classes are axis 1; here they are LAST).
 * The loss of one position is `logsumexp(z) − z[target]`; with the default `reduction: 'mean'` the
 * result is the sum over the positions whose target is not `ignoreIndex`, divided by their number
 * (NOT by the number of all positions). Ignored positions get a zero gradient.
 *
 * Every position ignored: `'mean'` gives NaN (0 / 0), as PyTorch. NaN is not silent (it propagates,
 * and `fit`'s `stopOnNaN` stops on it), whereas 0 would report a perfect loss; throwing could only be
 * done on concrete targets, so jitted and eager results would differ. `'sum'` gives 0.
 *
 * Errors: `DTypeError` for integer logits or targets that are not int32; `ShapeError` when the targets'
 * shape is not the logits' shape without the last axis; `ValueError` naming the first target outside
 * `[0, C)` that is not `ignoreIndex`, checked when the targets are concrete. Under `jit` the targets
 * have no values at staging time: an out-of-range target that is not `ignoreIndex` is refused by the
 * `oneHot` kernel when the compiled function runs (a `ValueError` from `oneHot`).
 * @example
 * import { tensor } from '@backfold/tensor'
 * import { sequenceCrossEntropy } from '@backfold/nn'
 * const logits = tensor([[[2, 0, 0], [0, 0, 3]], [[1, 1, 1], [0, 5, 0]]]) // [N=2, L=2, C=3]
 * const targets = tensor([[0, 2], [1, -100]], 'int32') // -100: padding
 * sequenceCrossEntropy(logits, targets, { ignoreIndex: -100 }) // mean over the 3 scored positions
 * sequenceCrossEntropy(logits, targets, { ignoreIndex: -100, reduction: 'sum' })
 * @since 0.2.0
 */
export const sequenceCrossEntropy = (
  logits: Tensor,
  targets: Tensor,
  opts: SequenceCrossEntropyOptions = {},
): Tensor => {
  const op = 'sequenceCrossEntropy'
  O.checkOptions(op, opts, SEQUENCE_CROSS_ENTROPY_OPTIONS)
  const { ignoreIndex, reduction = 'mean' } = opts
  if (ignoreIndex !== undefined && !Number.isInteger(ignoreIndex))
    throw new T.ValueError(op, `ignoreIndex must be an integer (e.g. -100), got ${ignoreIndex}`)
  requireFloat(op, logits, 'logits')
  const shape = logits.shape
  if (shape.length < 1)
    throw new T.ShapeError(op, 'logits is a scalar; expected [..., C] with the classes on the last axis')
  if (targets.dtype !== 'int32')
    throw new T.DTypeError(
      op,
      `targets have dtype ${targets.dtype}; expected int32 class indices (for probabilities use crossEntropy)`,
    )
  const expected = shape.slice(0, -1)
  if (!T.shapesEqual(targets.shape, expected))
    throw new T.ShapeError(
      op,
      `targets have shape ${T.fmtShape(targets.shape)} but logits have shape ${T.fmtShape(shape)}; ` +
        `expected int32 class indices of shape ${T.fmtShape(expected)} (the logits' shape without the class axis)`,
    )
  const numClasses = shape[shape.length - 1]!
  if (!T.isAbstract(targets)) requireTargets(op, targets, numClasses, ignoreIndex)
  if (ignoreIndex === undefined) {
    const losses = O.softmaxCrossEntropy(logits, O.oneHot(targets, numClasses, logits.dtype), { axis: -1 })
    return reduction === 'sum' ? O.sum(losses) : O.mean(losses)
  }
  // Ignored positions get an all-zero target row: their loss is 0 and, as the op's gradient is
  // softmax(z) Σ t − t, so is their gradient. Their index is replaced by 0 only to encode them.
  const keep = O.notEqual(targets, ignoreIndex)
  const mask = O.astype(keep, logits.dtype)
  const oneHot = O.mul(
    O.oneHot(O.where(keep, targets, 0), numClasses, logits.dtype),
    O.expandDims(mask, { axis: -1 }),
  )
  const total = O.sum(O.softmaxCrossEntropy(logits, oneHot, { axis: -1 }))
  return reduction === 'sum' ? total : O.div(total, O.sum(mask))
}

/** Throws a `ValueError` naming the first target outside `[0, numClasses)` that is not `ignoreIndex`. */
const requireTargets = (
  op: string,
  targets: Tensor,
  numClasses: number,
  ignoreIndex: number | undefined,
): void => {
  const data = targets.data
  for (let i = 0; i < data.length; i++) {
    const t = data[i]!
    if (t === ignoreIndex || (t >= 0 && t < numClasses)) continue
    const at = T.fmtShape(unravel(i, targets.shape))
    const ignored = ignoreIndex === undefined ? 'no ignoreIndex is set' : `ignoreIndex is ${ignoreIndex}`
    throw new T.ValueError(
      op,
      `targets${at} is ${t}, outside the ${numClasses} classes, and ${ignored}; expected an index in ` +
        `[0, ${numClasses - 1}]${ignoreIndex === undefined ? ' (pass ignoreIndex to mark padding)' : ` or ${ignoreIndex}`}`,
    )
  }
}

const unravel = (flat: number, shape: ReadonlyArray<number>): number[] => {
  const index = new Array<number>(shape.length)
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = flat % shape[d]!
    flat = Math.floor(flat / shape[d]!)
  }
  return index
}
