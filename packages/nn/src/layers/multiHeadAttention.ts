import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Key, Tensor } from '@backfold/tensor'
import type { Either } from 'fp-ts/lib/Either.js'
import * as t from 'io-ts/lib/index.js'
import type { ApplyContext, Layer, LayerConfig, LayerError } from '../layer'
import * as F from '../config/fields'
import { intAttribute, intsAttribute } from '../onnx/graph'
import { glorotUniform, torchDefault } from '../init/varianceScaling'
import { computeFans } from '../init/initializer'
import {
  badShape,
  checkLayerOptions,
  configOf,
  fail,
  notPositiveInteger,
  paramDType,
  runInit,
} from './common'
import { leafKind } from './define'
import {
  decodingStateRefusal,
  checkCapacity,
  decodingCapacity,
  positionTensor,
  readPosition,
} from './decoding'

/**
 * Parameters of `multiHeadAttention`, with PyTorch's `nn.MultiheadAttention` names and layouts, so
 * a PyTorch state dict (`in_proj_weight`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`) loads
 * as is (the dotted names of this tree are the state dict's keys).
 * @since 0.2.0
 */
export interface MultiHeadAttentionParams {
  /** `[3·dim, dim]`: the query, key and value projections stacked in that order (rows). */
  readonly in_proj_weight: Tensor
  /** `[3·dim]`. */
  readonly in_proj_bias: Tensor
  readonly out_proj: {
    /** `[dim, dim]`, `y = a Wᵀ + b` as `nn.Linear`. */
    readonly weight: Tensor
    /** `[dim]`. */
    readonly bias: Tensor
  }
}

/** Parameters of `multiHeadAttention({ bias: false })`: PyTorch's names, without the biases. @since 0.2.0 */
export interface MultiHeadAttentionParamsNoBias {
  readonly in_proj_weight: Tensor
  readonly out_proj: { readonly weight: Tensor }
}

/** `MultiHeadAttentionParams`, without biases when `bias` is the literal `false`. @since 0.2.0 */
export type MultiHeadAttentionParamsFor<B extends boolean> = B extends false
  ? MultiHeadAttentionParamsNoBias
  : MultiHeadAttentionParams

/**
 * Parameters of attention whose key or value width differs from the model width (PyTorch's
 * `nn.MultiheadAttention(embed_dim, heads, kdim=..., vdim=...)` with `kdim` or `vdim` ≠
 * `embed_dim`): PyTorch then keeps three separate projections under these names, and the packed
 * `in_proj_bias` and `out_proj` as before (both absent with `bias: false`).
 * @since 0.2.0
 */
export interface SeparateAttentionParams {
  /** `[dim, dim]`. */
  readonly q_proj_weight: Tensor
  /** `[dim, kDim]`. */
  readonly k_proj_weight: Tensor
  /** `[dim, vDim]`. */
  readonly v_proj_weight: Tensor
  /** `[3·dim]`: the query, key and value biases in that order. */
  readonly in_proj_bias?: Tensor
  readonly out_proj: { readonly weight: Tensor; readonly bias?: Tensor }
}

/**
 * Every parameter layout `attend` takes: PyTorch's packed `in_proj_weight` (key and value widths
 * equal to the model width) with or without biases, or the separate `q/k/v_proj_weight`.
 * @since 0.2.0
 */
export type AttentionParams =
  MultiHeadAttentionParams | MultiHeadAttentionParamsNoBias | SeparateAttentionParams

/**
 * The key/value cache of a `multiHeadAttention` layer in decoding mode (`ApplyContext.cache`): the
 * projected keys and values of the positions seen so far (rotated, with `rotary`), in buffers of
 * fixed capacity.
 * @since 0.2.0
 */
export interface AttentionCache {
  /** `[batch, heads, capacity, dim / heads]`; positions `position..capacity−1` are zeros. */
  readonly key: Tensor
  /** `[batch, heads, capacity, dim / heads]`. */
  readonly value: Tensor
  /** int32 scalar: positions filled, the absolute position of the next token. */
  readonly position: Tensor
}

/**
 * State of `multiHeadAttention`: empty from `init` and in training; the key/value cache after a
 * call in decoding mode (`ApplyContext.cache`).
 * @since 0.2.0
 */
export interface MultiHeadAttentionState {
  readonly cache?: AttentionCache
}

