/**
 * Optax-style optimizers: pure gradient transformations, their named-record `chain`, the named
 * optimizers built from them, and learning-rate schedules.
 * @since 0.1.0
 */
export { chain } from './chain'
export { identity, type EmptyState } from './identity'
export { scale } from './scale'
export { scaleByLearningRate, learningRateAt, type ScaleByLearningRateState } from './scaleByLearningRate'
export { traceMomentum, type TraceMomentumState, type TraceMomentumOptions } from './traceMomentum'
export { scaleByAdam, type ScaleByAdamState, type ScaleByAdamOptions } from './scaleByAdam'
export { scaleByRms, type ScaleByRmsState, type ScaleByRmsOptions } from './scaleByRms'
export { scaleByRss, type ScaleByRssState, type ScaleByRssOptions } from './scaleByRss'
export { addDecayedWeights, type AddDecayedWeightsOptions } from './addDecayedWeights'
export { clipByGlobalNorm, globalNorm } from './clipByGlobalNorm'
export { clipByValue } from './clipByValue'
export { sgd, type SgdState } from './sgd'
export { momentum, type MomentumState } from './momentum'
export { nesterov } from './nesterov'
export { adam, type AdamOptions, type AdamState } from './adam'
export { adamw, type AdamwOptions } from './adamw'
export { rmsprop, type RmspropOptions, type RmspropState } from './rmsprop'
export { adagrad, type AdagradOptions, type AdagradState } from './adagrad'
export { applyGradients, applyUpdates } from './applyUpdates'
export {
  constant,
  piecewiseConstant,
  exponentialDecay,
  cosineDecay,
  warmupCosineDecay,
  type PiecewiseConstantOptions,
  type ExponentialDecayOptions,
  type CosineDecayOptions,
  type WarmupCosineDecayOptions,
} from './schedules'
