import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import type { Layer, NoParams, NoState } from '../layer'
import * as t from 'io-ts/lib/index.js'
import * as F from '../config/fields'
import { formatDims, type OnnxEmitContext } from '../onnx/context'
import { intAttribute, intsAttribute } from '../onnx/graph'
import { checkLayerOptions, trailingNormLayer } from './common'
import { leafKind } from './define'

/** Learned elementwise scale of `rmsNorm`, shaped like the normalised dims (PyTorch's `RMSNorm.weight`). @since 0.2.0 */
export interface RmsNormParams {
  /** Starts at 1. */
  readonly weight: Tensor
}

/** `RmsNormParams`, or no parameters when `affine` is the literal `false`. @since 0.2.0 */
export type RmsNormParamsFor<A extends boolean> = A extends false ? NoParams : RmsNormParams

/** Options of `rmsNorm`. @since 0.2.0 */
export interface RmsNormOptions<A extends boolean = boolean> {
  /**
   * Added to the mean square before the square root (default 1e-6). PyTorch's default (`eps=None`)
   * is the machine epsilon of the input dtype; pass it explicitly to match a PyTorch model.
   */
  readonly eps?: number
  /**
   * How many trailing dimensions of each example are normalised together (default 1, the last),
   * as `layerNorm`'s `axes`: PyTorch's `normalized_shape` is `inShape.slice(-axes)`.
   */
  readonly axes?: number
  /** Learn an elementwise scale (PyTorch's `elementwise_affine`, default true). */
  readonly affine?: A
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

const RMS_NORM_OPTIONS = O.optionSchema({
  eps: O.option.number,
  axes: O.option.integer,
  affine: O.option.boolean,
  dtype: O.option.anything,
})

/**
 * Root-mean-square normalisation (Zhang & Sennrich 2019; PyTorch's `nn.RMSNorm`): each example is
 * divided by the root mean square of its last `axes` dimensions, `y = x / √(mean(x²) + eps) · weight`.
 * No centring and no bias; the same in training and evaluation.
 * @example
 * layers.rmsNorm().init(T.random.key(0), [10, 64]) // params { weight [64] }
 * layers.rmsNorm({ axes: 2, eps: 1e-5 }).init(T.random.key(0), [10, 64]) // params { weight [10, 64] }
 * @since 0.2.0
 */
export const rmsNorm = <A extends boolean = true>(
  opts: RmsNormOptions<A> = {},
): Layer<RmsNormParamsFor<A>, NoState> => {
  checkLayerOptions('rmsNorm', opts, RMS_NORM_OPTIONS)
  const eps = opts.eps ?? 1e-6
  const layer = trailingNormLayer<RmsNormParams>(
    'rmsNorm',
    { eps, axes: opts.axes ?? 1, affine: opts.affine ?? true, dtype: opts.dtype },
    (shape, dtype) => ({ weight: T.ones(shape, dtype) }),
    (x, axes, params) => {
      const meanSquare = O.mean(O.square(x), { axis: [...axes], keepDims: true })
      const normalized = O.mul(x, O.rsqrt(O.add(meanSquare, eps)))
      return 'weight' in params ? O.mul(normalized, params.weight) : normalized
    },
  )
  // Safe: weight is present exactly when affine is not false, which is what RmsNormParamsFor<A> says.
  return layer as unknown as Layer<RmsNormParamsFor<A>, NoState>
}

/**
 * `ReduceMean` over `axes` keeping them: the axes are an attribute before opset 18 and an int64
 * input from opset 18 on.
 */
export const reduceMean = (ctx: OnnxEmitContext, input: string, axes: ReadonlyArray<number>): string =>
  ctx.opset < 18
    ? ctx.node('ReduceMean', [input], [intsAttribute('axes', axes), intAttribute('keepdims', 1)])
    : ctx.node(
        'ReduceMean',
        [input, ctx.node('Constant', [], [intsAttribute('value_ints', axes)])],
        [intAttribute('keepdims', 1)],
      )

/**
 * The `rmsNorm` kind: ONNX export as its formula (Mul, ReduceMean, Add, Sqrt, Div, Mul), which every
 * opset backfold writes has (RMSNormalization exists only from opset 23).
 * @since 0.2.0
 */
export const rmsNormKind = /* @__PURE__ */ leafKind({
  kind: 'rmsNorm',
  required: {},
  optional: { axes: F.positiveInt, eps: F.positive, affine: t.boolean, dtype: F.dtype },
  // Why the cast: the fields passed the codecs above, which are RmsNormOptions' types.
  build: (f) => rmsNorm(f as RmsNormOptions),
  allocation: (c, inShape) => {
    const axes = typeof c['axes'] === 'number' ? c['axes'] : 1
    if (inShape.length < axes) return undefined
    const normalized = inShape.slice(inShape.length - axes).reduce((n, d) => n * d, 1)
    return { size: c['affine'] === false ? 0 : normalized, outShape: inShape }
  },
  onnx: {
    emit: (ctx) => {
      const x = ctx.float()
      if (E.isLeft(x)) return x
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
      const eps = ctx.number('eps', 1e-6)
      if (E.isLeft(eps)) return eps
      const name = x.right.name
      const axes = Array.from({ length: count }, (_, i) => i - count)
      const meanSquare = reduceMean(ctx, ctx.node('Mul', [name, name]), axes)
      const rms = ctx.node('Sqrt', [ctx.node('Add', [meanSquare, ctx.constant(eps.right)])])
      const y = ctx.node('Div', [name, rms])
      return E.right({
        ...x.right,
        name: weight.right === undefined ? y : ctx.node('Mul', [y, ctx.initializer('weight', weight.right)]),
      })
    },
  },
})
