// y = softmaxCrossEntropy(logits, oneHot(labels)) ; composite: the labels are constants
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { concrete } from '../core/trace'
import { AXIS_OPTIONS, checkOptions, type AxisOptions } from '../core/options'
import { softmaxCrossEntropy } from './softmaxCrossEntropy'

/**
 * Softmax cross-entropy against integer class labels: the per-example loss
 * `logsumexp(logits) − logits[label]` along `axis` (default the last), with that axis removed.
 * `labels` is int32 with the shape of `logits` minus `axis`; it is data, not differentiated.
 * @example
 * softmaxCrossEntropyWithIntegerLabels(tensor([[2, 0], [0, 2]]), tensor([0, 0], 'int32')) // [0.1269, 2.1269]
 * @throws ValueError for an unknown option; DTypeError when labels are not int32; ShapeError when their shape is not logits' shape without `axis`;
 * ValueError naming the first label outside `[0, classes)`.
 * @since 0.1.0
 */
export const softmaxCrossEntropyWithIntegerLabels = (
  logits: Tensor,
  labels: Tensor,
  opts?: AxisOptions,
): Tensor => {
  const op = 'softmaxCrossEntropyWithIntegerLabels'
  checkOptions(op, opts, AXIS_OPTIONS)
  const rank = logits.shape.length
  const classAxis = T.normalizeAxis(op, opts?.axis ?? -1, rank)
  const classes = logits.shape[classAxis]!
  if (labels.dtype !== 'int32')
    throw new T.DTypeError(
      op,
      `labels have dtype ${labels.dtype} (shape ${T.fmtShape(labels.shape)}); expected int32 class indices ` +
        '(for probabilities use softmaxCrossEntropy)',
    )
  const expectedShape = logits.shape.filter((_, i) => i !== classAxis)
  if (!T.shapesEqual(labels.shape, expectedShape))
    throw new T.ShapeError(
      op,
      `labels have shape ${T.fmtShape(labels.shape)} but logits have shape ${T.fmtShape(logits.shape)} ` +
        `with classes on axis ${classAxis}; expected labels of shape ${T.fmtShape(expectedShape)}`,
    )
  const labelValues = concrete(labels)
  const values = labelValues.data
  // A validation scan, not arithmetic: it finds the first bad label so the message can name it.
  for (let i = 0; i < values.length; i++) {
    const label = values[i]!
    if (label < 0 || label >= classes)
      throw new T.ValueError(
        op,
        `label ${label} at flat index ${i} of labels (shape ${T.fmtShape(labels.shape)}) is out of range; ` +
          `expected 0 <= label < ${classes}, the size of logits axis ${classAxis} (logits shape ${T.fmtShape(logits.shape)})`,
      )
  }
  const oneHotLast = T.oneHot(labelValues, classes, T.toFloat(logits.dtype))
  // oneHot puts the classes last; move them to the class axis.
  const perm = [...Array.from({ length: classAxis }, (_, i) => i), rank - 1]
  for (let i = classAxis; i < rank - 1; i++) perm.push(i)
  const oneHot = classAxis === rank - 1 ? oneHotLast : T.transpose(oneHotLast, perm)
  return softmaxCrossEntropy(logits, oneHot, { axis: classAxis })
}
