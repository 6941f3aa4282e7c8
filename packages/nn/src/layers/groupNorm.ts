import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import type { Layer, NoParams, NoState } from '../layer'
import * as t from 'io-ts/lib/index.js'
import * as F from '../config/fields'
import { formatDims } from '../onnx/context'
import { floatAttribute, intsAttribute } from '../onnx/graph'
import { badShape, checkLayerOptions, configOf, fail, notPositiveInteger, paramDType } from './common'
import { leafKind } from './define'

/** Learned per-channel scale and shift of `groupNorm` (PyTorch's names). @since 0.2.0 */
export interface GroupNormParams {
  /** `[C]`, starts at 1 (γ). */
  readonly weight: Tensor
  /** `[C]`, starts at 0 (β). */
  readonly bias: Tensor
}

/** `GroupNormParams`, or no parameters when `affine` is the literal `false`. @since 0.2.0 */
export type GroupNormParamsFor<A extends boolean> = A extends false ? NoParams : GroupNormParams

/** Options of `groupNorm`. @since 0.2.0 */
export interface GroupNormOptions<A extends boolean = boolean> {
  /** Added to the variance before the square root (default 1e-5, PyTorch's). */
  readonly eps?: number
  /** Learn a per-channel scale and shift (PyTorch's `affine`, default true). */
  readonly affine?: A
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

const GROUP_NORM_OPTIONS = O.optionSchema({
  eps: O.option.number,
  affine: O.option.boolean,
  dtype: O.option.anything,
})

/**
 * Group normalisation (Wu & He 2018; PyTorch's `nn.GroupNorm`): the channels of each example
 * (`[C, ...spatial]`, e.g. `[C, H, W]` or `[C, L]`) are split into `groups` consecutive groups, each
 * normalised with its own mean and BIASED variance over its channels and every spatial position,
 * then scaled and shifted per channel: `y = (x − μ_g) / √(σ²_g + eps) · weight[c] + bias[c]`.
 * `groups` must divide C. The same in training and evaluation.
 * @example
 * layers.groupNorm(4).init(T.random.key(0), [16, 8, 8]) // params { weight [16], bias [16] }
 * layers.groupNorm(16, { eps: 1e-6 }) // groups = channels: instance normalisation
 * @since 0.2.0
 */
export const groupNorm = <A extends boolean = true>(
  groups: number,
  opts: GroupNormOptions<A> = {},
): Layer<GroupNormParamsFor<A>, NoState> => {
  const kind = 'groupNorm'
  checkLayerOptions(kind, opts, GROUP_NORM_OPTIONS)
  const eps = opts.eps ?? 1e-5
  const affine = opts.affine ?? true
  const problem =
    notPositiveInteger('groups', groups) ??
    (typeof eps === 'number' && eps >= 0 ? undefined : `eps must be a number >= 0, got ${String(eps)}`)
  const layer: Layer<GroupNormParams | NoParams, NoState> = {
    kind,
    config: configOf(kind, { groups, eps, affine, dtype: opts.dtype }),
    init: (_key, inShape) => {
      const shapeProblem = problem ?? badShape(inShape)
      if (shapeProblem !== undefined) return fail(kind, shapeProblem)
      if (inShape.length === 0)
        return fail(
          kind,
          `expected a per-example input [channels, ...] (rank >= 1), got ${T.fmtShape(inShape)}`,
        )
      const channels = inShape[0]!
      if (channels % groups !== 0)
        return fail(
          kind,
          `groups (${groups}) must divide the channels (${channels}) of the input ${T.fmtShape(inShape)}`,
        )
      return E.map((dtype: DType) => ({
        params: affine ? { weight: T.ones([channels], dtype), bias: T.zeros([channels], dtype) } : {},
        state: {},
        outShape: inShape,
      }))(paramDType(kind, opts.dtype))
    },
    apply: (params, state, x) => {
      if (problem !== undefined) throw new T.ValueError(kind, problem)
      const rank = x.shape.length
      if (rank < 2 || x.shape[1]! % groups !== 0)
        throw new T.ShapeError(
          kind,
          `expected a batch [N, C, ...] (rank >= 2) whose C is a multiple of groups (${groups}), got ${T.fmtShape(x.shape)}`,
        )
      // [N, G, C/G · spatial]: each (example, group) row is normalised on its own.
      const rows = O.reshape(x, [x.shape[0]!, groups, -1])
      const mean = O.mean(rows, { axis: 2, keepDims: true })
      const centered = O.sub(rows, mean)
      const variance = O.mean(O.square(centered), { axis: 2, keepDims: true })
      const normalized = O.reshape(O.mul(centered, O.rsqrt(O.add(variance, eps))), x.shape)
      if (!('weight' in params)) return [normalized, state]
      const channelShape = [1, -1, ...Array.from({ length: rank - 2 }, () => 1)]
      const y = O.add(
        O.mul(normalized, O.reshape(params.weight, channelShape)),
        O.reshape(params.bias, channelShape),
      )
      return [y, state]
    },
  }
  // Safe: weight and bias are present exactly when affine is not false, which is what GroupNormParamsFor<A> says.
  return layer as unknown as Layer<GroupNormParamsFor<A>, NoState>
}

/**
 * The `groupNorm` kind. ONNX export as a faithful subgraph on every opset: Reshape to
 * `[N, groups, −1]`, InstanceNormalization (scale 1, bias 0: per-(example, group) statistics),
 * Reshape back, then the per-channel Mul and Add. (GroupNormalization-18 scales per group, not per
 * channel, and its per-channel form needs opset 21.)
 * @since 0.2.0
 */
export const groupNormKind = /* @__PURE__ */ leafKind({
  kind: 'groupNorm',
  required: { groups: F.positiveInt },
  optional: { eps: F.positive, affine: t.boolean, dtype: F.dtype },
  build: (f) => {
    const { groups, ...rest } = f
    // Why the casts: the fields passed the codecs above, which are groupNorm's argument types.
    return groupNorm(groups as number, rest as GroupNormOptions)
  },
  allocation: (c, inShape) =>
    inShape.length === 0
      ? undefined
      : { size: c['affine'] === false ? 0 : 2 * inShape[0]!, outShape: inShape },
  onnx: {
    emit: (ctx) => {
      const x = ctx.float()
      if (E.isLeft(x)) return x
      const shape = x.right.shape
      if (shape.length === 0)
        return ctx.fail(`expected a per-example input [channels, ...] (rank >= 1), got ${formatDims(shape)}`)
      const groups = ctx.config['groups']
      if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1)
        return ctx.fail(`config.groups must be a positive integer, got ${JSON.stringify(groups)}`)
      const channels = shape[0]
      if (typeof channels === 'number' && channels % groups !== 0)
        return ctx.fail(`groups (${groups}) must divide the channels (${channels})`)
      const c = typeof channels === 'number' ? channels : null
      const weight = ctx.optionalParam('affine', 'weight', [c])
      if (E.isLeft(weight)) return weight
      const bias = ctx.optionalParam('affine', 'bias', [c])
      if (E.isLeft(bias)) return bias
      const eps = ctx.number('eps', 1e-5)
      if (E.isLeft(eps)) return eps
      const name = x.right.name
      const rows = ctx.node('Reshape', [
        name,
        ctx.node('Constant', [], [intsAttribute('value_ints', [0, groups, -1])]),
      ])
      const normalized = ctx.node(
        'InstanceNormalization',
        [
          rows,
          ctx.initializer('groupScale', T.ones([groups])),
          ctx.initializer('groupShift', T.zeros([groups])),
        ],
        [floatAttribute('epsilon', eps.right)],
      )
      const back = ctx.node('Reshape', [normalized, ctx.node('Shape', [name])])
      if (weight.right === undefined || bias.right === undefined) return E.right({ ...x.right, name: back })
      // Per-channel [C, 1, ...] so they broadcast against [N, C, ...spatial].
      const perChannel = (v: Tensor): Tensor => T.reshape(v, [v.shape[0]!, ...shape.slice(1).map(() => 1)])
      const scaled = ctx.node('Mul', [back, ctx.initializer('weight', perChannel(weight.right))])
      return E.right({
        ...x.right,
        name: ctx.node('Add', [scaled, ctx.initializer('bias', perChannel(bias.right))]),
      })
    },
  },
})
