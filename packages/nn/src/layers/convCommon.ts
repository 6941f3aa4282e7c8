// What the convolution layers (conv1d, conv2d, conv2dTranspose) share: their option keys, the
// checks and parameter init of `init`, the channel bias of `apply`, and the weight, bias and
// inputs of their ONNX nodes. Each layer's own file keeps its formula, parameter layout and shape rule.
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as O from '@backfold/ops'
import * as t from 'io-ts/lib/index.js'
import * as T from '@backfold/tensor'
import type { DType, Shape, Tensor } from '@backfold/tensor'
import type { Layer, LayerError, NoState } from '../layer'
import * as F from '../config/fields'
import type { OnnxEmitContext } from '../onnx/context'
import type { OnnxError } from '../onnx/error'
import type { Initializer } from '../init/initializer'
import { torchDefault } from '../init/varianceScaling'
import { PARAM_OPTION_SPECS, badShape, configOf, fail, initWeightAndBias, notPositiveInteger } from './common'

/** A convolution layer's parameters: `bias` only with `useBias`. */
export interface ConvParams {
  readonly weight: Tensor
  readonly bias?: Tensor
}

/** The parameter options every convolution layer takes (each layer documents them in its options type). */
export interface ConvParamOptions {
  readonly useBias?: boolean
  readonly weightInit?: Initializer
  readonly biasInit?: Initializer
  readonly dtype?: DType
}

/**
 * The accepted options of a convolution layer: its geometry `keys` (any value: init checks them
 * with the input shape), in the order messages list them, then the parameter options.
 */
export const convOptionSchema = (keys: ReadonlyArray<string>): O.OptionSchema =>
  O.optionSchema({
    ...Object.fromEntries(keys.map((key) => [key, O.option.anything])),
    ...PARAM_OPTION_SPECS,
  })

/** How one convolution layer differs from the others; see `convLayer`. */
export interface ConvLayerSpec {
  readonly kind: string
  readonly outChannels: number
  readonly opts: ConvParamOptions
  /** The config's fields from kernelSize on, in order (undefined ones are left out); outChannels, useBias and dtype are added around them. */
  readonly config: Readonly<Record<string, unknown>>
  /** What is wrong with the other constructor arguments (kernel size, geometry), or undefined. */
  readonly problem: string | undefined
  /** The per-example input, as named in the rank error: `'[channels, height, width]'`. */
  readonly input: string
  /** Its rank. */
  readonly rank: number
  /** The shape rule: the weight's and one example's output shape, for an input of the right rank. */
  readonly shapes: (inShape: Shape) => Either<LayerError, { readonly weight: Shape; readonly out: Shape }>
  /** The formula without the bias, on a batch. */
  readonly convolve: (x: Tensor, weight: Tensor) => Tensor
}

/**
 * A convolution layer: `init` checks the input shape, `outChannels` and `spec.problem` (in that
 * order), then the rank, then runs `spec.shapes`, and draws the weight and the `[outChannels]` bias
 * (default `torchDefault`, PyTorch's initialisation); `apply` is `spec.convolve` plus the bias per
 * channel (axis 1).
 */
export const convLayer = (spec: ConvLayerSpec): Layer<ConvParams, NoState> => {
  const { kind, outChannels, opts, rank } = spec
  const useBias = opts.useBias ?? true
  const weightInit = opts.weightInit ?? torchDefault
  const biasInit = opts.biasInit ?? torchDefault
  // The bias as [outChannels, 1, ...]: one per channel, broadcast over the spatial axes.
  const biasShape = [-1, ...Array.from({ length: rank - 1 }, () => 1)]
  return {
    kind,
    config: configOf(kind, { outChannels, ...spec.config, useBias, dtype: opts.dtype }),
    init: (key, inShape) => {
      const problem = badShape(inShape) ?? notPositiveInteger('outChannels', outChannels) ?? spec.problem
      if (problem !== undefined) return fail(kind, problem)
      if (inShape.length !== rank)
        return fail(
          kind,
          `expected a per-example input ${spec.input} (rank ${rank}), got ${T.fmtShape(inShape)} ` +
            `(rank ${inShape.length})`,
        )
      return pipe(
        spec.shapes(inShape),
        E.chain((shapes) =>
          pipe(
            initWeightAndBias(kind, key, shapes.weight, outChannels, {
              weightInit,
              biasInit,
              useBias,
              dtype: opts.dtype,
            }),
            E.map((params) => ({ params, state: {}, outShape: [...shapes.out] })),
          ),
        ),
      )
    },
    apply: (params, state, x) => {
      const y = spec.convolve(x, params.weight)
      return [params.bias === undefined ? y : O.add(y, O.reshape(params.bias, biasShape)), state]
    },
  }
}

/** The number of parameters of a convolution layer with this weight (allocation): the weight, and the bias unless `useBias` is false. */
export const convParamCount = (
  weightShape: Shape,
  outChannels: number,
  config: Readonly<Record<string, unknown>>,
): number => weightShape.reduce((n, d) => n * d, 1) + (config['useBias'] === false ? 0 : outChannels)

/**
 * The ONNX side of a convolution layer's parameters: `weight` checked against `expected`, the
 * optional `bias` against the weight's axis `outAxis` (its output channels), and the node's inputs
 * after `x` (weight, then bias if any), made as initializers when `inputs` is called.
 */
export const convOnnxParams = (
  ctx: OnnxEmitContext,
  expected: ReadonlyArray<number | null>,
  outAxis: 0 | 1,
): Either<OnnxError, { readonly wShape: Shape; readonly inputs: (x: string) => string[] }> => {
  const weight = ctx.param('weight', expected)
  if (E.isLeft(weight)) return weight
  const wShape = weight.right.shape
  const bias = ctx.optionalParam('useBias', 'bias', [wShape[outAxis]!])
  if (E.isLeft(bias)) return bias
  return E.right({
    wShape,
    inputs: (x) => [
      x,
      ctx.initializer('weight', weight.right),
      ...(bias.right === undefined ? [] : [ctx.initializer('bias', bias.right)]),
    ],
  })
}

/** The config fields of the parameter options (the rest of a conv layer's fields are its own). */
export const CONV_PARAM_FIELDS = { useBias: t.boolean, dtype: F.dtype } as const

/** A config's `outChannels` for allocation (0 when missing, which allocation then reports). */
export const outChannelsOf = (c: Readonly<Record<string, unknown>>): number =>
  typeof c['outChannels'] === 'number' ? c['outChannels'] : 0
