import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import type { Layer, NoParams } from '../layer'
import * as t from 'io-ts/lib/index.js'
import * as F from '../config/fields'
import { floatAttribute } from '../onnx/graph'
import { badShape, checkLayerOptions, configOf, fail, paramDType } from './common'
import { leafKind } from './define'
import { formatDims } from '../onnx/context'

/** Learned per-channel scale and shift of `batchNorm` (PyTorch's names). @since 0.1.0 */
export interface BatchNormParams {
  /** `[C]`, starts at 1 (γ). */
  readonly weight: Tensor
  /** `[C]`, starts at 0 (β). */
  readonly bias: Tensor
}

/** Running statistics of `batchNorm`, used in evaluation. @since 0.1.0 */
export interface BatchNormState {
  /** `[C]`, starts at 0. */
  readonly runningMean: Tensor
  /** `[C]`, starts at 1; updated with the UNBIASED batch variance, as PyTorch. */
  readonly runningVar: Tensor
}

/** `BatchNormParams`, or no parameters when `affine` is the literal `false`. @since 0.1.0 */
export type BatchNormParamsFor<A extends boolean> = A extends false ? NoParams : BatchNormParams

/** Options of `batchNorm`. @since 0.1.0 */
export interface BatchNormOptions<A extends boolean = boolean> {
  /** Weight of the new batch statistic in the running average (default 0.1, PyTorch's). */
  readonly momentum?: number
  /** Added to the variance before the square root (default 1e-5). */
  readonly eps?: number
  /** Learn a per-channel scale and shift (default true). */
  readonly affine?: A
  /** Dtype of parameters and running statistics, default float32. */
  readonly dtype?: DType
}

const BATCH_NORM_OPTIONS = O.optionSchema({
  momentum: O.option.number,
  eps: O.option.number,
  affine: O.option.boolean,
  dtype: O.option.anything,
})

/**
 * Batch normalisation over the channel axis 1, PyTorch's `BatchNorm1d`/`BatchNorm2d`: per-example
 * inputs `[C]` (features) or `[C, ...spatial]`; statistics are taken over the batch and every
 * spatial position of each channel.
 *
 * - Training: `y = (x − μ_B) / √(σ²_B + eps) · weight + bias` with the BIASED batch variance; the
 *   returned state is `running ← (1 − momentum)·running + momentum·batch` with the UNBIASED batch
 *   variance (n/(n − 1)·σ²_B), computed outside the gradient. Needs more than one value per channel.
 * - Evaluation (`training: false`): the running statistics replace the batch's; state is unchanged.
 * @example
 * const bn = layers.batchNorm()
 * // bn.init(key, [16, 8, 8]) → params { weight [16], bias [16] }, state { runningMean [16], runningVar [16] }
 * const [y, nextState] = bn.apply(params, state, x, { training: true }) // x: [N, 16, 8, 8]
 * const [yEval] = bn.apply(params, nextState, x, { training: false }) // uses the running statistics
 * @since 0.1.0
 */
