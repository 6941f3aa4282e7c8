// Losses: the fused, stable softmax cross-entropy op and its integer-label form (a composite).
import { softmaxCrossEntropy, softmaxCrossEntropyOp } from './softmaxCrossEntropy'

export { softmaxCrossEntropy, softmaxCrossEntropyOp }
export type { SoftmaxCrossEntropyParams } from './softmaxCrossEntropy'
export { softmaxCrossEntropyWithIntegerLabels } from './softmaxCrossEntropyWithIntegerLabels'

/** Every loss op by name (the keys equal each op's `name`), each also listed in the registry. @since 0.1.0 */
export const lossOps = {
  softmaxCrossEntropy: softmaxCrossEntropyOp,
} as const
