/**
 * The built-in layer kinds, keyed by kind in a typed map: a kind listed in `BuiltinLayerConfigs`
 * without a definition, or a definition without its ONNX export, does not compile.
 * @since 0.2.0
 */
import type { DType } from '@backfold/tensor'
import type { JsonValue, LayerConfig } from '../layer'
import type { OnnxExport } from '../onnx/context'
import type { LayerKind } from './define'
import { avgPool2dKind } from './avgPool2d'
import { batchNormKind } from './batchNorm'
import { conv2dKind, type Conv2dConfig } from './conv2d'
import { conv1dKind, type Conv1dConfig } from './conv1d'
import { conv2dTransposeKind, type Conv2dTransposeConfig } from './conv2dTranspose'
import { denseKind, type DenseConfig } from './dense'
import { dropoutKind } from './dropout'
import { eluKind } from './elu'
import { embeddingKind } from './embedding'
import { flattenKind } from './flatten'
import { geluKind } from './gelu'
import { globalAvgPool2dKind } from './globalAvgPool2d'
import { layerNormKind } from './layerNorm'
import { rmsNormKind } from './rmsNorm'
import { groupNormKind } from './groupNorm'
import { gruKind, type GruConfig } from './gru'
import { leakyReluKind } from './leakyRelu'
import { lstmKind, type LstmConfig } from './lstm'
import { lstmCellKind, type LstmCellConfig } from './lstmCell'
import { gruCellKind, type GruCellConfig } from './gruCell'
import { maxPool2dKind } from './maxPool2d'
import { multiHeadAttentionKind, type MultiHeadAttentionConfig } from './multiHeadAttention'
import { parallelKind, type ParallelConfig } from './parallel'
import { positionalEmbeddingKind } from './positionalEmbedding'
import type { Pool2dConfig } from './pool2d'
import { reluKind } from './relu'
import { residualKind, type ResidualConfig } from './residual'
import { sequentialKind, type SequentialConfig } from './sequential'
import { sigmoidKind } from './sigmoid'
import { siluKind } from './silu'
import { sinusoidalKind } from './sinusoidal'
import { softmaxKind } from './softmax'
import { tanhKind } from './tanh'
import { transformerBlockKind, type TransformerBlockConfig } from './transformerBlock'

/** A config whose only fields are `kind` and `F`. */
type Plain<
  K extends string,
  F extends { readonly [key: string]: JsonValue } = Record<never, never>,
> = LayerConfig & Readonly<F> & { readonly kind: K }

/**
 * The config of every built-in kind, by kind (the JSON `encodeModel` writes). Extended with user
 * kinds through `LayerConfigs`.
 * @since 0.2.0
 */
export interface BuiltinLayerConfigs {
  readonly sequential: SequentialConfig
  readonly parallel: ParallelConfig
  readonly residual: ResidualConfig
  readonly dense: DenseConfig
  readonly conv2d: Conv2dConfig
  readonly conv1d: Conv1dConfig
  readonly conv2dTranspose: Conv2dTransposeConfig
  readonly maxPool2d: Pool2dConfig<'maxPool2d'>
  readonly avgPool2d: Pool2dConfig<'avgPool2d'>
  readonly globalAvgPool2d: Plain<'globalAvgPool2d'>
  readonly flatten: Plain<'flatten'>
  readonly dropout: Plain<'dropout', { rate: number }>
  readonly batchNorm: Plain<'batchNorm', { momentum?: number; eps?: number; affine?: boolean; dtype?: DType }>
  readonly layerNorm: Plain<'layerNorm', { axes?: number; eps?: number; affine?: boolean; dtype?: DType }>
  readonly rmsNorm: Plain<'rmsNorm', { axes?: number; eps?: number; affine?: boolean; dtype?: DType }>
  readonly groupNorm: Plain<'groupNorm', { groups: number; eps?: number; affine?: boolean; dtype?: DType }>
  readonly embedding: Plain<'embedding', { numEmbeddings: number; dim: number; dtype?: DType }>
  readonly relu: Plain<'relu'>
  readonly leakyRelu: Plain<'leakyRelu', { slope?: number }>
  readonly elu: Plain<'elu', { alpha?: number }>
  readonly gelu: Plain<'gelu', { approximate?: 'none' | 'tanh' }>
  readonly silu: Plain<'silu'>
  readonly sigmoid: Plain<'sigmoid'>
  readonly tanh: Plain<'tanh'>
  readonly softmax: Plain<'softmax', { axis?: number }>
  readonly multiHeadAttention: MultiHeadAttentionConfig
  readonly positionalEmbedding: Plain<'positionalEmbedding', { maxLen: number; dtype?: DType }>
  readonly sinusoidal: Plain<'sinusoidal', { base?: number }>
  readonly transformerBlock: TransformerBlockConfig
  readonly gru: GruConfig
  readonly lstm: LstmConfig
  readonly gruCell: GruCellConfig
  readonly lstmCell: LstmCellConfig
}

/** The name of a built-in kind. @since 0.2.0 */
export type BuiltinKind = keyof BuiltinLayerConfigs

/**
 * Every built-in kind's definition, by kind.
 * @example
 * import { builtinKinds } from '@backfold/nn'
 * const emitsOnnx = typeof builtinKinds.dense.onnx.emit === 'function' // true for every built-in kind
 * @since 0.2.0
 */
export const builtinKinds: { readonly [K in BuiltinKind]: LayerKind<K> & { readonly onnx: OnnxExport } } = {
  sequential: sequentialKind,
  parallel: parallelKind,
  residual: residualKind,
  dense: denseKind,
  conv2d: conv2dKind,
  conv1d: conv1dKind,
  conv2dTranspose: conv2dTransposeKind,
  maxPool2d: maxPool2dKind,
  avgPool2d: avgPool2dKind,
  globalAvgPool2d: globalAvgPool2dKind,
  flatten: flattenKind,
  dropout: dropoutKind,
  batchNorm: batchNormKind,
  layerNorm: layerNormKind,
  rmsNorm: rmsNormKind,
  groupNorm: groupNormKind,
  embedding: embeddingKind,
  relu: reluKind,
  leakyRelu: leakyReluKind,
  elu: eluKind,
  gelu: geluKind,
  silu: siluKind,
  sigmoid: sigmoidKind,
  tanh: tanhKind,
  softmax: softmaxKind,
  multiHeadAttention: multiHeadAttentionKind,
  positionalEmbedding: positionalEmbeddingKind,
  sinusoidal: sinusoidalKind,
  transformerBlock: transformerBlockKind,
  gru: gruKind,
  lstm: lstmKind,
  gruCell: gruCellKind,
  lstmCell: lstmCellKind,
}

// The list is built by a call marked pure, so a bundle that never reads it drops it, and with it
// every kind's codec and ONNX emitter.
const valuesOf = (map: typeof builtinKinds): ReadonlyArray<LayerKind> => Object.values(map)

/**
 * The built-in kinds as a list: the default `layers` option of `decodeModel`, `encodeModel`,
 * `exportOnnx` and the checkpoint functions. Add your own kinds after them.
 * @example
 * import { builtinLayers, decodeModel } from '@backfold/nn'
 * const model = decodeModel({ kind: 'dense', units: 4 }, { layers: builtinLayers }) // the default
 * // with a custom kind: decodeModel(json, { layers: [...builtinLayers, gluKind] })
 * @since 0.2.0
 */
export const builtinLayers: ReadonlyArray<LayerKind> = /* @__PURE__ */ valuesOf(builtinKinds)
