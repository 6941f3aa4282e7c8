import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import type { Layer, NoParams, NoState } from '../layer'
import * as t from 'io-ts/lib/index.js'
import * as F from '../config/fields'
import { formatDims } from '../onnx/context'
import { floatAttribute, intAttribute } from '../onnx/graph'
import { checkLayerOptions, trailingNormLayer } from './common'
import { leafKind } from './define'

/** Learned elementwise scale and shift of `layerNorm`, shaped like the normalised dims (PyTorch's names). @since 0.1.0 */
export interface LayerNormParams {
  /** Starts at 1 (γ). */
  readonly weight: Tensor
  /** Starts at 0 (β). */
  readonly bias: Tensor
}

/** `LayerNormParams`, or no parameters when `affine` is the literal `false`. @since 0.1.0 */
export type LayerNormParamsFor<A extends boolean> = A extends false ? NoParams : LayerNormParams

/** Options of `layerNorm`. @since 0.1.0 */
export interface LayerNormOptions<A extends boolean = boolean> {
  /** Added to the variance before the square root (default 1e-5). */
  readonly eps?: number
  /**
   * How many trailing dimensions of each example are normalised together (default 1, the last):
   * PyTorch's `normalized_shape` is `inShape.slice(-axes)`.
   */
  readonly axes?: number
  /** Learn an elementwise scale and shift (PyTorch's `elementwise_affine`, default true). */
  readonly affine?: A
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

// `axes` here counts trailing dimensions (it is not an axis), hence its own name.
const LAYER_NORM_OPTIONS = O.optionSchema({
  eps: O.option.number,
  axes: O.option.integer,
  affine: O.option.boolean,
  dtype: O.option.anything,
})

/**
 * Layer normalisation (Ba et al. 2016; PyTorch's `nn.LayerNorm`): each example is normalised over its
 * last `axes` dimensions with its own mean and BIASED variance, `y = (x − μ) / √(σ² + eps) · weight + bias`,
 * the same in training and evaluation.
 * @example
 * layers.layerNorm().init(T.random.key(0), [10, 64]) // params { weight [64], bias [64] }
 * layers.layerNorm({ axes: 2 }).init(T.random.key(0), [10, 64]) // params { weight [10, 64], bias [10, 64] }
 * @since 0.1.0
 */
export const layerNorm = <A extends boolean = true>(
  opts: LayerNormOptions<A> = {},
): Layer<LayerNormParamsFor<A>, NoState> => {
  checkLayerOptions('layerNorm', opts, LAYER_NORM_OPTIONS)
  const eps = opts.eps ?? 1e-5
  const layer = trailingNormLayer<LayerNormParams>(
    'layerNorm',
    { eps, axes: opts.axes ?? 1, affine: opts.affine ?? true, dtype: opts.dtype },
    (shape, dtype) => ({ weight: T.ones(shape, dtype), bias: T.zeros(shape, dtype) }),
    (x, axes, params) => {
      const mean = O.mean(x, { axis: [...axes], keepDims: true })
      const centered = O.sub(x, mean)
      const variance = O.mean(O.square(centered), { axis: [...axes], keepDims: true })
      const normalized = O.mul(centered, O.rsqrt(O.add(variance, eps)))
      return 'weight' in params ? O.add(O.mul(normalized, params.weight), params.bias) : normalized
    },
  )
  // Safe: weight and bias are present exactly when affine is not false, which is what LayerNormParamsFor<A> says.
  return layer as unknown as Layer<LayerNormParamsFor<A>, NoState>
}

/** The `layerNorm` kind: ONNX export as LayerNormalization (opset >= 17). @since 0.2.0 */
export const layerNormKind = /* @__PURE__ */ leafKind({
  kind: 'layerNorm',
  required: {},
  optional: { axes: F.positiveInt, eps: F.positive, affine: t.boolean, dtype: F.dtype },
  // Why the cast: the fields passed the codecs above, which are LayerNormOptions' types.
  build: (f) => layerNorm(f as LayerNormOptions),
  allocation: (c, inShape) => {
    const axes = typeof c['axes'] === 'number' ? c['axes'] : 1
    if (inShape.length < axes) return undefined
    const normalized = inShape.slice(inShape.length - axes).reduce((n, d) => n * d, 1)
    return { size: c['affine'] === false ? 0 : 2 * normalized, outShape: inShape }
  },
  onnx: {
    emit: (ctx) => {
      const x = ctx.float()
      if (E.isLeft(x)) return x
      if (ctx.opset < 17) return ctx.fail(`LayerNormalization needs opset >= 17, got opset ${ctx.opset}`)
      const count = ctx.config['axes'] ?? 1
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1)
        return ctx.fail(`config.axes must be a positive integer, got ${JSON.stringify(count)}`)
      const shape = x.right.shape
      if (shape.length < count)
        return ctx.fail(
          `normalising the last ${count} dimension(s) needs a per-example rank >= ${count}, got ${formatDims(shape)}`,
        )
      const normalized = shape.slice(shape.length - count).map((d) => (typeof d === 'number' ? d : null))
      const weight = ctx.optionalParam('affine', 'weight', normalized)
      if (E.isLeft(weight)) return weight
      const sizes = weight.right?.shape ?? normalized
      if (!sizes.every((d): d is number => d !== null))
        return ctx.fail(
          `without affine params the normalised dimensions ${formatDims(normalized)} must be known sizes`,
        )
      const bias = ctx.optionalParam('affine', 'bias', sizes)
      if (E.isLeft(bias)) return bias
      const eps = ctx.number('eps', 1e-5)
      if (E.isLeft(eps)) return eps
      const inputs = [
        x.right.name,
        ctx.initializer('weight', weight.right ?? T.ones(sizes)),
        ctx.initializer('bias', bias.right ?? T.zeros(sizes)),
      ]
      return E.right({
        ...x.right,
        name: ctx.node('LayerNormalization', inputs, [
          intAttribute('axis', -count),
          floatAttribute('epsilon', eps.right),
        ]),
      })
    },
  },
})