export const batchNorm = <A extends boolean = true>(
  opts: BatchNormOptions<A> = {},
): Layer<BatchNormParamsFor<A>, BatchNormState> => {
  const kind = 'batchNorm'
  checkLayerOptions(kind, opts, BATCH_NORM_OPTIONS)
  const momentum = opts.momentum ?? 0.1
  const eps = opts.eps ?? 1e-5
  const affine = opts.affine ?? true
  const problem =
    typeof momentum === 'number' && momentum >= 0 && momentum <= 1
      ? typeof eps === 'number' && eps >= 0
        ? undefined
        : `eps must be a number >= 0, got ${String(eps)}`
      : `momentum must be in [0, 1], got ${String(momentum)}`
  const layer: Layer<BatchNormParams | NoParams, BatchNormState> = {
    kind,
    config: configOf(kind, { momentum, eps, affine, dtype: opts.dtype }),
    init: (_key, inShape) => {
      const shapeProblem = problem ?? badShape(inShape)
      if (shapeProblem !== undefined) return fail(kind, shapeProblem)
      if (inShape.length === 0)
        return fail(
          kind,
          `expected a per-example input [channels, ...] or [features] (rank >= 1), got a scalar ${T.fmtShape(inShape)}`,
        )
      const channels = [inShape[0]!]
      return E.map((dtype: DType) => ({
        params: affine ? { weight: T.ones(channels, dtype), bias: T.zeros(channels, dtype) } : {},
        state: { runningMean: T.zeros(channels, dtype), runningVar: T.ones(channels, dtype) },
        outShape: inShape,
      }))(paramDType(kind, opts.dtype))
    },
    apply: (params, state, x, ctx) => {
      if (problem !== undefined) throw new T.ValueError(kind, problem)
      const rank = x.shape.length
      if (rank < 2)
        throw new T.ShapeError(kind, `expected a batch [N, C, ...] (rank >= 2), got ${T.fmtShape(x.shape)}`)
      // Every axis but the channel axis 1, and the [1, C, 1, ...] shape per-channel values broadcast from.
      const axes = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)]
      const channelShape = [1, -1, ...Array.from({ length: rank - 2 }, () => 1)]
      const perChannel = (v: Tensor): Tensor => O.reshape(v, channelShape)
      let normalized: Tensor
      let nextState = state
      if (ctx.training) {
        const count = T.sizeOf(x.shape) / Math.max(1, x.shape[1]!)
        if (count < 2)
          throw new T.ValueError(
            kind,
            `training needs more than one value per channel to estimate a variance, got a batch ${T.fmtShape(x.shape)}; ` +
              `use a larger batch or evaluate with { training: false }`,
          )
        const mean = O.mean(x, { axis: axes, keepDims: true })
        const centered = O.sub(x, mean)
        const variance = O.mean(O.square(centered), { axis: axes, keepDims: true })
        normalized = O.mul(centered, O.rsqrt(O.add(variance, eps)))
        nextState = {
          runningMean: runningAverage(state.runningMean, O.stopGradient(mean), momentum, 1),
          runningVar: runningAverage(
            state.runningVar,
            O.stopGradient(variance),
            momentum,
            count / (count - 1),
          ),
        }
      } else {
        normalized = O.mul(
          O.sub(x, perChannel(state.runningMean)),
          O.rsqrt(O.add(perChannel(state.runningVar), eps)),
        )
      }
      const y =
        'weight' in params
          ? O.add(O.mul(normalized, perChannel(params.weight)), perChannel(params.bias))
          : normalized
      return [y, nextState]
    },
  }
  // Safe: weight and bias are present exactly when affine is not false, which is what BatchNormParamsFor<A> says.
  return layer as unknown as Layer<BatchNormParamsFor<A>, BatchNormState>
}

/**
 * `(1 − m)·running + m·correction·batch` in the running statistic's dtype. With ops, not kernels:
 * `batch` has its gradient stopped but may still be traced (under grad) or mapped (under vmap).
 */
const runningAverage = (running: Tensor, batch: Tensor, momentum: number, correction: number): Tensor =>
  O.astype(
    O.add(O.mul(running, 1 - momentum), O.mul(O.reshape(batch, [-1]), momentum * correction)),
    running.dtype,
  )

/**
 * The `batchNorm` kind: ONNX export as BatchNormalization from the running statistics (eval mode).
 * @since 0.2.0
 */
export const batchNormKind = /* @__PURE__ */ leafKind({
  kind: 'batchNorm',
  required: {},
  optional: { momentum: F.unitInterval, eps: F.positive, affine: t.boolean, dtype: F.dtype },
  // Why the cast: the fields passed the codecs above, which are BatchNormOptions' types.
  build: (f) => batchNorm(f as BatchNormOptions),
  // weight and bias when affine, running mean and variance always, all [channels]
  allocation: (c, inShape) =>
    inShape.length === 0
      ? undefined
      : { size: (c['affine'] === false ? 2 : 4) * inShape[0]!, outShape: inShape },
  onnx: {
    emit: (ctx) => {
      const x = ctx.float()
      if (E.isLeft(x)) return x
      if (x.right.shape.length === 0)
        return ctx.fail(
          `expected a per-example input [channels, ...] (rank >= 1), got ${formatDims(x.right.shape)}`,
        )
      const channels = x.right.shape[0] ?? null
      const mean = ctx.stateTensor('runningMean', [typeof channels === 'number' ? channels : null])
      if (E.isLeft(mean)) return mean
      const c = mean.right.shape[0]!
      const variance = ctx.stateTensor('runningVar', [c])
      if (E.isLeft(variance)) return variance
      const weight = ctx.optionalParam('affine', 'weight', [c])
      if (E.isLeft(weight)) return weight
      const bias = ctx.optionalParam('affine', 'bias', [c])
      if (E.isLeft(bias)) return bias
      const eps = ctx.number('eps', 1e-5)
      if (E.isLeft(eps)) return eps
      // Eval mode: (x - runningMean) / sqrt(runningVar + eps) * weight + bias, per channel (axis 1).
      const inputs = [
        x.right.name,
        ctx.initializer('weight', weight.right ?? T.ones([c])),
        ctx.initializer('bias', bias.right ?? T.zeros([c])),
        ctx.initializer('runningMean', mean.right),
        ctx.initializer('runningVar', variance.right),
      ]
      return E.right({
        ...x.right,
        name: ctx.node('BatchNormalization', inputs, [floatAttribute('epsilon', eps.right)]),
      })
    },
  },
})
