import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { requireClassIndices } from './validate'

/**
 * The fraction of examples whose highest-scoring class is the label: `mean_i [argmax_c out_ic = y_i]`.
 * `output` is `[N, C]` logits or probabilities (the argmax is the same; ties go to the lowest class),
 * `labels` int32 class indices `[N]`. A plain number, not differentiable: a metric, not a loss.
 * Labels outside `[0, C)` and empty batches throw a `ValueError`.
 * @example
 * import { tensor } from '@backfold/tensor'
 * import { accuracy } from '@backfold/nn'
 * accuracy(tensor([[0.1, 0.9], [0.8, 0.2]]), tensor([1, 1], 'int32')) // 0.5
 * @since 0.1.0
 */
export const accuracy = (output: Tensor, labels: Tensor): number => {
  const outShape = output.shape
  if (outShape.length !== 2)
    throw new T.ShapeError(
      'accuracy',
      `output has shape ${T.fmtShape(outShape)}; expected [N, C] (batch, classes)`,
    )
  const batch = outShape[0]!
  if (labels.shape.length !== 1 || labels.shape[0] !== batch)
    throw new T.ShapeError(
      'accuracy',
      `labels have shape ${T.fmtShape(labels.shape)} but output has shape ${T.fmtShape(outShape)}; ` +
        `expected int32 class indices of shape [${batch}]`,
    )
  if (batch === 0)
    throw new T.ValueError('accuracy', 'the batch is empty (output has shape [0, C]); accuracy is undefined')
  requireClassIndices('accuracy', labels, outShape[1]!)
  const predicted = T.argmax(output, { axis: 1 }).data
  const truth = labels.data
  let correct = 0
  for (let i = 0; i < batch; i++) if (predicted[i] === truth[i]) correct++
  return correct / batch
}