/** Options of `multiHeadAttention`. @since 0.2.0 */
export interface MultiHeadAttentionOptions<B extends boolean = boolean> {
  /** Number of heads; must divide the model width. */
  readonly heads: number
  /** The model width (PyTorch's `embed_dim`): checked against the input's last axis; default that axis. */
  readonly dim?: number
  /** Dropout rate on the attention probabilities in training (PyTorch's `dropout`, default 0). */
  readonly dropout?: number
  /** Query i attends only to keys j <= i (default false). */
  readonly causal?: boolean
  /** Biases on the input and output projections (PyTorch's `bias`, default true). */
  readonly bias?: B
  /**
   * Rotary position embedding (Su et al. 2021, RoFormer) on each head's queries and keys, in the
   * "rotate half" layout of GPT-NeoX and Hugging Face's LLaMA: channel i of the first half and
   * channel i of the second half form a pair rotated by the angle `pos · base^(−2i/d)` (d the head
   * width, which must be even; positions count from 0). Default false.
   */
  readonly rotary?: boolean
  /** The rotary base (RoFormer's 10000, the default); only with `rotary: true`. */
  readonly rotaryBase?: number
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

const OPTIONS = O.optionSchema({
  heads: O.option.required(O.option.integer),
  dim: O.option.integer,
  dropout: O.option.number,
  causal: O.option.boolean,
  bias: O.option.boolean,
  rotary: O.option.boolean,
  rotaryBase: O.option.number,
  // Checked by init (a Left naming the layer).
  dtype: O.option.anything,
})

/** [N, L, dim] → [N, heads, L, dim / heads]. */
const splitHeads = (x: Tensor, heads: number): Tensor => {
  const [n, l, e] = x.shape as [number, number, number]
  return O.transpose(O.reshape(x, [n, l, heads, e / heads]), [0, 2, 1, 3])
}

/** [N, heads, L, d] → [N, L, heads · d]. */
const mergeHeads = (x: Tensor): Tensor => {
  const [n, h, l, d] = x.shape as [number, number, number, number]
  return O.reshape(O.transpose(x, [0, 2, 1, 3]), [n, l, h * d])
}

/**
 * The rotary tables `[l, d]` for positions `offset..offset+l−1`: cos and sin of
 * `pos · base^(−2i/d)` for pair i, repeated over both halves (channel i and i + d/2 share an
 * angle). Constants, built with kernels.
 */
const rotaryTables = (
  l: number,
  d: number,
  base: number,
  dtype: DType,
  offset = 0,
): readonly [Tensor, Tensor] => {
  const cos = T.allocate(dtype, l * d)
  const sin = T.allocate(dtype, l * d)
  const half = d / 2
  for (let p = 0; p < l; p++)
    for (let i = 0; i < half; i++) {
      const angle = (p + offset) * Math.pow(base, (-2 * i) / d)
      cos[p * d + i] = cos[p * d + i + half] = Math.cos(angle)
      sin[p * d + i] = sin[p * d + i + half] = Math.sin(angle)
    }
  return [T.unsafeTensor(dtype, [l, d], cos), T.unsafeTensor(dtype, [l, d], sin)]
}

/**
 * Rotary embedding of x `[..., l, d]` at positions `offset..`: `x · cos + rotateHalf(x) · sin`,
 * rotateHalf(x) = [−x₂, x₁].
 */
const rotate = (x: Tensor, base: number, offset: number): Tensor => {
  const [l, d] = x.shape.slice(-2) as [number, number]
  const [cos, sin] = rotaryTables(l, d, base, x.dtype, offset)
  const [x1, x2] = O.split(x, 2, { axis: -1 }) as [Tensor, Tensor]
  return O.add(O.mul(x, cos), O.mul(O.concat([O.neg(x2), x1], { axis: -1 }), sin))
}

/** `x Wᵀ (+ b)` over the last axis, for x of any rank (W stored [out, in] as nn.Linear). */
const project = (x: Tensor, w: Tensor, b: Tensor | undefined): Tensor => {
  const y = O.matmul(x, w, { transposeB: true })
  return b === undefined ? y : O.add(y, b)
}

const isTensorShaped = (x: unknown, rank: number): x is Tensor => T.isTensor(x) && x.shape.length === rank

/** The q, k, v projection weights `[dim, ·]` and biases of either layout, checked. */
const projectionWeights = (
  kind: string,
  params: AttentionParams,
): {
  readonly w: readonly [Tensor, Tensor, Tensor]
  readonly b: readonly [Tensor, Tensor, Tensor] | undefined
} => {
  let w: readonly [Tensor, Tensor, Tensor]
  if ('in_proj_weight' in params) {
    const packed: unknown = params.in_proj_weight
    if (!isTensorShaped(packed, 2) || packed.shape[0] !== 3 * packed.shape[1]!)
      throw new T.ShapeError(
        kind,
        `params.in_proj_weight must be a [3·dim, dim] tensor, got ${T.isTensor(packed) ? T.fmtShape(packed.shape) : typeof packed}`,
      )
    w = O.split(packed, 3, { axis: 0 }) as [Tensor, Tensor, Tensor]
  } else {
    const [wq, wk, wv]: unknown[] = [params.q_proj_weight, params.k_proj_weight, params.v_proj_weight]
    if (!isTensorShaped(wq, 2) || !isTensorShaped(wk, 2) || !isTensorShaped(wv, 2))
      throw new T.ValueError(
        kind,
        'params must hold in_proj_weight [3·dim, dim], or q_proj_weight, k_proj_weight and v_proj_weight ' +
          "(PyTorch's names; see initAttention)",
      )
    const dim = wq.shape[0]!
    if (wq.shape[1] !== dim || wk.shape[0] !== dim || wv.shape[0] !== dim)
      throw new T.ShapeError(
        kind,
        `q_proj_weight must be [dim, dim] and k_proj_weight, v_proj_weight [dim, ·], got ` +
          `${T.fmtShape(wq.shape)}, ${T.fmtShape(wk.shape)}, ${T.fmtShape(wv.shape)}`,
      )
    w = [wq, wk, wv]
  }
  const dim = w[0].shape[0]!
  const bias: unknown = 'in_proj_bias' in params ? params.in_proj_bias : undefined
  if (bias === undefined) return { w, b: undefined }
  if (!isTensorShaped(bias, 1) || bias.shape[0] !== 3 * dim)
    throw new T.ShapeError(kind, `params.in_proj_bias must be a [${3 * dim}] tensor`)
  return { w, b: O.split(bias, 3, { axis: 0 }) as [Tensor, Tensor, Tensor] }
}

/** The output projection `concat(heads) W_oᵀ + b_o`. */
const outProjection = (params: AttentionParams, merged: Tensor): Tensor => {
  const out = params.out_proj as { readonly weight: Tensor; readonly bias?: Tensor }
  return project(merged, out.weight, out.bias)
}

/**
 * Attention of heads q `[N, h, Lq, d]` over k, v `[N, h, Lk, d]`, with `causal` aligned
 * bottom-right as the op (key j visible to query i when j <= i + Lk − Lq). In training with
 * `rate > 0` the op drops out the probabilities (its `dropout` option, drawn from `ctx.key`), as
 * PyTorch does.
 */
const attendHeads = (
  kind: string,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  causal: boolean,
  rate: number,
  ctx: ApplyContext,
  mask?: Tensor,
): Tensor => {
  const dropping = ctx.training && rate > 0
  if (dropping && ctx.key === undefined)
    throw new T.ValueError(
      kind,
      'ctx.key is required in training mode with dropout > 0 (it draws the attention dropout mask); ' +
        'pass { training: true, key } to apply, or { training: false } to evaluate',
    )
  return O.scaledDotProductAttention(q, k, v, {
    causal,
    ...(mask === undefined ? {} : { mask }),
    ...(dropping ? { dropout: { rate, key: ctx.key! } } : {}),
  })
}

/** Options of `attend`. @since 0.2.0 */
export interface AttendOptions {
  /** Number of heads; must divide the model width (the rows of the query projection). */
  readonly heads: number
  /**
   * Query i attends only to keys j <= i + Lk − Lq (aligned at the last positions, as
   * `scaledDotProductAttention`; j <= i when query and key sequences have one length). Default false.
   */
  readonly causal?: boolean
  /** Dropout rate on the attention probabilities in training (`ctx.key` then required), default 0. */
  readonly dropout?: number
  /**
   * Which keys each query may see, broadcastable to `[N, heads, Lq, Lk]` (the
   * `scaledDotProductAttention` op's mask): int32, nonzero attends (e.g. a key padding mask
   * `[N, 1, 1, Lk]`), or float, added to the logits (−∞ masks). With `causal`, both apply.
   */
  readonly mask?: Tensor
}

const ATTEND_OPTIONS = O.optionSchema({
  heads: O.option.required(O.option.integer),
  causal: O.option.boolean,
  dropout: O.option.number,
  // A tensor, checked by attend and the op (shape, dtype).
  mask: O.option.anything,
})

/**
 * Multi-head attention of a query sequence over a separate key/value sequence (cross-attention;
 * PyTorch's `nn.MultiheadAttention.forward(query, key, value)` with `batch_first=True`; a key
 * padding or attention mask is `options.mask`):
 * query `[N, Lq, dim]`, key `[N, Lk, kDim]`, value `[N, Lk, vDim]` → `[N, Lq, dim]`. Per head h,
 * `head_h = softmax(q_h k_hᵀ / √(dim/heads)) v_h` with `q = query W_qᵀ + b_q`, `k = key W_kᵀ + b_k`,
 * `v = value W_vᵀ + b_v`, then `y = concat(heads) W_oᵀ + b_o`. `params` is any `AttentionParams`
 * (from `initAttention`, a PyTorch state dict, or a `multiHeadAttention` layer's params, whose
 * self-attention is `attend(params, x, x, x, ...)`). The layer's computation is this one, plus its
 * rotary and cache options.
 * @example
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * const params = layers.initAttention(T.random.key(0), { dim: 8, heads: 2, kDim: 6, vDim: 4 })
 * if (params._tag === 'Right') {
 *   const y = layers.attend(params.right, T.zeros([1, 3, 8]), T.zeros([1, 5, 6]), T.zeros([1, 5, 4]), { heads: 2 })
 *   // y: [1, 3, 8]
 * }
 * @throws ValueError for bad options or params, ShapeError when the inputs do not fit the params.
 * @since 0.2.0
 */
export const attend = (
  params: AttentionParams,
  query: Tensor,
  key: Tensor,
  value: Tensor,
  opts: AttendOptions,
  ctx: ApplyContext = { training: false },
): Tensor => {
  const name = 'attend'
  O.checkOptions(name, opts, ATTEND_OPTIONS)
  const rate = opts.dropout ?? 0
  const problem =
    notPositiveInteger('heads', opts.heads) ??
    (rate >= 0 && rate < 1 ? undefined : `dropout must satisfy 0 <= dropout < 1, got ${String(rate)}`)
  if (problem !== undefined) throw new T.ValueError(name, problem)
  if (ctx.cache !== undefined)
    throw new T.ValueError(
      name,
      'attend keeps no state, so it cannot decode with ctx.cache: use the multiHeadAttention layer ' +
        '(self-attention) or pass the whole key/value sequence every call',
    )
  const { w, b } = projectionWeights(name, params)
  const n = query.shape[0]
  const dim = w[0].shape[0]!
  const inputs = [
    ['query', query, w[0]],
    ['key', key, w[1]],
    ['value', value, w[2]],
  ] as const
  for (const [what, x, weight] of inputs)
    if (x.shape.length !== 3 || x.shape[0] !== n || x.shape[2] !== weight.shape[1])
      throw new T.ShapeError(
        name,
        `${what} must be [batch = ${String(n)}, length, ${weight.shape[1]!}] (its projection is ` +
          `${T.fmtShape(weight.shape)}), got ${T.fmtShape(x.shape)}`,
      )
  if (key.shape[1] !== value.shape[1])
    throw new T.ShapeError(
      name,
      `key and value must have one length, got ${T.fmtShape(key.shape)} and ${T.fmtShape(value.shape)}`,
    )
  if (dim % opts.heads !== 0)
    throw new T.ShapeError(name, `heads (${opts.heads}) must divide the model width dim (${dim})`)
  const q = splitHeads(project(query, w[0], b?.[0]), opts.heads)
  const k = splitHeads(project(key, w[1], b?.[1]), opts.heads)
  const v = splitHeads(project(value, w[2], b?.[2]), opts.heads)
  const mask = opts.mask
  if (mask !== undefined && !T.isTensor(mask))
    throw new T.ValueError(name, `options.mask must be a tensor (int32 or float), got ${typeof mask}`)
  return outProjection(params, mergeHeads(attendHeads(name, q, k, v, opts.causal ?? false, rate, ctx, mask)))
}

/** Options of `initAttention`. @since 0.2.0 */
export interface InitAttentionOptions {
  /** The model width (PyTorch's `embed_dim`): the query's width and the output's. */
  readonly dim: number
  /** Number of heads; must divide `dim`. */
  readonly heads: number
  /** The key input's width (PyTorch's `kdim`), default `dim`. */
  readonly kDim?: number
  /** The value input's width (PyTorch's `vdim`), default `dim`. */
  readonly vDim?: number
  /** Biases on the projections (default true). */
  readonly bias?: boolean
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

const INIT_OPTIONS = O.optionSchema({
  dim: O.option.required(O.option.integer),
  heads: O.option.required(O.option.integer),
  kDim: O.option.integer,
  vDim: O.option.integer,
  bias: O.option.boolean,
  dtype: O.option.anything,
})

/**
 * Attention parameters with PyTorch's names, layouts and initialisation (`_reset_parameters`:
 * Xavier-uniform projections, zero biases, `nn.Linear`'s default for `out_proj.weight`): the packed
 * `in_proj_weight [3·dim, dim]` when `kDim` and `vDim` equal `dim` (what `multiHeadAttention`
 * makes), else `q_proj_weight [dim, dim]`, `k_proj_weight [dim, kDim]`, `v_proj_weight [dim, vDim]`.
 * For `attend`.
 * @example
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * const cross = layers.initAttention(T.random.key(0), { dim: 16, heads: 4, kDim: 32, vDim: 32 })
 * // Right: { q_proj_weight [16, 16], k_proj_weight [16, 32], v_proj_weight [16, 32], in_proj_bias [48], out_proj }
 * @throws ValueError for an unknown option or an option of the wrong type (bad values are a `LayerError`).
 * @since 0.2.0
 */
export const initAttention = (key: Key, opts: InitAttentionOptions): Either<LayerError, AttentionParams> => {
  const kind = 'initAttention'
  checkLayerOptions(kind, opts, INIT_OPTIONS)
  const { dim, heads } = opts
  const kDim = opts.kDim ?? dim
  const vDim = opts.vDim ?? dim
  const problem =
    notPositiveInteger('dim', dim) ??
    notPositiveInteger('heads', heads) ??
    notPositiveInteger('kDim', kDim) ??
    notPositiveInteger('vDim', vDim) ??
    (dim % heads === 0 ? undefined : `heads (${heads}) must divide the model width dim (${dim})`)
  if (problem !== undefined) return fail(kind, problem)
  return makeAttentionParams(kind, key, dim, kDim, vDim, opts.bias ?? true, opts.dtype)
}

const makeAttentionParams = (
  kind: string,
  key: Key,
  dim: number,
  kDim: number,
  vDim: number,
  useBias: boolean,
  dtypeOption: DType | undefined,
): Either<LayerError, AttentionParams> => {
  const dtypeE = paramDType(kind, dtypeOption)
  if (E.isLeft(dtypeE)) return dtypeE
  const dtype = dtypeE.right
  const [inKey, outKey] = O.splitKeys(key, 2)
  const xavier = (what: string, k: Key, shape: number[]) =>
    runInit(kind, what, glorotUniform, k, shape, dtype, computeFans(shape))
  const outShapeW = [dim, dim]
  const outW = runInit(
    kind,
    'out_proj.weight init',
    torchDefault,
    outKey!,
    outShapeW,
    dtype,
    computeFans(outShapeW),
  )
  if (E.isLeft(outW)) return outW
  const biases = useBias ? { in_proj_bias: T.zeros([3 * dim], dtype) } : {}
  const outProj = useBias ? { weight: outW.right, bias: T.zeros([dim], dtype) } : { weight: outW.right }
  if (kDim === dim && vDim === dim) {
    const inW = xavier('in_proj_weight init', inKey!, [3 * dim, dim])
    if (E.isLeft(inW)) return inW
    return E.right({ in_proj_weight: inW.right, ...biases, out_proj: outProj } as AttentionParams)
  }
  const [kq, kk, kv] = O.splitKeys(inKey!, 3)
  const wq = xavier('q_proj_weight init', kq!, [dim, dim])
  if (E.isLeft(wq)) return wq
  const wk = xavier('k_proj_weight init', kk!, [dim, kDim])
  if (E.isLeft(wk)) return wk
  const wv = xavier('v_proj_weight init', kv!, [dim, vDim])
  if (E.isLeft(wv)) return wv
  return E.right({
    q_proj_weight: wq.right,
    k_proj_weight: wk.right,
    v_proj_weight: wv.right,
    ...biases,
    out_proj: outProj,
  })
}

/** Writes `x` `[N, h, t, d]` into `buffer` `[N, h, capacity, d]` at positions `start..start+t−1`. */
const writeAt = (buffer: Tensor, x: Tensor, start: number): Tensor => {
  const capacity = buffer.shape[2]!
  const stop = start + x.shape[2]!
  const parts = [
    start > 0 ? O.slice(buffer, [undefined, undefined, { start: 0, stop: start }]) : undefined,
    x,
    stop < capacity ? O.slice(buffer, [undefined, undefined, { start: stop, stop: capacity }]) : undefined,
  ].filter((part): part is Tensor => part !== undefined)
  return parts.length === 1 ? parts[0]! : O.concat(parts, { axis: 2 })
}

/**
 * Multi-head self-attention (Vaswani et al. 2017; PyTorch's `nn.MultiheadAttention` with
 * `batch_first=True` and query = key = value = x): `[N, L, dim] → [N, L, dim]`. Per head h,
 * `head_h = softmax(q_h k_hᵀ / √(dim/heads) [+ causal mask]) v_h` with `q = x W_qᵀ + b_q` (likewise
 * k, v), and `y = concat(head_1..head_H) W_oᵀ + b_o`: `attend(params, x, x, x)`, plus rotary. The
 * attention is the `scaledDotProductAttention` op (its VJP recomputes the probabilities); in
 * training with `dropout > 0` the op also drops out the probabilities (its `dropout` option, the
 * mask drawn from `ctx.key`, which is then required, as for `dropout`). Parameters use PyTorch's names and
 * layouts (see `MultiHeadAttentionParams`) and PyTorch's initialisation (Xavier-uniform
 * `in_proj_weight`, zero biases, `nn.Linear`'s default for `out_proj.weight`). A layer takes one
 * input, so key/value widths other than the model width (PyTorch's `kdim`/`vdim`) and a separate
 * memory sequence are `initAttention` and `attend`.
 *
 * Decoding (`ApplyContext.cache`, evaluation only): x holds the positions after those seen so far;
 * their keys and values are appended to a fixed-capacity cache in the returned state
 * (`MultiHeadAttentionState`), rotary uses their absolute positions, and the queries attend to
 * every cached position (causal: up to their own). Going past the capacity is a ShapeError.
 * @example
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * const attn = layers.multiHeadAttention({ heads: 4, causal: true })
 * const built = attn.init(T.random.key(0), [16, 64]) // in_proj_weight [192, 64], out_proj.weight [64, 64]
 * @throws ValueError for an unknown option or an option of the wrong type (bad values make `init` return a `LayerError`).
 * @since 0.2.0
 */
export const multiHeadAttention = <B extends boolean = true>(
  opts: MultiHeadAttentionOptions<B>,
): Layer<MultiHeadAttentionParamsFor<B>, MultiHeadAttentionState> => {
  const kind = 'multiHeadAttention'
  checkLayerOptions(kind, opts, OPTIONS)
  const { heads } = opts
  const rate = opts.dropout ?? 0
  const causal = opts.causal ?? false
  const useBias = opts.bias ?? true
  const rotary = opts.rotary ?? false
  const rotaryBase = opts.rotaryBase ?? 10000
  const problem =
    notPositiveInteger('heads', heads) ??
    (opts.dim === undefined ? undefined : notPositiveInteger('dim', opts.dim)) ??
    (rate >= 0 && rate < 1 ? undefined : `dropout must satisfy 0 <= dropout < 1, got ${String(rate)}`) ??
    (opts.rotaryBase !== undefined && !rotary
      ? 'rotaryBase is given but rotary is not true: set rotary: true or drop rotaryBase'
      : rotaryBase > 0 && Number.isFinite(rotaryBase)
        ? undefined
        : `rotaryBase must be a finite number > 0, got ${String(rotaryBase)}`)
  const layer: Layer<MultiHeadAttentionParams | MultiHeadAttentionParamsNoBias, MultiHeadAttentionState> = {
    kind,
    config: configOf(kind, {
      heads,
      dim: opts.dim,
      dropout: rate,
      causal,
      bias: useBias,
      // Recorded only when used, so configs written before rotary existed read the same.
      rotary: rotary ? true : undefined,
      rotaryBase: rotary ? rotaryBase : undefined,
      dtype: opts.dtype,
    }),
    init: (key, inShape) => {
      const shapeProblem = problem ?? badShape(inShape)
      if (shapeProblem !== undefined) return fail(kind, shapeProblem)
      if (inShape.length !== 2)
        return fail(
          kind,
          `expected a per-example input of rank 2 ([seq, dim]), got ${T.fmtShape(inShape)} (rank ${inShape.length})`,
        )
      const dim = inShape[1]!
      if (opts.dim !== undefined && opts.dim !== dim)
        return fail(
          kind,
          `dim is ${opts.dim} but the input's last axis is ${dim} (input ${T.fmtShape(inShape)})`,
        )
      if (dim % heads !== 0)
        return fail(
          kind,
          `heads (${heads}) must divide the model width dim (${dim}) of input ${T.fmtShape(inShape)}`,
        )
      if (rotary && (dim / heads) % 2 !== 0)
        return fail(
          kind,
          `rotary needs an even head width, got dim / heads = ${dim} / ${heads} = ${dim / heads}`,
        )
      const params = makeAttentionParams(kind, key, dim, dim, dim, useBias, opts.dtype)
      if (E.isLeft(params)) return params
      // Safe: with kDim = vDim = dim the params are the packed layout.
      const packed = params.right as MultiHeadAttentionParams | MultiHeadAttentionParamsNoBias
      return E.right({ params: packed, state: {}, outShape: inShape })
    },
    apply: (params, state, x, ctx) => {
      if (problem !== undefined) throw new T.ValueError(kind, problem)
      if (x.shape.length !== 3)
        throw new T.ShapeError(
          kind,
          `expected a batch of rank 3 ([batch, seq, dim]), got ${T.fmtShape(x.shape)}`,
        )
      const [n, t, dim] = x.shape as [number, number, number]
      if (dim % heads !== 0)
        throw new T.ShapeError(kind, `heads (${heads}) must divide the model width dim (${dim})`)
      if (rotary && (dim / heads) % 2 !== 0)
        throw new T.ShapeError(kind, `rotary needs an even head width, got dim / heads = ${dim / heads}`)
      const capacity = decodingCapacity(kind, ctx, state.cache !== undefined)
      const { w, b } = projectionWeights(kind, params)
      const qh = splitHeads(project(x, w[0], b?.[0]), heads)
      const kh = splitHeads(project(x, w[1], b?.[1]), heads)
      const v = splitHeads(project(x, w[2], b?.[2]), heads)
      if (capacity === undefined) {
        const q = rotary ? rotate(qh, rotaryBase, 0) : qh
        const k = rotary ? rotate(kh, rotaryBase, 0) : kh
        return [outProjection(params, mergeHeads(attendHeads(kind, q, k, v, causal, rate, ctx))), state]
      }
      const cache = state.cache
      const start = readPosition(kind, cache?.position)
      const bufferShape = [n, heads, capacity, dim / heads]
      if (
        cache !== undefined &&
        (!T.shapesEqual(cache.key.shape, bufferShape) || !T.shapesEqual(cache.value.shape, bufferShape))
      )
        throw new T.ShapeError(
          kind,
          `the cached keys are ${T.fmtShape(cache.key.shape)} but this call needs ${T.fmtShape(bufferShape)} ` +
            '([batch, heads, ctx.cache.capacity, dim / heads]): decode with the batch and capacity the cache began with',
        )
      checkCapacity(kind, start, t, capacity)
      const q = rotary ? rotate(qh, rotaryBase, start) : qh
      const k = rotary ? rotate(kh, rotaryBase, start) : kh
      const empty = cache === undefined ? T.zeros(bufferShape, k.dtype) : undefined
      const keys = writeAt(cache?.key ?? empty!, k, start)
      const values = writeAt(cache?.value ?? empty!, v, start)
      const filled = start + t
      const seen = [undefined, undefined, { start: 0, stop: filled }]
      // The op's causal mask is aligned bottom-right: query i (absolute start + i) sees keys j <= start + i.
      const attended = O.scaledDotProductAttention(q, O.slice(keys, seen), O.slice(values, seen), { causal })
      return [
        outProjection(params, mergeHeads(attended)),
        { cache: { key: keys, value: values, position: positionTensor(filled) } },
      ]
    },
  }
  // Safe: the biases are present exactly when `bias` is not false, which is what MultiHeadAttentionParamsFor<B> says.
  return layer as unknown as Layer<MultiHeadAttentionParamsFor<B>, MultiHeadAttentionState>
}

/** The config of a `multiHeadAttention` layer, as `encodeModel` writes it. @since 0.2.0 */
export interface MultiHeadAttentionConfig extends LayerConfig {
  readonly kind: 'multiHeadAttention'
  readonly heads: number
  readonly dim?: number
  readonly dropout?: number
  readonly causal?: boolean
  readonly bias?: boolean
  readonly rotary?: boolean
  readonly rotaryBase?: number
  readonly dtype?: DType
}

/**
 * The `multiHeadAttention` kind: config fields, allocation, and ONNX export as a faithful subgraph
 * of standard operators (eval mode, so attention dropout is the identity): per head, MatMul + Add
 * for the q/k/v projections (initializers `in_proj_weight.q0ᵀ`... sliced from the packed weight and
 * transposed), MatMul with the transposed keys, Mul by 1/√d, an additive −∞ causal mask when
 * `causal` (the sequence length must then be known), Softmax over the keys, MatMul with the values;
 * Concat of the heads, then MatMul + Add for `out_proj`. No Reshape is needed, hence no int64 tensors.
 * @since 0.2.0
 */
export const multiHeadAttentionKind = /* @__PURE__ */ leafKind({
  kind: 'multiHeadAttention',
  required: { heads: F.positiveInt },
  optional: {
    dim: F.positiveInt,
    dropout: F.rate,
    causal: t.boolean,
    bias: t.boolean,
    rotary: t.boolean,
    rotaryBase: F.positive,
    dtype: F.dtype,
  },
  build: (f) =>
    multiHeadAttention({
      heads: f['heads'] as number,
      ...(f['dim'] === undefined ? {} : { dim: f['dim'] as number }),
      ...(f['dropout'] === undefined ? {} : { dropout: f['dropout'] as number }),
      ...(f['causal'] === undefined ? {} : { causal: f['causal'] as boolean }),
      bias: f['bias'] !== false,
      ...(f['rotary'] === undefined ? {} : { rotary: f['rotary'] as boolean }),
      ...(f['rotaryBase'] === undefined ? {} : { rotaryBase: f['rotaryBase'] as number }),
      ...(f['dtype'] === undefined ? {} : { dtype: f['dtype'] as DType }),
    }),
  allocation: (c, inShape) => {
    if (inShape.length !== 2) return undefined
    const dim = inShape[1]!
    return { size: 4 * dim * dim + (c['bias'] === false ? 0 : 4 * dim), outShape: inShape }
  },
  onnx: {
    emit: (ctx) => {
      const decoding = decodingStateRefusal(ctx.state, 'cache')
      if (decoding !== undefined) return ctx.fail(decoding)
      const x = ctx.rank(2, '[seq, dim]')
      if (E.isLeft(x)) return x
      const heads = ctx.config['heads']
      if (typeof heads !== 'number' || !Number.isInteger(heads) || heads < 1)
        return ctx.fail(`config.heads must be a positive integer, got ${JSON.stringify(heads)}`)
      const [seq, inDim] = x.right.shape
      const weight = ctx.param('in_proj_weight', [
        typeof inDim === 'number' ? 3 * inDim : null,
        typeof inDim === 'number' ? inDim : null,
      ])
      if (E.isLeft(weight)) return weight
      const dim = weight.right.shape[1]!
      if (weight.right.shape[0] !== 3 * dim)
        return ctx.fail(
          `params 'in_proj_weight' has shape ${T.fmtShape(weight.right.shape)}; expected [3·dim, dim]`,
        )
      if (dim % heads !== 0) return ctx.fail(`heads (${heads}) must divide the model width dim (${dim})`)
      const inBias = ctx.optionalParam('bias', 'in_proj_bias', [3 * dim])
      if (E.isLeft(inBias)) return inBias
      const out =
        ctx.params !== null && typeof ctx.params === 'object'
          ? (ctx.params as { out_proj?: unknown }).out_proj
          : undefined
      const outW = (out as { weight?: unknown } | undefined)?.weight
      const outB = (out as { bias?: unknown } | undefined)?.bias
      if (!T.isTensor(outW) || !T.shapesEqual(outW.shape, [dim, dim]))
        return ctx.fail(`params 'out_proj.weight' must be a tensor of shape [${dim},${dim}]`)
      if (
        (ctx.config['bias'] !== false) !== T.isTensor(outB) ||
        (T.isTensor(outB) && !T.shapesEqual(outB.shape, [dim]))
      )
        return ctx.fail(
          ctx.config['bias'] === false
            ? `params 'out_proj.bias' is present but the config says bias: false`
            : `params 'out_proj.bias' must be a tensor of shape [${dim}]`,
        )
      const causal = ctx.config['causal'] === true
      if (causal && typeof seq !== 'number')
        return ctx.fail('causal attention needs a known sequence length to build its mask')
      const hd = dim / heads
      const rows = (w: Tensor, start: number, n: number): Tensor => T.slice(w, [{ start, stop: start + n }])
      const proj = (part: number, name: string, h: number): string => {
        const start = part * dim + h * hd
        const wT = T.transpose(rows(weight.right, start, hd)) // [dim, hd]
        const y = ctx.node('MatMul', [x.right.name, ctx.initializer(`in_proj_weight.${name}${h}`, wT)])
        return inBias.right === undefined
          ? y
          : ctx.node('Add', [y, ctx.initializer(`in_proj_bias.${name}${h}`, rows(inBias.right, start, hd))])
      }
      // Additive: 0 where query i may see key j (j <= i), −∞ elsewhere (the diagonal is always seen).
      const causalMask = (l: number): Tensor => {
        const data = new Float32Array(l * l)
        for (let i = 0; i < l; i++) for (let j = i + 1; j < l; j++) data[i * l + j] = -Infinity
        return T.unsafeTensor('float32', [l, l], data)
      }
      const mask = causal ? ctx.initializer('causal_mask', causalMask(seq as number)) : undefined
      const rotary = ctx.config['rotary'] === true
      if (rotary && typeof seq !== 'number')
        return ctx.fail('rotary attention needs a known sequence length to build its cos/sin tables')
      if (rotary && hd % 2 !== 0) return ctx.fail(`rotary needs an even head width, got dim / heads = ${hd}`)
      const base = ctx.number('rotaryBase', 10000)
      if (E.isLeft(base)) return base
      // rotateHalf(q) = q R with R the constant [hd, hd] matrix below, so rotary is MatMul, Mul and Add.
      const rotaryInputs = rotary
        ? (() => {
            const [cos, sin] = rotaryTables(seq as number, hd, base.right, 'float32')
            const r = new Float32Array(hd * hd)
            const half = hd / 2
            for (let j = 0; j < half; j++) {
              r[(j + half) * hd + j] = -1
              r[j * hd + j + half] = 1
            }
            return {
              cos: ctx.initializer('rotary_cos', cos),
              sin: ctx.initializer('rotary_sin', sin),
              r: ctx.initializer('rotary_rotate_half', T.unsafeTensor('float32', [hd, hd], r)),
            }
          })()
        : undefined
      const rope = (y: string): string =>
        rotaryInputs === undefined
          ? y
          : ctx.node('Add', [
              ctx.node('Mul', [y, rotaryInputs.cos]),
              ctx.node('Mul', [ctx.node('MatMul', [y, rotaryInputs.r]), rotaryInputs.sin]),
            ])
      const headOutputs: string[] = []
      for (let h = 0; h < heads; h++) {
        const q = rope(proj(0, 'q', h))
        const k = rope(proj(1, 'k', h))
        const v = proj(2, 'v', h)
        const kT = ctx.node('Transpose', [k], [intsAttribute('perm', [0, 2, 1])])
        let s = ctx.node('Mul', [ctx.node('MatMul', [q, kT]), ctx.constant(1 / Math.sqrt(hd))])
        if (mask !== undefined) s = ctx.node('Add', [s, mask])
        const p = ctx.node('Softmax', [s], [intAttribute('axis', -1)])
        headOutputs.push(ctx.node('MatMul', [p, v]))
      }
      const merged =
        heads === 1 ? headOutputs[0]! : ctx.node('Concat', headOutputs, [intAttribute('axis', -1)])
      let y = ctx.node('MatMul', [merged, ctx.initializer('out_proj.weight', T.transpose(outW))])
      if (T.isTensor(outB)) y = ctx.node('Add', [y, ctx.initializer('out_proj.bias', outB)])
      return E.right({ name: y, shape: [seq ?? null, dim], elem: 'float' })
    },
  },
})
