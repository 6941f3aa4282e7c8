import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Conv2dOptions, DType, Shape, Tensor } from '@backfold/tensor'
import * as t from 'io-ts/lib/index.js'
import type { Layer, LayerConfig, NoState } from '../layer'
import * as F from '../config/fields'
import type { OnnxDim } from '../onnx/context'
import { intsAttribute } from '../onnx/graph'
import { leafKind } from './define'
import type { Initializer } from '../init/initializer'
import { checkLayerOptions, fail, tryShape } from './common'
import {
  CONV_PARAM_FIELDS,
  convLayer,
  convOnnxParams,
  convOptionSchema,
  convParamCount,
  outChannelsOf,
} from './convCommon'

/** Parameters of `conv2dTranspose`: PyTorch's `nn.ConvTranspose2d` names and layout. @since 0.2.0 */
export interface Conv2dTransposeParams {
  /** `[inChannels, outChannels, kh, kw]` (PyTorch's transposed layout). */
  readonly weight: Tensor
  /** `[outChannels]`. */
  readonly bias: Tensor
}

/** Parameters of `conv2dTranspose(..., { useBias: false })`. @since 0.2.0 */
export interface Conv2dTransposeParamsNoBias {
  readonly weight: Tensor
}

/** `Conv2dTransposeParams`, without `bias` when `useBias` is the literal `false`. @since 0.2.0 */
export type Conv2dTransposeParamsFor<B extends boolean> = B extends false
  ? Conv2dTransposeParamsNoBias
  : Conv2dTransposeParams

