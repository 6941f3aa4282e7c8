import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { requireClassIndices, requireFloat } from './validate'

/** Options of `crossEntropy`. @since 0.2.0 */
export interface CrossEntropyOptions {
  /**
   * Label smoothing α in [0, 1] (default 0): the target distribution becomes `(1 − α) labels + α / C`,
   * as in optax's `smooth_labels` and PyTorch's `label_smoothing`. Applied to soft labels too.
   */
  readonly labelSmoothing?: number
}

const CROSS_ENTROPY_OPTIONS = O.optionSchema({ labelSmoothing: O.option.number })

/**
 * The cross-entropy LOSS of a classifier, averaged over the batch: `mean_i [logsumexp(z_i) − Σ_c t_ic z_ic]`,
 * as PyTorch's `cross_entropy` (logits, class indices or probabilities, `label_smoothing`, mean).
 * Not to be confused with the `softmaxCrossEntropy` OP of `@backfold/ops`, which gives one loss per
 * example for float labels along an axis and which this loss is built on (optax's convention): the
 * names differ because the results do (a scalar mean here, a tensor of per-example losses there).
 * Logits of ±1000 give finite values and gradients; the gradient w.r.t. the logits is `(softmax(z) − t) / N`.
 * (Named `softmaxCrossEntropy` in backfold 0.1.)
 *
 * - `logits`: float `[N, C]` (unnormalised scores; do NOT apply softmax first).
 * - `labels`: int32 class indices `[N]` (PyTorch's `CrossEntropyLoss` targets), or float one-hot or soft
 *   label distributions `[N, C]` (optax's `softmax_cross_entropy`; differentiable w.r.t. the labels too).
 *
 * A class index outside `[0, C)` throws a `ValueError` naming the example.
 * @example
 * import { tensor } from '@backfold/tensor'
 * import { crossEntropy } from '@backfold/nn'
 * const logits = tensor([[2, 0, 0], [0, 0, 3]])
 * crossEntropy(logits, tensor([0, 2], 'int32'))
 * crossEntropy(logits, tensor([0, 2], 'int32'), { labelSmoothing: 0.1 })
 * crossEntropy(logits, tensor([[1, 0, 0], [0, 0.5, 0.5]]))
 * @since 0.2.0
 */
export const crossEntropy = (logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): Tensor => {
  const op = 'crossEntropy'
  O.checkOptions(op, opts, CROSS_ENTROPY_OPTIONS)
  const smoothing = opts.labelSmoothing ?? 0
  if (!(smoothing >= 0 && smoothing <= 1))
    throw new T.ValueError(op, `labelSmoothing must be in [0, 1], got ${smoothing}`)
  requireFloat(op, logits, 'logits')
  const logitsShape = logits.shape
  if (logitsShape.length !== 2)
    throw new T.ShapeError(
      op,
      `logits has shape ${T.fmtShape(logitsShape)}; expected [N, C] (batch, classes)`,
    )
  const batch = logitsShape[0]!
  const numClasses = logitsShape[1]!
  const targets =
    labels.dtype === 'int32' ? oneHotTargets(logits, labels, batch, numClasses) : softTargets(logits, labels)
  const smoothed = smoothing === 0 ? targets : O.add(O.mul(targets, 1 - smoothing), smoothing / numClasses)
  return O.mean(O.softmaxCrossEntropy(logits, smoothed))
}

const oneHotTargets = (logits: Tensor, labels: Tensor, batch: number, numClasses: number): Tensor => {
  if (labels.shape.length !== 1 || labels.shape[0] !== batch)
    throw new T.ShapeError(
      'crossEntropy',
      `int32 labels have shape ${T.fmtShape(labels.shape)} but logits have shape ${T.fmtShape(logits.shape)}; ` +
        `expected class indices of shape [${batch}]`,
    )
  // Labels staged by jit (a jitted training step) have no data to check or encode yet: the oneHot
  // op encodes them when the graph runs, and its kernel refuses an index outside the classes.
  if (T.isAbstract(labels)) return O.oneHot(labels, numClasses, logits.dtype)
  requireClassIndices('crossEntropy', labels, numClasses)
  // Class indices carry no gradient, so the one-hot table is a constant built by the kernel.
  return T.oneHot(labels, numClasses, logits.dtype)
}

const softTargets = (logits: Tensor, labels: Tensor): Tensor => {
  if (!T.shapesEqual(labels.shape, logits.shape))
    throw new T.ShapeError(
      'crossEntropy',
      `float labels have shape ${T.fmtShape(labels.shape)} but logits have shape ${T.fmtShape(logits.shape)}; ` +
        'expected one-hot or soft labels shaped like the logits, or int32 class indices of shape [N]',
    )
  return labels
}
