import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Key, Tensor } from '@backfold/tensor'
import * as t from 'io-ts/lib/index.js'
import type { ApplyContext, Layer, LayerConfig } from '../layer'
import * as F from '../config/fields'
import { torchDefault } from '../init/varianceScaling'
import { badShape, checkLayerOptions, configOf, fail, initWeightAndBias, notPositiveInteger } from './common'
import { leafKind } from './define'
import { layerNorm, type LayerNormParams } from './layerNorm'
import {
  multiHeadAttention,
  type MultiHeadAttentionParams,
  type MultiHeadAttentionState,
} from './multiHeadAttention'

/**
 * Parameters of `transformerBlock`: PyTorch's `nn.TransformerEncoderLayer` names and layouts
 * (`self_attn.in_proj_weight`, `linear1.weight`, `norm1.weight`, ...), so the state dict of a
 * `TransformerEncoderLayer(d, heads, dim_feedforward = mlpRatio·d, activation='gelu',
 * batch_first=True, norm_first=True)` loads as is.
 * @since 0.2.0
 */
export interface TransformerBlockParams {
  readonly self_attn: MultiHeadAttentionParams
  /** `[mlpRatio·dim, dim]` and `[mlpRatio·dim]`. */
  readonly linear1: { readonly weight: Tensor; readonly bias: Tensor }
  /** `[dim, mlpRatio·dim]` and `[dim]`. */
  readonly linear2: { readonly weight: Tensor; readonly bias: Tensor }
  readonly norm1: LayerNormParams
  readonly norm2: LayerNormParams
}

/**
 * State of `transformerBlock`: empty from `init` and in training; in decoding mode
 * (`ApplyContext.cache`) its attention's key/value cache under PyTorch's name `self_attn`.
 * @since 0.2.0
 */
export interface TransformerBlockState {
  readonly self_attn?: MultiHeadAttentionState
}

