/**
 * Layers and combinators. Each layer is a value `{ kind, init, apply }`: `init(key, inShape)` infers
 * shapes and makes parameters (or returns a `LayerError` naming the layer's path), `apply` runs a batch.
 * @since 0.1.0
 */
export { dense } from './dense'
export type { DenseParams, DenseParamsNoBias, DenseParamsFor, DenseOptions, DenseActivation } from './dense'
export { conv2d } from './conv2d'
export type { Conv2dParams, Conv2dParamsNoBias, Conv2dParamsFor, Conv2dLayerOptions } from './conv2d'
export { conv1d } from './conv1d'
export { conv2dTranspose } from './conv2dTranspose'
export type {
  Conv2dTransposeParams,
  Conv2dTransposeParamsNoBias,
  Conv2dTransposeParamsFor,
  Conv2dTransposeOptions,
  Conv2dTransposeConfig,
} from './conv2dTranspose'
export type {
  Conv1dParams,
  Conv1dParamsNoBias,
  Conv1dParamsFor,
  Conv1dLayerOptions,
  Padding1d,
  Conv1dConfig,
} from './conv1d'
export { maxPool2d } from './maxPool2d'
export { avgPool2d } from './avgPool2d'
export { globalAvgPool2d } from './globalAvgPool2d'
export { flatten } from './flatten'
export { dropout } from './dropout'
export { batchNorm } from './batchNorm'
export type { BatchNormParams, BatchNormParamsFor, BatchNormState, BatchNormOptions } from './batchNorm'
export { layerNorm } from './layerNorm'
export type { LayerNormParams, LayerNormParamsFor, LayerNormOptions } from './layerNorm'
export { rmsNorm } from './rmsNorm'
export type { RmsNormParams, RmsNormParamsFor, RmsNormOptions } from './rmsNorm'
export { groupNorm } from './groupNorm'
export type { GroupNormParams, GroupNormParamsFor, GroupNormOptions } from './groupNorm'
export { embedding } from './embedding'
export type { EmbeddingParams, EmbeddingOptions } from './embedding'
export { relu } from './relu'
export { leakyRelu } from './leakyRelu'
export { elu } from './elu'
export { gelu } from './gelu'
export { silu } from './silu'
export { sigmoid } from './sigmoid'
export { tanh } from './tanh'
export { softmax } from './softmax'
export { sequential } from './sequential'
export { residual } from './residual'
export { parallel } from './parallel'
export type { AnyLayer, LayerParams, LayerState } from './common'
export type { LayerRecord, ParamsTuple, StateTuple, ParamsRecord, StateRecord } from './container'
export type { DenseConfig } from './dense'
export type { Conv2dConfig } from './conv2d'
export type { Pool2dConfig } from './pool2d'
export type { SequentialConfig } from './sequential'
export type { ParallelConfig } from './parallel'
export type { ResidualConfig } from './residual'
export { multiHeadAttention, attend, initAttention } from './multiHeadAttention'
export type {
  AttentionParams,
  SeparateAttentionParams,
  AttentionCache,
  MultiHeadAttentionState,
  AttendOptions,
  InitAttentionOptions,
  MultiHeadAttentionParams,
  MultiHeadAttentionParamsNoBias,
  MultiHeadAttentionParamsFor,
  MultiHeadAttentionOptions,
  MultiHeadAttentionConfig,
} from './multiHeadAttention'
export { positionalEmbedding } from './positionalEmbedding'
export type { PositionalEmbeddingParams, PositionalEmbeddingOptions } from './positionalEmbedding'
export { sinusoidal } from './sinusoidal'
export type { SinusoidalOptions } from './sinusoidal'
export type { PositionState } from './decoding'
export { transformerBlock } from './transformerBlock'
export type {
  TransformerBlockParams,
  TransformerBlockState,
  TransformerBlockOptions,
  TransformerBlockConfig,
} from './transformerBlock'
export { gru, gruSequence } from './gru'
export type {
  GruParams,
  GruParamsNoBias,
  GruParamsFor,
  GruOptions,
  GruConfig,
  GruInitialState,
  GruInitial,
  GruSequenceResult,
} from './gru'
export { lstm, lstmSequence } from './lstm'
export type {
  LstmParams,
  LstmParamsNoBias,
  LstmParamsFor,
  LstmOptions,
  LstmConfig,
  LstmInitialState,
  LstmInitial,
  LstmSequenceResult,
} from './lstm'
export type { InitialState } from './recurrent'
export { gruCell } from './gruCell'
export type {
  GruCellParams,
  GruCellParamsNoBias,
  GruCellParamsFor,
  GruCellOptions,
  GruCellConfig,
} from './gruCell'
export { lstmCell } from './lstmCell'
export type {
  LstmCellParams,
  LstmCellParamsNoBias,
  LstmCellParamsFor,
  LstmCellOptions,
  LstmCellConfig,
} from './lstmCell'
