import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Conv2dOptions, DType, Tensor } from '@backfold/tensor'
import type { JsonValue, Layer, LayerConfig, NoState } from '../layer'
import * as F from '../config/fields'
import type { OnnxDim } from '../onnx/context'
import { intAttribute, intsAttribute } from '../onnx/graph'
import { outSpatial, probe, windowAttributes } from '../onnx/window'
import { leafKind } from './define'
import type { Initializer } from '../init/initializer'
import { checkLayerOptions, fail, notPositiveInteger, tryShape } from './common'
import {
  CONV_PARAM_FIELDS,
  convLayer,
  convOnnxParams,
  convOptionSchema,
  convParamCount,
  outChannelsOf,
} from './convCommon'

/** Parameters of `conv2d`: PyTorch's `nn.Conv2d` names and layout. @since 0.1.0 */
export interface Conv2dParams {
  /** OIHW: `[outChannels, inChannels / groups, kh, kw]`. */
  readonly weight: Tensor
  /** `[outChannels]`. */
  readonly bias: Tensor
}

/** Parameters of `conv2d(..., { useBias: false })`. @since 0.1.0 */
export interface Conv2dParamsNoBias {
  readonly weight: Tensor
}

/** `Conv2dParams`, without `bias` when `useBias` is the literal `false`. @since 0.1.0 */
export type Conv2dParamsFor<B extends boolean> = B extends false ? Conv2dParamsNoBias : Conv2dParams