/** Options of `transformerBlock`. @since 0.2.0 */
export interface TransformerBlockOptions {
  /** Attention heads; must divide the width. */
  readonly heads: number
  /** Hidden width of the MLP as a multiple of the model width (default 4); `mlpRatio·dim` must be an integer. */
  readonly mlpRatio?: number
  /**
   * Dropout rate in training (default 0), where PyTorch's `TransformerEncoderLayer` puts it: on the
   * attention probabilities, on the attention output, after the GELU, and on the MLP output.
   */
  readonly dropout?: number
  /** Causal self-attention (default false). */
  readonly causal?: boolean
  /** Rotary position embedding in the attention (see `multiHeadAttention`'s `rotary`; default false). */
  readonly rotary?: boolean
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

const OPTIONS = O.optionSchema({
  heads: O.option.required(O.option.integer),
  mlpRatio: O.option.number,
  dropout: O.option.number,
  causal: O.option.boolean,
  rotary: O.option.boolean,
  dtype: O.option.anything,
})

/** Inverted dropout with its own mask (the `dropout` layer's rule). */
const drop = (x: Tensor, rate: number, key: Key): Tensor =>
  O.mul(x, O.mul(O.astype(O.randomBernoulli(key, 1 - rate, x.shape), x.dtype), 1 / (1 - rate)))

/** `x Wᵀ + b` over the last axis (W stored [out, in] as nn.Linear). */
const linear = (x: Tensor, p: { readonly weight: Tensor; readonly bias: Tensor }): Tensor =>
  O.add(O.matmul(x, p.weight, { transposeB: true }), p.bias)

/**
 * A pre-norm transformer block (GPT-2; PyTorch's `TransformerEncoderLayer` with `norm_first=True`,
 * GELU, `batch_first=True`): `[N, L, dim] → [N, L, dim]`,
 * `h = x + attn(norm1(x))`, `y = h + linear2(gelu(linear1(norm2(h))))`, with exact (erf) GELU,
 * layer norms of eps 1e-5, and PyTorch's parameter names (see `TransformerBlockParams`). In
 * training with `dropout > 0`, `ctx.key` is required. In decoding mode (`ApplyContext.cache`) the
 * attention keeps its key/value cache in the block's state (`TransformerBlockState`); the other
 * parts act on each position alone.
 * @example
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * const block = layers.transformerBlock({ heads: 4, causal: true })
 * block.init(T.random.key(0), [16, 64]) // self_attn, linear1 [256, 64], linear2 [64, 256], norm1, norm2
 * @throws ValueError for an unknown option or an option of the wrong type (bad values make `init` return a `LayerError`).
 * @since 0.2.0
 */
export const transformerBlock = (
  opts: TransformerBlockOptions,
): Layer<TransformerBlockParams, TransformerBlockState> => {
  const kind = 'transformerBlock'
  checkLayerOptions(kind, opts, OPTIONS)
  const { heads } = opts
  const mlpRatio = opts.mlpRatio ?? 4
  const rate = opts.dropout ?? 0
  const causal = opts.causal ?? false
  const rotary = opts.rotary ?? false
  const problem =
    notPositiveInteger('heads', heads) ??
    (mlpRatio > 0 && Number.isFinite(mlpRatio)
      ? undefined
      : `mlpRatio must be a finite number > 0, got ${mlpRatio}`) ??
    (rate >= 0 && rate < 1 ? undefined : `dropout must satisfy 0 <= dropout < 1, got ${String(rate)}`)
  // The attention sees the dropout rate only through its own option (probabilities); the other
  // three dropouts are applied here.
  const attn =
    problem === undefined
      ? multiHeadAttention({
          heads,
          dropout: rate,
          causal,
          ...(rotary ? { rotary } : {}),
          ...(opts.dtype === undefined ? {} : { dtype: opts.dtype }),
        })
      : undefined
  const norm = layerNorm(opts.dtype === undefined ? {} : { dtype: opts.dtype })
  return {
    kind,
    config: configOf(kind, {
      heads,
      mlpRatio,
      dropout: rate,
      causal,
      rotary: rotary ? true : undefined,
      dtype: opts.dtype,
    }),
    init: (key, inShape) => {
      const shapeProblem = problem ?? badShape(inShape)
      if (shapeProblem !== undefined || attn === undefined) return fail(kind, shapeProblem ?? 'bad options')
      if (inShape.length !== 2)
        return fail(kind, `expected a per-example input of rank 2 ([seq, dim]), got ${T.fmtShape(inShape)}`)
      const dim = inShape[1]!
      const hidden = mlpRatio * dim
      if (!Number.isInteger(hidden))
        return fail(kind, `mlpRatio · dim must be an integer, got ${mlpRatio} · ${dim} = ${hidden}`)
      const [kAttn, k1, k2] = O.splitKeys(key, 3)
      const a = attn.init(kAttn!, inShape)
      if (E.isLeft(a)) return fail(kind, `self_attn: ${a.left.message}`)
      const n = norm.init(key, inShape)
      if (E.isLeft(n)) return fail(kind, `norm: ${n.left.message}`)
      const wb = { weightInit: torchDefault, biasInit: torchDefault, useBias: true, dtype: opts.dtype }
      const l1 = initWeightAndBias(kind, k1!, [hidden, dim], hidden, wb)
      if (E.isLeft(l1)) return l1
      const l2 = initWeightAndBias(kind, k2!, [dim, hidden], dim, wb)
      if (E.isLeft(l2)) return l2
      // Safe: useBias is true, so both have a bias.
      const lin = (p: { readonly weight: Tensor; readonly bias?: Tensor }) =>
        p as { weight: Tensor; bias: Tensor }
      return E.right({
        params: {
          self_attn: a.right.params as MultiHeadAttentionParams,
          linear1: lin(l1.right),
          linear2: lin(l2.right),
          norm1: n.right.params,
          norm2: n.right.params,
        },
        state: {},
        outShape: inShape,
      })
    },
    apply: (params, state, x, ctx) => {
      if (problem !== undefined || attn === undefined) throw new T.ValueError(kind, problem ?? 'bad options')
      const training = ctx.training && rate > 0
      if (training && ctx.key === undefined)
        throw new T.ValueError(
          kind,
          'ctx.key is required in training mode with dropout > 0; pass { training: true, key } to apply, ' +
            'or { training: false } to evaluate',
        )
      const keys = training ? O.splitKeys(ctx.key!, 4) : []
      const sub: ApplyContext = {
        training: ctx.training,
        ...(training ? { key: keys[0]! } : {}),
        ...(ctx.cache === undefined ? {} : { cache: ctx.cache }),
      }
      const maybeDrop = (y: Tensor, i: number): Tensor => (training ? drop(y, rate, keys[i]!) : y)
      const [a, attnState] = attn.apply(
        params.self_attn,
        state.self_attn ?? {},
        norm.apply(params.norm1, {}, x, sub)[0],
        sub,
      )
      const h = O.add(x, maybeDrop(a, 1))
      const hidden = maybeDrop(O.gelu(linear(norm.apply(params.norm2, {}, h, sub)[0], params.linear1)), 2)
      const y = O.add(h, maybeDrop(linear(hidden, params.linear2), 3))
      return [y, ctx.cache === undefined ? state : { self_attn: attnState }]
    },
  }
}

/** The config of a `transformerBlock` layer, as `encodeModel` writes it. @since 0.2.0 */
export interface TransformerBlockConfig extends LayerConfig {
  readonly kind: 'transformerBlock'
  readonly heads: number
  readonly mlpRatio?: number
  readonly dropout?: number
  readonly causal?: boolean
  readonly rotary?: boolean
  readonly dtype?: DType
}

/**
 * The `transformerBlock` kind. ONNX: the layer norms and the attention are emitted by their own
 * kinds (`norm1`, `self_attn`, ...), the MLP as MatMul + Add, the GELU by the `gelu` kind (Gelu from
 * opset 20, else its erf form), and the residual sums as Add.
 * @since 0.2.0
 */
export const transformerBlockKind = /* @__PURE__ */ leafKind({
  kind: 'transformerBlock',
  required: { heads: F.positiveInt },
  optional: { mlpRatio: F.positive, dropout: F.rate, causal: t.boolean, rotary: t.boolean, dtype: F.dtype },
  build: (f) =>
    transformerBlock({
      heads: f['heads'] as number,
      ...(f['mlpRatio'] === undefined ? {} : { mlpRatio: f['mlpRatio'] as number }),
      ...(f['dropout'] === undefined ? {} : { dropout: f['dropout'] as number }),
      ...(f['causal'] === undefined ? {} : { causal: f['causal'] as boolean }),
      ...(f['rotary'] === undefined ? {} : { rotary: f['rotary'] as boolean }),
      ...(f['dtype'] === undefined ? {} : { dtype: f['dtype'] as DType }),
    }),
  allocation: (c, inShape) => {
    if (inShape.length !== 2) return undefined
    const dim = inShape[1]!
    const hidden = (typeof c['mlpRatio'] === 'number' ? c['mlpRatio'] : 4) * dim
    return { size: 4 * dim * dim + 4 * dim + 2 * hidden * dim + hidden + dim + 4 * dim, outShape: inShape }
  },
  onnx: {
    emit: (ctx) => {
      const x = ctx.rank(2, '[seq, dim]')
      if (E.isLeft(x)) return x
      const c = ctx.config
      const attnConfig = {
        kind: 'multiHeadAttention',
        heads: c['heads'] ?? null,
        causal: c['causal'] === true,
        ...(c['rotary'] === true ? { rotary: true } : {}),
      }
      const normConfig = { kind: 'layerNorm' }
      const n1 = ctx.child(normConfig, 'norm1', x.right)
      if (E.isLeft(n1)) return n1
      const a = ctx.child(attnConfig, 'self_attn', n1.right)
      if (E.isLeft(a)) return a
      const h = { ...x.right, name: ctx.node('Add', [x.right.name, a.right.name]) }
      const n2 = ctx.child(normConfig, 'norm2', h)
      if (E.isLeft(n2)) return n2
      const dim = x.right.shape[1]
      const ratio = ctx.number('mlpRatio', 4)
      if (E.isLeft(ratio)) return ratio
      const hidden = typeof dim === 'number' ? ratio.right * dim : null
      const params = ctx.params as Partial<Record<string, { weight?: unknown; bias?: unknown }>>
      const linearNodes = (
        name: 'linear1' | 'linear2',
        input: string,
        shape: ReadonlyArray<number | null>,
      ) => {
        const p = params[name]
        const w = p?.weight
        const b = p?.bias
        const fits = (v: unknown, s: ReadonlyArray<number | null>): v is Tensor =>
          T.isTensor(v) && v.shape.length === s.length && s.every((d, i) => d === null || d === v.shape[i])
        if (!fits(w, shape) || !fits(b, [shape[0]!]))
          return ctx.fail(
            `params '${name}.weight' / '${name}.bias' must be tensors of shapes [${shape.join(',')}] / [${shape[0]}]`,
          )
        return E.right(
          ctx.node('Add', [
            ctx.node('MatMul', [input, ctx.initializer(`${name}.weight`, T.transpose(w))]),
            ctx.initializer(`${name}.bias`, b),
          ]),
        )
      }
      const f1 = linearNodes('linear1', n2.right.name, [hidden, typeof dim === 'number' ? dim : null])
      if (E.isLeft(f1)) return f1
      const g = ctx.child({ kind: 'gelu', approximate: 'none' }, undefined, {
        ...x.right,
        name: f1.right,
        shape: [x.right.shape[0] ?? null, hidden],
      })
      if (E.isLeft(g)) return g
      const f2 = linearNodes('linear2', g.right.name, [typeof dim === 'number' ? dim : null, hidden])
      if (E.isLeft(f2)) return f2
      return E.right({ ...x.right, name: ctx.node('Add', [h.name, f2.right]) })
    },
  },
})
