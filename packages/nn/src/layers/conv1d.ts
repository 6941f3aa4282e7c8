import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Conv2dOptions, DType, Tensor } from '@backfold/tensor'
import * as t from 'io-ts/lib/index.js'
import type { Layer, LayerConfig, NoState } from '../layer'
import * as F from '../config/fields'
import type { OnnxDim } from '../onnx/context'
import { intsAttribute, stringAttribute } from '../onnx/graph'
import { probe } from '../onnx/window'
import { leafKind } from './define'
import type { Initializer } from '../init/initializer'
import { checkLayerOptions, notPositiveInteger, tryShape } from './common'
import {
  CONV_PARAM_FIELDS,
  convLayer,
  convOnnxParams,
  convOptionSchema,
  convParamCount,
  outChannelsOf,
} from './convCommon'

/** Parameters of `conv1d`: PyTorch's `nn.Conv1d` names and layout. @since 0.2.0 */
export interface Conv1dParams {
  /** `[outChannels, inChannels, kernelSize]`. */
  readonly weight: Tensor
  /** `[outChannels]`. */
  readonly bias: Tensor
}

/** Parameters of `conv1d(..., { useBias: false })`. @since 0.2.0 */
export interface Conv1dParamsNoBias {
  readonly weight: Tensor
}

/** `Conv1dParams`, without `bias` when `useBias` is the literal `false`. @since 0.2.0 */
export type Conv1dParamsFor<B extends boolean> = B extends false ? Conv1dParamsNoBias : Conv1dParams

/** Padding of `conv1d`: `p` on both ends, `[left, right]`, `'same'` (TensorFlow's split) or `'valid'`. @since 0.2.0 */
export type Padding1d = number | readonly [number, number] | 'same' | 'valid'