/** Options of `conv2d`: the geometry of `@backfold/tensor`'s conv2d plus parameter options. @since 0.1.0 */
export interface Conv2dLayerOptions<B extends boolean = boolean> extends Conv2dOptions {
  /**
   * Split the input and output channels into this many groups, each convolved with its own filters
   * (PyTorch's `groups`, default 1); both channel counts must be multiples of it. Depthwise
   * convolution is `groups` equal to the input channels.
   */
  readonly groups?: number
  /** Add a per-channel bias (default true). */
  readonly useBias?: B
  /** Default `torchDefault`: U(−1/√fanIn, 1/√fanIn) with fanIn = inChannels·kh·kw, PyTorch's default. */
  readonly weightInit?: Initializer
  /** Default `torchDefault` with the weight's fans, as PyTorch. */
  readonly biasInit?: Initializer
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

// The geometry and groups are checked by init, with the input shape.
const CONV2D_LAYER_OPTIONS = convOptionSchema(['stride', 'padding', 'dilation', 'groups'])

/** `kernelSize` as `[kh, kw]`, or undefined unless it is one positive integer or a pair of them. */
const kernelPair = (kernelSize: unknown): readonly [number, number] | undefined => {
  const pair: ReadonlyArray<unknown> =
    typeof kernelSize === 'number' ? [kernelSize, kernelSize] : Array.isArray(kernelSize) ? kernelSize : []
  const [kh, kw] = pair
  return pair.length === 2 &&
    typeof kh === 'number' &&
    typeof kw === 'number' &&
    Number.isInteger(kh) &&
    Number.isInteger(kw) &&
    kh > 0 &&
    kw > 0
    ? [kh, kw]
    : undefined
}

const showKernel = (kernelSize: unknown): string =>
  Array.isArray(kernelSize) ? `[${kernelSize.map(String).join(', ')}]` : String(kernelSize)

/** Why `groups` does not fit `inChannels` and `outChannels`, or undefined. */
export const badGroups = (groups: number, inChannels: number, outChannels: number): string | undefined =>
  notPositiveInteger('groups', groups) ??
  (inChannels % groups !== 0 || outChannels % groups !== 0
    ? `groups (${groups}) must divide both the input channels (${inChannels}) and outChannels (${outChannels})`
    : undefined)

/**
 * 2-D convolution over NCHW batches (PyTorch's `nn.Conv2d`): per-example input
 * `[C, H, W]` → `[outChannels, H', W']`, with `groups` for grouped and depthwise convolution. `kernelSize` is a number or `[kh, kw]`; `stride`, `padding`
 * (a number, `[h, w]`, `[top, bottom, left, right]`, `'same'` or `'valid'`) and `dilation` are as in
 * `@backfold/tensor`'s conv2d. `init` rejects non-[C, H, W] inputs and kernels larger than the padded
 * input, naming both shapes.
 * @example
 * const layer = layers.conv2d(8, 3, { padding: 'same' })
 * layer.init(T.random.key(0), [1, 28, 28]) // Right: outShape [8, 28, 28], weight [8, 1, 3, 3]
 * layers.conv2d(16, 3, { groups: 16 }).init(T.random.key(0), [16, 8, 8]) // depthwise: weight [16, 1, 3, 3]
 * @throws ValueError for an unknown option or an option of the wrong type; other bad arguments (a `kernelSize` that is not one positive
 * integer or a pair of them, say) make `init` return a `LayerError`.
 * @since 0.1.0
 */
export const conv2d = <B extends boolean = true>(
  outChannels: number,
  kernelSize: number | readonly [number, number],
  opts: Conv2dLayerOptions<B> = {},
): Layer<Conv2dParamsFor<B>, NoState> => {
  const kind = 'conv2d'
  checkLayerOptions(kind, opts, CONV2D_LAYER_OPTIONS)
  const geometry: Conv2dOptions = {
    ...(opts.stride === undefined ? {} : { stride: opts.stride }),
    ...(opts.padding === undefined ? {} : { padding: opts.padding }),
    ...(opts.dilation === undefined ? {} : { dilation: opts.dilation }),
  }
  const kernel = kernelPair(kernelSize)
  const groups = opts.groups ?? 1
  // The op's options: groups only when grouped, so ungrouped layers call the op as before.
  const grouped: Conv2dOptions = groups === 1 ? geometry : { ...geometry, groups }
  const layer = convLayer({
    kind,
    outChannels,
    opts,
    // groups only when given, so that ungrouped configs stay as they were.
    config: { kernelSize, ...geometry, groups: opts.groups },
    problem:
      kernel === undefined
        ? `kernelSize must be a positive integer or a pair [kh, kw] of them, got ${showKernel(kernelSize)}`
        : undefined,
    input: '[channels, height, width]',
    rank: 3,
    shapes: (inShape) => {
      const groupProblem = badGroups(groups, inShape[0]!, outChannels)
      if (groupProblem !== undefined)
        return fail(kind, `${groupProblem}, for the input ${T.fmtShape(inShape)}`)
      // Safe: convLayer runs shapes only when `problem` is undefined, i.e. the kernel is valid.
      const [kh, kw] = kernel!
      const weight = [outChannels, inShape[0]! / groups, kh, kw]
      const xShape = [1, ...inShape]
      return E.map((out: number[]) => ({ weight, out: out.slice(1) }))(
        tryShape(kind, `input ${T.fmtShape(inShape)}, weight ${T.fmtShape(weight)}`, () =>
          T.conv2dOutputShape(xShape, weight, T.conv2dSpec(kind, xShape, weight, grouped)),
        ),
      )
    },
    convolve: (x, weight) => O.conv2d(x, weight, grouped),
  })
  // Safe: `bias` is present exactly when useBias is not false, which is what Conv2dParamsFor<B> says.
  return layer as Layer<Conv2dParamsFor<B>, NoState>
}

/** The config of a `conv2d` layer, as `encodeModel` writes it. @since 0.2.0 */
export interface Conv2dConfig extends LayerConfig {
  readonly kind: 'conv2d'
  readonly outChannels: number
  readonly kernelSize: number | readonly [number, number]
  readonly stride?: number | readonly [number, number]
  readonly padding?: JsonValue
  readonly dilation?: number | readonly [number, number]
  readonly groups?: number
  readonly useBias?: boolean
  readonly dtype?: DType
}

/** A pair of numbers from a config, or one number. */
const numberOrPair = (v: unknown): number | readonly [number, number] | undefined =>
  typeof v === 'number'
    ? v
    : Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number'
      ? [v[0], v[1]]
      : undefined

/** Why the cast: the fields are JSON here (absent ones undefined); conv2dSpec validates each and throws a ValueError naming it. */
const geometryOf = (c: Readonly<Record<string, unknown>>): Conv2dOptions =>
  ({ stride: c['stride'], padding: c['padding'], dilation: c['dilation'] }) as Conv2dOptions

/**
 * The `conv2d` kind: config fields, ONNX export (Conv) and allocation.
 * @since 0.2.0
 */
export const conv2dKind = /* @__PURE__ */ leafKind({
  kind: 'conv2d',
  required: { outChannels: F.positiveInt, kernelSize: F.positiveOrPair },
  optional: {
    stride: F.positiveOrPair,
    padding: F.padding,
    dilation: F.positiveOrPair,
    groups: F.positiveInt,
    ...CONV_PARAM_FIELDS,
  },
  build: (f) => {
    const { outChannels, kernelSize, ...rest } = f
    return conv2d(outChannels as number, kernelSize as number, rest as Conv2dLayerOptions)
  },
  allocation: (c, inShape) => {
    const outChannels = outChannelsOf(c)
    const kernel = numberOrPair(c['kernelSize'])
    if (inShape.length !== 3 || kernel === undefined) return undefined
    const [kh, kw] = typeof kernel === 'number' ? [kernel, kernel] : kernel
    const groups = typeof c['groups'] === 'number' ? c['groups'] : 1
    if (badGroups(groups, inShape[0]!, outChannels) !== undefined) return undefined
    const weightShape = [outChannels, inShape[0]! / groups, kh, kw]
    const xShape = [1, ...inShape]
    const geometry = Object.fromEntries(
      Object.entries({ ...geometryOf(c), groups }).filter(([, v]) => v !== undefined),
    ) as Conv2dOptions
    try {
      const spec = T.conv2dSpec('conv2d', xShape, weightShape, geometry)
      return {
        size: convParamCount(weightShape, outChannels, c),
        outShape: T.conv2dOutputShape(xShape, weightShape, spec).slice(1),
      }
    } catch {
      return undefined // init reports the bad geometry
    }
  },
  onnx: {
    emit: (ctx) => {
      const x = ctx.rank(3, '[channels, height, width]')
      if (E.isLeft(x)) return x
      // Why the cast: rank just checked the rank is 3.
      const [channels, height, width] = x.right.shape as readonly [OnnxDim, OnnxDim, OnnxDim]
      const outChannels = ctx.config['outChannels']
      const kernel = numberOrPair(ctx.config['kernelSize'])
      const [kh, kw] =
        kernel === undefined ? [null, null] : typeof kernel === 'number' ? [kernel, kernel] : kernel
      const groups = ctx.config['groups'] ?? 1
      if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1)
        return ctx.fail(`config.groups must be a positive integer, got ${JSON.stringify(groups)}`)
      if (typeof channels === 'number' && typeof outChannels === 'number') {
        const problem = badGroups(groups, channels, outChannels)
        if (problem !== undefined) return ctx.fail(problem)
      }
      const params = convOnnxParams(
        ctx,
        [
          typeof outChannels === 'number' ? outChannels : null,
          typeof channels === 'number' ? channels / groups : null,
          kh,
          kw,
        ],
        0,
      )
      if (E.isLeft(params)) return params
      const { wShape, inputs } = params.right
      const probeShape = [1, wShape[1]!, probe(height), probe(width)]
      return E.map((spec: T.Conv2dSpec) => {
        const name = ctx.node('Conv', inputs(x.right.name), [
          intsAttribute('kernel_shape', [wShape[2]!, wShape[3]!]),
          intsAttribute('dilations', spec.dilation),
          ...(groups === 1 ? [] : [intAttribute('group', groups)]),
          ...windowAttributes([height, width], ctx.config['padding'], spec),
        ])
        const computed = T.conv2dOutputShape(probeShape, wShape, spec).slice(2)
        return { name, shape: [wShape[0]!, ...outSpatial([height, width], computed)], elem: 'float' as const }
      })(ctx.geometry(() => T.conv2dSpec('conv2d', probeShape, wShape, geometryOf(ctx.config))))
    },
  },
})
