import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import * as t from 'io-ts/lib/index.js'
import type { Layer, LayerConfig, NoState } from '../layer'
import * as F from '../config/fields'
import { intAttribute } from '../onnx/graph'
import { leafKind } from './define'
import type { Initializer } from '../init/initializer'
import { torchDefault } from '../init/varianceScaling'
import {
  PARAM_OPTION_SPECS,
  badShape,
  checkLayerOptions,
  configOf,
  fail,
  initWeightAndBias,
  notPositiveInteger,
} from './common'

/** Parameters of `dense`: PyTorch's `nn.Linear` names and layout. @since 0.1.0 */
export interface DenseParams {
  /** `[units, inFeatures]`, so `y = x Wᵀ + b` (per example `z = W a + b`). */
  readonly weight: Tensor
  /** `[units]`. */
  readonly bias: Tensor
}

/** Parameters of `dense(units, { useBias: false })`. @since 0.1.0 */
export interface DenseParamsNoBias {
  readonly weight: Tensor
}

/** `DenseParams`, without `bias` when `useBias` is the literal `false`. @since 0.1.0 */
export type DenseParamsFor<B extends boolean> = B extends false ? DenseParamsNoBias : DenseParams

/** Options of `dense`. @since 0.1.0 */
export interface DenseOptions<B extends boolean = boolean> {
  /** Add a bias (default true). */
  readonly useBias?: B
  /** Default `torchDefault`: U(−1/√in, 1/√in), PyTorch's `nn.Linear` default. */
  readonly weightInit?: Initializer
  /** Default `torchDefault` with the weight's fans: U(−1/√in, 1/√in), as PyTorch. */
  readonly biasInit?: Initializer
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
  /**
   * `'relu'`: apply ReLU in the same fused op (`linear(x, w, b, 'relu')`, one pass over the output
   * for bias and activation), with the values and gradients of `dense` followed by `relu()`.
   * `'linear'` or absent: no activation. The fused op supports no other activation yet; follow
   * the layer with an activation layer instead (`sequential(dense(n), tanh())`).
   * @since 0.2.0
   */
  readonly activation?: DenseActivation
}

/** The activations `dense` can fuse: `'relu'`, or `'linear'` for none (TF.js's names). @since 0.2.0 */
export type DenseActivation = 'relu' | 'linear'

const DENSE_OPTIONS = O.optionSchema({
  ...PARAM_OPTION_SPECS,
  activation: {
    expected:
      "'relu' or 'linear' (the fused op applies no other activation: put an activation layer after dense instead, e.g. sequential(dense(n), tanh()))",
    check: (value: unknown) => value === 'relu' || value === 'linear',
  },
})

/**
 * A fully connected layer: `[N, ..., in] → [N, ..., units]`, `y = x Wᵀ + b` with `W` of shape
 * `[units, in]` (PyTorch's `nn.Linear`, so checkpoints share names and layouts). It acts on the last
 * axis: a per-example `[seq, in]` maps each position (a language model's head); put `flatten()` first
 * to mix all the features of an image. Weights and bias default to PyTorch's initialisation,
 * U(−1/√in, 1/√in); pass `weightInit`/`biasInit` (e.g. `initializers.heNormal`, `initializers.zeros`)
 * to change it. `activation: 'relu'` applies ReLU inside the same op (faster than a separate
 * `relu()` layer, same values and gradients).
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * const layer = layers.dense(10)
 * const built = layer.init(T.random.key(0), [784]) // Right: weight [10, 784], bias [10], outShape [10]
 * if (E.isRight(built)) {
 *   const { params, state } = built.right
 *   const [y] = layer.apply(params, state, T.zeros([32, 784]), { training: false }) // y: [32, 10]
 * }
 * const hidden = layers.dense(64, { activation: 'relu' }) // relu(x Wᵀ + b) in one fused op
 * @throws ValueError for an unknown option or an option of the wrong type (other bad arguments make `init` return a `LayerError`).
 * @since 0.1.0
 */
