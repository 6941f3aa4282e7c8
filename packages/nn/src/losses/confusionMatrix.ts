import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { requireClassIndices } from './validate'

/**
 * Counts of (true class, predicted class) pairs: an int32 `[C, C]` tensor whose ROW is the true class
 * and COLUMN the predicted class (scikit-learn's and torchmetrics' layout), so the diagonal holds the
 * correct predictions and row `i` sums to the number of examples of class `i`.
 *
 * `predictions` and `labels` are int32 class indices `[N]` (take `argmax(logits, { axis: 1 })` first);
 * indices outside `[0, numClasses)` throw a `ValueError` naming the example.
 * @example
 * import { tensor } from '@backfold/tensor'
 * import { confusionMatrix } from '@backfold/nn'
 * confusionMatrix(tensor([0, 1, 1], 'int32'), tensor([0, 0, 1], 'int32'), 2) // [[1, 1], [0, 1]]
 * @since 0.1.0
 */
export const confusionMatrix = (predictions: Tensor, labels: Tensor, numClasses: number): Tensor => {
  if (!(Number.isInteger(numClasses) && numClasses > 0))
    throw new T.ValueError('confusionMatrix', `numClasses must be a positive integer, got ${numClasses}`)
  if (predictions.shape.length !== 1 || !T.shapesEqual(predictions.shape, labels.shape))
    throw new T.ShapeError(
      'confusionMatrix',
      `predictions have shape ${T.fmtShape(predictions.shape)} and labels ${T.fmtShape(labels.shape)}; ` +
        'expected two int32 vectors of the same length [N]',
    )
  requireClassIndices('confusionMatrix', predictions, numClasses, 'predictions')
  requireClassIndices('confusionMatrix', labels, numClasses, 'labels')
  const counts = new Int32Array(numClasses * numClasses)
  const predicted = predictions.data
  const truth = labels.data
  for (let i = 0; i < truth.length; i++) counts[truth[i]! * numClasses + predicted[i]!]!++
  return T.unsafeTensor('int32', [numClasses, numClasses], counts)
}
