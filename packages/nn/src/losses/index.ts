/**
 * Losses (scalar tensors, differentiable with `@backfold/ops`), regularisers and metrics.
 * @since 0.1.0
 */
export { meanSquaredError } from './meanSquaredError'
export { quadraticCost } from './quadraticCost'
export { crossEntropy, type CrossEntropyOptions } from './crossEntropy'
export { sequenceCrossEntropy, type SequenceCrossEntropyOptions } from './sequenceCrossEntropy'
export { sigmoidBinaryCrossEntropy } from './sigmoidBinaryCrossEntropy'
export { huber, type HuberOptions } from './huber'
export { l2Penalty, type PenaltyOptions } from './l2Penalty'
export { l1Penalty } from './l1Penalty'
export { weightsOnly, type ParamFilter } from './weightsOnly'
export { accuracy } from './accuracy'
export { confusionMatrix } from './confusionMatrix'