/** Options of `conv1d`. @since 0.2.0 */
export interface Conv1dLayerOptions<B extends boolean = boolean> {
  /** Step between window positions; default 1. */
  readonly stride?: number
  /** Default 0. */
  readonly padding?: Padding1d
  /** Spacing between kernel taps; default 1. */
  readonly dilation?: number
  /** Add a per-channel bias (default true; PyTorch's `bias`). */
  readonly useBias?: B
  /** Default `torchDefault`: U(−1/√fanIn, 1/√fanIn) with fanIn = inChannels·kernelSize, PyTorch's default. */
  readonly weightInit?: Initializer
  /** Default `torchDefault` with the weight's fans, as PyTorch. */
  readonly biasInit?: Initializer
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

// The geometry is checked by init, with the input shape.
const CONV1D_LAYER_OPTIONS = convOptionSchema(['stride', 'padding', 'dilation'])

const isNonNegativeInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0

/** The 2-D geometry (height 1) of a 1-D one, or why the 1-D one is malformed. */
export const conv1dGeometry = (opts: {
  readonly stride?: unknown
  readonly padding?: unknown
  readonly dilation?: unknown
}): E.Either<string, Conv2dOptions> => {
  const { stride = 1, padding = 0, dilation = 1 } = opts
  if (typeof stride !== 'number' || !Number.isInteger(stride) || stride < 1)
    return E.left(`stride must be a positive integer, got ${JSON.stringify(stride)}`)
  if (typeof dilation !== 'number' || !Number.isInteger(dilation) || dilation < 1)
    return E.left(`dilation must be a positive integer, got ${JSON.stringify(dilation)}`)
  const pad: Conv2dOptions['padding'] | undefined =
    padding === 'same' || padding === 'valid'
      ? padding
      : isNonNegativeInt(padding)
        ? [0, 0, padding, padding]
        : Array.isArray(padding) && padding.length === 2 && padding.every(isNonNegativeInt)
          ? [0, 0, padding[0] as number, padding[1] as number]
          : undefined
  if (pad === undefined)
    return E.left(
      `padding must be 'same', 'valid', a non-negative integer or [left, right], got ${JSON.stringify(padding)}`,
    )
  return E.right({ stride: [1, stride], padding: pad, dilation: [1, dilation] })
}

/**
 * 1-D convolution over `[N, C, L]` batches (PyTorch's `nn.Conv1d`, groups = 1): per-example input
 * `[C, L]` → `[outChannels, L']` with `L' = floor((L + left + right − dilation·(k − 1) − 1) / stride) + 1`.
 * Runs as the conv2d op on `[N, C, 1, L]` with a `[outChannels, C, 1, k]` kernel, so it shares that
 * op's kernels and VJP.
 * @example
 * const layer = layers.conv1d(8, 3, { padding: 'same' })
 * layer.init(T.random.key(0), [4, 100]) // Right: outShape [8, 100], weight [8, 4, 3], bias [8]
 * @throws ValueError for an unknown option or an option of the wrong type; a bad geometry or input
 * shape makes `init` return a `LayerError`.
 * @since 0.2.0
 */
export const conv1d = <B extends boolean = true>(
  outChannels: number,
  kernelSize: number,
  opts: Conv1dLayerOptions<B> = {},
): Layer<Conv1dParamsFor<B>, NoState> => {
  const kind = 'conv1d'
  checkLayerOptions(kind, opts, CONV1D_LAYER_OPTIONS)
  const geometry = conv1dGeometry(opts)
  const layer = convLayer({
    kind,
    outChannels,
    opts,
    config: { kernelSize, stride: opts.stride, padding: opts.padding, dilation: opts.dilation },
    problem: notPositiveInteger('kernelSize', kernelSize) ?? (E.isLeft(geometry) ? geometry.left : undefined),
    input: '[channels, length]',
    rank: 2,
    shapes: (inShape) => {
      const weight = [outChannels, inShape[0]!, kernelSize]
      const xShape = [1, inShape[0]!, 1, inShape[1]!]
      const w2 = [outChannels, inShape[0]!, 1, kernelSize]
      // Why the cast: convLayer runs shapes only when `problem` is undefined, so the geometry is Right.
      const spec = (geometry as E.Right<Conv2dOptions>).right
      return E.map((out: number[]) => ({ weight, out: [out[1]!, out[3]!] }))(
        tryShape(kind, `input ${T.fmtShape(inShape)}, weight ${T.fmtShape(weight)}`, () =>
          T.conv2dOutputShape(xShape, w2, T.conv2dSpec(kind, xShape, w2, spec)),
        ),
      )
    },
    convolve: (x, w) => {
      if (E.isLeft(geometry)) throw new T.ValueError(kind, geometry.left)
      if (x.shape.length !== 3)
        throw new T.ShapeError(kind, `expected a batch [N, C, L] (rank 3), got ${T.fmtShape(x.shape)}`)
      const [n, c, length] = x.shape as readonly [number, number, number]
      const y4 = O.conv2d(
        O.reshape(x, [n, c, 1, length]),
        O.reshape(w, [w.shape[0]!, w.shape[1]!, 1, -1]),
        geometry.right,
      )
      return O.reshape(y4, [n, y4.shape[1]!, y4.shape[3]!])
    },
  })
  // Safe: `bias` is present exactly when useBias is not false, which is what Conv1dParamsFor<B> says.
  return layer as Layer<Conv1dParamsFor<B>, NoState>
}

/** The config of a `conv1d` layer, as `encodeModel` writes it. @since 0.2.0 */
export interface Conv1dConfig extends LayerConfig {
  readonly kind: 'conv1d'
  readonly outChannels: number
  readonly kernelSize: number
  readonly stride?: number
  readonly padding?: number | readonly [number, number] | 'same' | 'valid'
  readonly dilation?: number
  readonly useBias?: boolean
  readonly dtype?: DType
}

const padding1d = /* @__PURE__ */ t.union(
  [
    F.nonNegativeInt,
    /* @__PURE__ */ t.readonly(t.tuple([F.nonNegativeInt, F.nonNegativeInt])),
    /* @__PURE__ */ t.literal('same'),
    /* @__PURE__ */ t.literal('valid'),
  ],
  "'same', 'valid', a non-negative integer or [left, right]",
)

/**
 * The `conv1d` kind: config fields, ONNX export (a 1-D Conv on `[N, C, L]`, weight as stored) and
 * allocation.
 * @since 0.2.0
 */
export const conv1dKind = /* @__PURE__ */ leafKind({
  kind: 'conv1d',
  required: { outChannels: F.positiveInt, kernelSize: F.positiveInt },
  optional: {
    stride: F.positiveInt,
    padding: padding1d,
    dilation: F.positiveInt,
    ...CONV_PARAM_FIELDS,
  },
  build: (f) => {
    const { outChannels, kernelSize, ...rest } = f
    // Why the casts: the fields passed the codecs above, which are conv1d's argument types.
    return conv1d(outChannels as number, kernelSize as number, rest as Conv1dLayerOptions)
  },
  allocation: (c, inShape) => {
    const outChannels = outChannelsOf(c)
    const k = c['kernelSize']
    const geometry = conv1dGeometry(c)
    if (inShape.length !== 2 || typeof k !== 'number' || E.isLeft(geometry)) return undefined
    const xShape = [1, inShape[0]!, 1, inShape[1]!]
    const w2 = [outChannels, inShape[0]!, 1, k]
    try {
      const out = T.conv2dOutputShape(xShape, w2, T.conv2dSpec('conv1d', xShape, w2, geometry.right))
      return {
        size: convParamCount([outChannels, inShape[0]!, k], outChannels, c),
        outShape: [out[1]!, out[3]!],
      }
    } catch {
      return undefined // init reports the bad geometry
    }
  },
  onnx: {
    emit: (ctx) => {
      const x = ctx.rank(2, '[channels, length]')
      if (E.isLeft(x)) return x
      const [channels, length] = x.right.shape as readonly [OnnxDim, OnnxDim]
      const outChannels = ctx.config['outChannels']
      const k = ctx.config['kernelSize']
      const params = convOnnxParams(
        ctx,
        [
          typeof outChannels === 'number' ? outChannels : null,
          typeof channels === 'number' ? channels : null,
          typeof k === 'number' ? k : null,
        ],
        0,
      )
      if (E.isLeft(params)) return params
      const { wShape, inputs } = params.right
      const c = ctx.config
      const geometry = conv1dGeometry({ stride: c['stride'], padding: c['padding'], dilation: c['dilation'] })
      if (E.isLeft(geometry)) return ctx.fail(geometry.left)
      const len = typeof length === 'number' ? length : null
      const probeX = [1, wShape[1]!, 1, probe(len)]
      const probeW = [wShape[0]!, wShape[1]!, 1, wShape[2]!]
      return E.map((spec: T.Conv2dSpec) => {
        const [, , left, right] = spec.padding
        const name = ctx.node('Conv', inputs(x.right.name), [
          intsAttribute('kernel_shape', [wShape[2]!]),
          intsAttribute('dilations', [spec.dilation[1]]),
          intsAttribute('strides', [spec.stride[1]]),
          // 'same' depends on the length when strided; with it unknown, ONNX's SAME_UPPER (TensorFlow's rule) decides.
          ctx.config['padding'] === 'same' && len === null
            ? stringAttribute('auto_pad', 'SAME_UPPER')
            : intsAttribute('pads', [left, right]),
        ])
        const computed = T.conv2dOutputShape(probeX, probeW, spec)[3]!
        return { name, shape: [wShape[0]!, len === null ? null : computed], elem: 'float' as const }
      })(ctx.geometry(() => T.conv2dSpec('conv1d', probeX, probeW, geometry.right)))
    },
  },
})
