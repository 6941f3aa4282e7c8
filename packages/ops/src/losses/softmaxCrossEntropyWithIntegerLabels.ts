// y = softmaxCrossEntropy(logits, oneHot(labels)) ; composite: the labels are constants
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { moveAxis } from '../core/batching'
import { oneHot } from '../indexing/oneHot'
import { AXIS_OPTIONS, checkOptions, type AxisOptions } from '../core/options'
import { softmaxCrossEntropy } from './softmaxCrossEntropy'

/**
 * Softmax cross-entropy against integer class labels: the per-example loss
 * `logsumexp(logits) − logits[label]` along `axis` (default the last), with that axis removed.
 * `labels` is int32 with the shape of `logits` minus `axis`; it is data, not differentiated.
 * Under `vmap` the labels may be mapped too (one label per example), so the per-example loss can be
 * written for one example.
 * @example
 * softmaxCrossEntropyWithIntegerLabels(tensor([[2, 0], [0, 2]]), tensor([0, 0], 'int32')) // [0.1269, 2.1269]
 * // the same losses written for one example (logits [2], a scalar label) and mapped:
 * vmap(softmaxCrossEntropyWithIntegerLabels)(tensor([[2, 0], [0, 2]]), tensor([0, 0], 'int32')) // [0.1269, 2.1269]
 * @throws ValueError for an unknown option; DTypeError when labels are not int32; ShapeError when their shape is not logits' shape without `axis`;
 * ValueError naming the first label outside `[0, classes)` (under `vmap`, its flat position in the batch of labels).
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
  // The labels are one-hot encoded by the oneHot op, not read here: under vmap they are a batch
  // with no single value (and its batching rule encodes the whole batch at once). The op checks the
  // range wherever the labels are concrete; its error is restated with this loss's shapes.
  let encoded: Tensor
  try {
    encoded = oneHot(labels, classes, T.toFloat(logits.dtype))
  } catch (e) {
    if (e instanceof T.ValueError && e.op === 'oneHot')
      throw new T.ValueError(
        op,
        `a label is out of range for the ${classes} classes on axis ${classAxis} of logits ` +
          `(logits shape ${T.fmtShape(logits.shape)}, labels shape ${T.fmtShape(labels.shape)}); expected ` +
          `0 <= label < ${classes}. ${e.message}`,
      )
    throw e
  }
  // oneHot puts the classes last; move them to the class axis.
  const targets = moveAxis(encoded, rank - 1, classAxis)
  return softmaxCrossEntropy(logits, targets, { axis: classAxis })
}