/** Options of `conv2dTranspose`; numbers apply to both axes, pairs are `[h, w]`. @since 0.2.0 */
export interface Conv2dTransposeOptions<B extends boolean = boolean> {
  /** Default 1. */
  readonly stride?: number | readonly [number, number]
  /** PyTorch's `padding`: `dilation·(k − 1) − padding` zeros are added on each side. Default 0. */
  readonly padding?: number | readonly [number, number]
  /** Extra rows/columns at the bottom/right of the output (PyTorch's `output_padding`, < stride). Default 0. */
  readonly outputPadding?: number | readonly [number, number]
  /** Default 1. */
  readonly dilation?: number | readonly [number, number]
  /** Add a per-channel bias (default true; PyTorch's `bias`). */
  readonly useBias?: B
  /** Default `torchDefault` with the weight's fans (fanIn = outChannels·kh·kw, as PyTorch computes it). */
  readonly weightInit?: Initializer
  /** Default `torchDefault` with the weight's fans, as PyTorch. */
  readonly biasInit?: Initializer
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

// The geometry is checked by init, with the input shape.
const CONV2D_TRANSPOSE_OPTIONS = convOptionSchema(['stride', 'padding', 'outputPadding', 'dilation'])

/** The resolved geometry of a transposed convolution. */
export interface TransposeGeometry {
  readonly kernel: readonly [number, number]
  readonly stride: readonly [number, number]
  readonly padding: readonly [number, number]
  readonly outputPadding: readonly [number, number]
  readonly dilation: readonly [number, number]
}

const pairOf = (
  name: string,
  v: unknown,
  fallback: number,
  min: number,
): E.Either<string, readonly [number, number]> => {
  const value = v ?? fallback
  const pair: ReadonlyArray<unknown> =
    typeof value === 'number' ? [value, value] : Array.isArray(value) ? value : []
  const [a, b] = pair
  return pair.length === 2 &&
    typeof a === 'number' &&
    typeof b === 'number' &&
    Number.isInteger(a) &&
    Number.isInteger(b) &&
    a >= min &&
    b >= min
    ? E.right([a, b])
    : E.left(
        `${name} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer or a pair [h, w] of them, got ${JSON.stringify(value)}`,
      )
}

/** Checks the options (without an input shape), or says what is wrong. */
export const transposeGeometry = (
  kernelSize: unknown,
  opts: Readonly<Record<string, unknown>>,
): E.Either<string, TransposeGeometry> =>
  pipe(
    E.Do,
    E.bind('kernel', () => pairOf('kernelSize', kernelSize, 0, 1)),
    E.bind('stride', () => pairOf('stride', opts['stride'], 1, 1)),
    E.bind('padding', () => pairOf('padding', opts['padding'], 0, 0)),
    E.bind('outputPadding', () => pairOf('outputPadding', opts['outputPadding'], 0, 0)),
    E.bind('dilation', () => pairOf('dilation', opts['dilation'], 1, 1)),
    E.chain((g) =>
      g.outputPadding[0] < g.stride[0] && g.outputPadding[1] < g.stride[1]
        ? E.right(g)
        : E.left(
            `outputPadding ${T.fmtShape(g.outputPadding)} must be smaller than the stride ${T.fmtShape(g.stride)} on each axis`,
          ),
    ),
  )

/** `(in − 1)·stride − 2·padding + dilation·(k − 1) + outputPadding + 1` per axis (PyTorch's formula). */
export const transposeOutSpatial = (g: TransposeGeometry, inH: number, inW: number): [number, number] => {
  const axis = (i: 0 | 1, size: number): number =>
    (size - 1) * g.stride[i] - 2 * g.padding[i] + g.dilation[i] * (g.kernel[i] - 1) + g.outputPadding[i] + 1
  return [axis(0, inH), axis(1, inW)]
}

/** The conv2d whose input gradient this transposed convolution is. */
const forwardOptions = (g: TransposeGeometry): Conv2dOptions => ({
  stride: g.stride,
  padding: [g.padding[0], g.padding[0], g.padding[1], g.padding[1]],
  dilation: g.dilation,
})

/**
 * 2-D transposed convolution over NCHW batches (PyTorch's `nn.ConvTranspose2d`, groups = 1): per-example
 * input `[C, H, W]` → `[outChannels, H', W']` with `H' = (H − 1)·stride − 2·padding + dilation·(kh − 1)
 * + outputPadding + 1`. It is the input gradient of the conv2d with the same stride, padding and
 * dilation (the `conv2dBackwardInput` op), whose weight `[C, outChannels, kh, kw]` is this layer's.
 * @example
 * const up = layers.conv2dTranspose(8, 4, { stride: 2, padding: 1 })
 * up.init(T.random.key(0), [16, 7, 7]) // Right: outShape [8, 14, 14], weight [16, 8, 4, 4]
 * @throws ValueError for an unknown option or an option of the wrong type; a bad geometry or input
 * shape makes `init` return a `LayerError`.
 * @since 0.2.0
 */
export const conv2dTranspose = <B extends boolean = true>(
  outChannels: number,
  kernelSize: number | readonly [number, number],
  opts: Conv2dTransposeOptions<B> = {},
): Layer<Conv2dTransposeParamsFor<B>, NoState> => {
  const kind = 'conv2dTranspose'
  checkLayerOptions(kind, opts, CONV2D_TRANSPOSE_OPTIONS)
  const geometry = transposeGeometry(kernelSize, opts as Readonly<Record<string, unknown>>)
  const layer = convLayer({
    kind,
    outChannels,
    opts,
    config: {
      kernelSize,
      stride: opts.stride,
      padding: opts.padding,
      outputPadding: opts.outputPadding,
      dilation: opts.dilation,
    },
    problem: E.isLeft(geometry) ? geometry.left : undefined,
    input: '[channels, height, width]',
    rank: 3,
    shapes: (inShape) => {
      // Why the cast: convLayer runs shapes only when `problem` is undefined, so the geometry is Right.
      const g = (geometry as E.Right<TransposeGeometry>).right
      const weight = [inShape[0]!, outChannels, g.kernel[0], g.kernel[1]]
      const [outH, outW] = transposeOutSpatial(g, inShape[1]!, inShape[2]!)
      if (outH < 1 || outW < 1)
        return fail(
          kind,
          `the output would be ${outH}x${outW} for the input ${T.fmtShape(inShape)} and kernel ${T.fmtShape(g.kernel)}: ` +
            `padding ${T.fmtShape(g.padding)} removes more than the transposed convolution produces`,
        )
      const out: Shape = [outChannels, outH, outW]
      // The op's own check of the geometry (dy shape against the conv2d it inverts).
      return E.map(() => ({ weight, out }))(
        tryShape(kind, `input ${T.fmtShape(inShape)}, weight ${T.fmtShape(weight)}`, () =>
          T.conv2dBackwardInputPlan(
            { shape: [1, ...inShape], dtype: 'float32' },
            { shape: weight, dtype: 'float32' },
            [1, ...out],
            forwardOptions(g),
          ),
        ),
      )
    },
    convolve: (x, weight) => {
      if (E.isLeft(geometry)) throw new T.ValueError(kind, geometry.left)
      if (x.shape.length !== 4)
        throw new T.ShapeError(kind, `expected a batch [N, C, H, W] (rank 4), got ${T.fmtShape(x.shape)}`)
      const [outH, outW] = transposeOutSpatial(geometry.right, x.shape[2]!, x.shape[3]!)
      const xShape = [x.shape[0]!, weight.shape[1]!, outH, outW]
      return O.conv2dBackwardInput(x, weight, xShape, forwardOptions(geometry.right))
    },
  })
  // Safe: `bias` is present exactly when useBias is not false, which is what Conv2dTransposeParamsFor<B> says.
  return layer as Layer<Conv2dTransposeParamsFor<B>, NoState>
}

/** The config of a `conv2dTranspose` layer, as `encodeModel` writes it. @since 0.2.0 */
export interface Conv2dTransposeConfig extends LayerConfig {
  readonly kind: 'conv2dTranspose'
  readonly outChannels: number
  readonly kernelSize: number | readonly [number, number]
  readonly stride?: number | readonly [number, number]
  readonly padding?: number | readonly [number, number]
  readonly outputPadding?: number | readonly [number, number]
  readonly dilation?: number | readonly [number, number]
  readonly useBias?: boolean
  readonly dtype?: DType
}

const nonNegativeOrPair = /* @__PURE__ */ t.union(
  [F.nonNegativeInt, /* @__PURE__ */ t.readonly(t.tuple([F.nonNegativeInt, F.nonNegativeInt]))],
  'a non-negative integer or [h, w]',
)

/**
 * The `conv2dTranspose` kind: config fields, ONNX export (ConvTranspose, weight as stored) and
 * allocation.
 * @since 0.2.0
 */
export const conv2dTransposeKind = /* @__PURE__ */ leafKind({
  kind: 'conv2dTranspose',
  required: { outChannels: F.positiveInt, kernelSize: F.positiveOrPair },
  optional: {
    stride: F.positiveOrPair,
    padding: nonNegativeOrPair,
    outputPadding: nonNegativeOrPair,
    dilation: F.positiveOrPair,
    ...CONV_PARAM_FIELDS,
  },
  build: (f) => {
    const { outChannels, kernelSize, ...rest } = f
    // Why the casts: the fields passed the codecs above, which are conv2dTranspose's argument types.
    return conv2dTranspose(outChannels as number, kernelSize as number, rest as Conv2dTransposeOptions)
  },
  allocation: (c, inShape) => {
    const outChannels = outChannelsOf(c)
    const geometry = transposeGeometry(c['kernelSize'], c)
    if (inShape.length !== 3 || E.isLeft(geometry)) return undefined
    const g = geometry.right
    const [outH, outW] = transposeOutSpatial(g, inShape[1]!, inShape[2]!)
    if (outH < 1 || outW < 1) return undefined
    return {
      size: convParamCount([inShape[0]!, outChannels, g.kernel[0], g.kernel[1]], outChannels, c),
      outShape: [outChannels, outH, outW],
    }
  },
  onnx: {
    emit: (ctx) => {
      const x = ctx.rank(3, '[channels, height, width]')
      if (E.isLeft(x)) return x
      // Why the cast: rank just checked the rank is 3.
      const [channels, height, width] = x.right.shape as readonly [OnnxDim, OnnxDim, OnnxDim]
      const c = ctx.config
      const geometry = transposeGeometry(c['kernelSize'], c)
      if (E.isLeft(geometry)) return ctx.fail(geometry.left)
      const g = geometry.right
      const outChannels = c['outChannels']
      const params = convOnnxParams(
        ctx,
        [
          typeof channels === 'number' ? channels : null,
          typeof outChannels === 'number' ? outChannels : null,
          g.kernel[0],
          g.kernel[1],
        ],
        1,
      )
      if (E.isLeft(params)) return params
      const { wShape, inputs } = params.right
      const name = ctx.node('ConvTranspose', inputs(x.right.name), [
        intsAttribute('kernel_shape', g.kernel),
        intsAttribute('strides', g.stride),
        // ONNX orders pads [top, left, bottom, right]; PyTorch's padding is symmetric.
        intsAttribute('pads', [g.padding[0], g.padding[1], g.padding[0], g.padding[1]]),
        intsAttribute('dilations', g.dilation),
        intsAttribute('output_padding', g.outputPadding),
      ])
      const known = typeof height === 'number' && typeof width === 'number'
      const [outH, outW] = known ? transposeOutSpatial(g, height, width) : [null, null]
      return E.right({ name, shape: [wShape[1]!, outH, outW], elem: 'float' as const })
    },
  },
})
