/**
 * @backfold/nn: parameter trees, layers with shape inference, losses, optax-style optimizers and a
 * training loop, all pure functions over trees of tensors. Runs unchanged in a browser; files and
 * the terminal progress bar live in `@backfold/nn/node`.
 *
 * @example
 * import { layers, adam, crossEntropy, fit } from '@backfold/nn'
 * const model = layers.sequential(layers.dense(64), layers.relu(), layers.dense(10))
 * @packageDocumentation
 * @module @backfold/nn
 */
export * from './layer'
/** Functions over trees of tensors (nested records and arrays): `tree.map`, `tree.flatten`, ... */
export * as tree from './tree'
export type {
  GradientTransformation,
  StateOfTransformation,
  LearningRate,
  Schedule,
  NumericSchedule,
} from './optim/transform'
// Layer factories live in the `layers` namespace: `relu`, `softmax`, `conv2d`, ... name tensor
// functions in @backfold/ops, and one name has one meaning across the packages.
/** The layer factories and combinators: `layers.dense(64)`, `layers.relu()`, `layers.sequential(...)`. */
export * as layers from './layers/index'
export type * from './layers/index'
/** Parameter initialisers `(key, shape, dtype?, fans?) => Tensor`: `initializers.heNormal`, ... */
export * as initializers from './init/index'
export * from './losses/index'
export * from './optim/index'
export * from './train/index'
export * from './data/index'
export * from './checkpoint/index'
export * from './config/index'
export * from './onnx/index'
export { generate, incrementalDecodingProblem, type GenerateOptions } from './generate'
export { summary, formatSummary, type ModelSummary, type SummaryRow, type Summarizable } from './summary'