export const dense = <B extends boolean = true>(
  units: number,
  opts: DenseOptions<B> = {},
): Layer<DenseParamsFor<B>, NoState> => {
  const kind = 'dense'
  checkLayerOptions(kind, opts, DENSE_OPTIONS)
  const useBias = opts.useBias ?? true
  const weightInit = opts.weightInit ?? torchDefault
  const biasInit = opts.biasInit ?? torchDefault
  // 'linear' is the default spelt out; the config records only a real activation, so a config
  // written before the option existed and one without it are the same.
  const activation = opts.activation === 'relu' ? 'relu' : 'none'
  const layer: Layer<DenseParams | DenseParamsNoBias, NoState> = {
    kind,
    config: configOf(kind, {
      units,
      useBias,
      dtype: opts.dtype,
      activation: activation === 'relu' ? activation : undefined,
    }),
    init: (key, inShape) => {
      const problem = badShape(inShape) ?? notPositiveInteger('units', units)
      if (problem !== undefined) return fail(kind, problem)
      if (inShape.length === 0)
        return fail(
          kind,
          `expected a per-example input of rank >= 1 ([..., features]), got a scalar ${T.fmtShape(inShape)}`,
        )
      const features = inShape[inShape.length - 1]!
      return pipe(
        initWeightAndBias(kind, key, [units, features], units, {
          weightInit,
          biasInit,
          useBias,
          dtype: opts.dtype,
        }),
        // Safe: `bias` is present exactly when useBias is set.
        E.map((params) => ({
          params: params as DenseParams | DenseParamsNoBias,
          state: {},
          outShape: [...inShape.slice(0, -1), units],
        })),
      )
    },
    // One fused op: the bias (and the ReLU, when asked) are applied in the product's output pass,
    // and its VJP is the same fold.
    apply: (params, state, x) => {
      const bias = 'bias' in params ? params.bias : undefined
      if (x.shape.length <= 2) return [O.linear(x, params.weight, bias, activation), state]
      // Leading axes folded into rows: one product for every position, then the shape back.
      const rows = O.reshape(x, [-1, x.shape[x.shape.length - 1]!])
      const y = O.linear(rows, params.weight, bias, activation)
      return [O.reshape(y, [...x.shape.slice(0, -1), y.shape[1]!]), state]
    },
  }
  // Safe: `bias` is present exactly when useBias is not false, which is what DenseParamsFor<B> says.
  return layer as Layer<DenseParamsFor<B>, NoState>
}

/** The config of a `dense` layer, as `encodeModel` writes it. @since 0.2.0 */
export interface DenseConfig extends LayerConfig {
  readonly kind: 'dense'
  readonly units: number
  readonly useBias?: boolean
  readonly dtype?: DType
  /** Recorded only when `'relu'`: configs written before the option existed decode as before. */
  readonly activation?: DenseActivation
}

/**
 * The `dense` kind: config fields, ONNX export (Gemm with transB = 1, then Relu for
 * `activation: 'relu'`) and allocation.
 * @since 0.2.0
 */
export const denseKind = /* @__PURE__ */ leafKind({
  kind: 'dense',
  required: { units: F.positiveInt },
  optional: {
    useBias: t.boolean,
    dtype: F.dtype,
    activation: /* @__PURE__ */ t.union(
      [/* @__PURE__ */ t.literal('relu'), /* @__PURE__ */ t.literal('linear')],
      "'relu' or 'linear'",
    ),
  },
  build: (f) =>
    dense(f['units'] as number, {
      useBias: f['useBias'] !== false,
      ...(f['dtype'] === undefined ? {} : { dtype: f['dtype'] as DType }),
      ...(f['activation'] === 'relu' ? { activation: 'relu' } : {}),
    }),
  allocation: (c, inShape) => {
    const units = typeof c['units'] === 'number' ? c['units'] : 0
    const features = inShape[inShape.length - 1]
    return features === undefined
      ? undefined
      : {
          size: units * features + (c['useBias'] === false ? 0 : units),
          outShape: [...inShape.slice(0, -1), units],
        }
  },
  onnx: {
    emit: (ctx) => {
      const x = ctx.float()
      if (E.isLeft(x)) return x
      if (x.right.shape.length === 0)
        return ctx.fail('expected a per-example input [..., features], got a scalar')
      const activation = ctx.config['activation']
      if (activation !== undefined && activation !== 'relu' && activation !== 'linear')
        return ctx.fail(`config.activation must be 'relu' or 'linear', got ${JSON.stringify(activation)}`)
      const inFeatures = x.right.shape[x.right.shape.length - 1] ?? null
      const units = ctx.config['units']
      const weight = ctx.param('weight', [
        typeof units === 'number' ? units : null,
        typeof inFeatures === 'number' ? inFeatures : null,
      ])
      if (E.isLeft(weight)) return weight
      const outFeatures = weight.right.shape[0]!
      const bias = ctx.optionalParam('useBias', 'bias', [outFeatures])
      if (E.isLeft(bias)) return bias
      const inputs = [
        x.right.name,
        ctx.initializer('weight', weight.right),
        ...(bias.right === undefined ? [] : [ctx.initializer('bias', bias.right)]),
      ]
      // y = x Wᵀ + b, with W stored [out, in] as in PyTorch: Gemm for [N, in]; for more axes
      // MatMul (which broadcasts the leading ones) by the transposed weight, then Add.
      const product =
        x.right.shape.length === 1
          ? ctx.node('Gemm', inputs, [intAttribute('transB', 1)])
          : ((): string => {
              const matmul = ctx.node('MatMul', [inputs[0]!, ctx.node('Transpose', [inputs[1]!])])
              return inputs[2] === undefined ? matmul : ctx.node('Add', [matmul, inputs[2]])
            })()
      // dense(n, { activation: 'relu' }) is one fused op here; ONNX has no fused Gemm + Relu, so two nodes.
      return E.right({
        name: activation === 'relu' ? ctx.node('Relu', [product]) : product,
        shape: [...x.right.shape.slice(0, -1), outFeatures],
        elem: 'float',
      })
    },
  },
})
