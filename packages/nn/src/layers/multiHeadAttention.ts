import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import * as t from 'io-ts/lib/index.js'
import type { Layer, LayerConfig, NoState } from '../layer'
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

/**
 * Parameters of `multiHeadAttention`, with PyTorch's `nn.MultiheadAttention` names and layouts, so
 * a PyTorch state dict (`in_proj_weight`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`) loads
 * as is (the dotted names of this tree are the state dict's keys).
 * @since 0.3.0
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

/** Parameters of `multiHeadAttention({ bias: false })`: PyTorch's names, without the biases. @since 0.3.0 */
export interface MultiHeadAttentionParamsNoBias {
  readonly in_proj_weight: Tensor
  readonly out_proj: { readonly weight: Tensor }
}

/** `MultiHeadAttentionParams`, without biases when `bias` is the literal `false`. @since 0.3.0 */
export type MultiHeadAttentionParamsFor<B extends boolean> = B extends false
  ? MultiHeadAttentionParamsNoBias
  : MultiHeadAttentionParams

/** Options of `multiHeadAttention`. @since 0.3.0 */
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
 * The rotary tables `[l, d]`: cos and sin of `pos · base^(−2i/d)` for pair i, repeated over both
 * halves (channel i and i + d/2 share an angle). Constants, built with kernels.
 */
const rotaryTables = (l: number, d: number, base: number, dtype: DType): readonly [Tensor, Tensor] => {
  const cos = T.allocate(dtype, l * d)
  const sin = T.allocate(dtype, l * d)
  const half = d / 2
  for (let p = 0; p < l; p++)
    for (let i = 0; i < half; i++) {
      const angle = p * Math.pow(base, (-2 * i) / d)
      cos[p * d + i] = cos[p * d + i + half] = Math.cos(angle)
      sin[p * d + i] = sin[p * d + i + half] = Math.sin(angle)
    }
  return [T.unsafeTensor(dtype, [l, d], cos), T.unsafeTensor(dtype, [l, d], sin)]
}

/** Rotary embedding of x `[..., l, d]`: `x · cos + rotateHalf(x) · sin`, rotateHalf(x) = [−x₂, x₁]. */
const rotate = (x: Tensor, base: number): Tensor => {
  const [l, d] = x.shape.slice(-2) as [number, number]
  const [cos, sin] = rotaryTables(l, d, base, x.dtype)
  const [x1, x2] = O.split(x, 2, { axis: -1 }) as [Tensor, Tensor]
  return O.add(O.mul(x, cos), O.mul(O.concat([O.neg(x2), x1], { axis: -1 }), sin))
}

/** `x Wᵀ (+ b)` over the last axis, for x of any rank (W stored [out, in] as nn.Linear). */
const project = (x: Tensor, w: Tensor, b: Tensor | undefined): Tensor => {
  const y = O.matmul(x, w, { transposeB: true })
  return b === undefined ? y : O.add(y, b)
}

/**
 * Multi-head self-attention (Vaswani et al. 2017; PyTorch's `nn.MultiheadAttention` with
 * `batch_first=True` and query = key = value = x): `[N, L, dim] → [N, L, dim]`. Per head h,
 * `head_h = softmax(q_h k_hᵀ / √(dim/heads) [+ causal mask]) v_h` with `q = x W_qᵀ + b_q` (likewise
 * k, v), and `y = concat(head_1..head_H) W_oᵀ + b_o`. The attention is the
 * `scaledDotProductAttention` op (its VJP recomputes the probabilities); in training with
 * `dropout > 0` the probabilities are computed with ops instead so they can be dropped out (a key is
 * then required, as for `dropout`). Parameters use PyTorch's names and layouts (see
 * `MultiHeadAttentionParams`) and PyTorch's initialisation (Xavier-uniform `in_proj_weight`, zero
 * biases, `nn.Linear`'s default for `out_proj.weight`). Self-attention only: a layer takes one
 * input, so PyTorch's `kdim`/`vdim` (separate key/value input widths, for cross-attention) are not
 * options.
 * @example
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * const attn = layers.multiHeadAttention({ heads: 4, causal: true })
 * const built = attn.init(T.random.key(0), [16, 64]) // in_proj_weight [192, 64], out_proj.weight [64, 64]
 * @throws ValueError for an unknown option or an option of the wrong type (bad values make `init` return a `LayerError`).
 * @since 0.3.0
 */
export const multiHeadAttention = <B extends boolean = true>(
  opts: MultiHeadAttentionOptions<B>,
): Layer<MultiHeadAttentionParamsFor<B>, NoState> => {
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
  const layer: Layer<MultiHeadAttentionParams | MultiHeadAttentionParamsNoBias, NoState> = {
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
      const dtypeE = paramDType(kind, opts.dtype)
      if (E.isLeft(dtypeE)) return dtypeE
      const dtype = dtypeE.right
      const [inKey, outKey] = O.splitKeys(key, 2)
      const inShapeW = [3 * dim, dim]
      const outShapeW = [dim, dim]
      const inW = runInit(
        kind,
        'in_proj_weight init',
        glorotUniform,
        inKey!,
        inShapeW,
        dtype,
        computeFans(inShapeW),
      )
      if (E.isLeft(inW)) return inW
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
      const params: MultiHeadAttentionParams | MultiHeadAttentionParamsNoBias = useBias
        ? {
            in_proj_weight: inW.right,
            in_proj_bias: T.zeros([3 * dim], dtype),
            out_proj: { weight: outW.right, bias: T.zeros([dim], dtype) },
          }
        : { in_proj_weight: inW.right, out_proj: { weight: outW.right } }
      return E.right({ params, state: {}, outShape: inShape })
    },
    apply: (params, state, x, ctx) => {
      if (problem !== undefined) throw new T.ValueError(kind, problem)
      if (x.shape.length !== 3)
        throw new T.ShapeError(
          kind,
          `expected a batch of rank 3 ([batch, seq, dim]), got ${T.fmtShape(x.shape)}`,
        )
      const dim = x.shape[2]!
      if (dim % heads !== 0)
        throw new T.ShapeError(kind, `heads (${heads}) must divide the model width dim (${dim})`)
      if (rotary && (dim / heads) % 2 !== 0)
        throw new T.ShapeError(kind, `rotary needs an even head width, got dim / heads = ${dim / heads}`)
      const [wq, wk, wv] = O.split(params.in_proj_weight, 3, { axis: 0 }) as [Tensor, Tensor, Tensor]
      const [bq, bk, bv] =
        'in_proj_bias' in params
          ? (O.split(params.in_proj_bias, 3, { axis: 0 }) as [Tensor, Tensor, Tensor])
          : [undefined, undefined, undefined]
      const qh = splitHeads(project(x, wq, bq), heads)
      const kh = splitHeads(project(x, wk, bk), heads)
      const q = rotary ? rotate(qh, rotaryBase) : qh
      const k = rotary ? rotate(kh, rotaryBase) : kh
      const v = splitHeads(project(x, wv, bv), heads)
      let attended: Tensor
      if (ctx.training && rate > 0) {
        if (ctx.key === undefined)
          throw new T.ValueError(
            kind,
            'ctx.key is required in training mode with dropout > 0 (it draws the attention dropout mask); ' +
              'pass { training: true, key } to apply, or { training: false } to evaluate',
          )
        // The same probabilities as the op (scale 1/√d, causal aligned at the diagonal), with ops, so
        // they can be dropped out as PyTorch does.
        const l = x.shape[1]!
        let s = O.mul(O.matmul(q, k, { transposeB: true }), 1 / Math.sqrt(dim / heads))
        if (causal) s = O.where(O.tril(T.ones([l, l], 'int32')), s, -Infinity)
        const p = O.softmax(s, { axis: -1 })
        const keep = O.randomBernoulli(ctx.key, 1 - rate, p.shape)
        attended = O.matmul(O.mul(p, O.mul(O.astype(keep, p.dtype), 1 / (1 - rate))), v)
      } else attended = O.scaledDotProductAttention(q, k, v, { causal })
      const out = params.out_proj
      return [project(mergeHeads(attended), out.weight, 'bias' in out ? out.bias : undefined), state]
    },
  }
  // Safe: the biases are present exactly when `bias` is not false, which is what MultiHeadAttentionParamsFor<B> says.
  return layer as unknown as Layer<MultiHeadAttentionParamsFor<B>, NoState>
}

/** The config of a `multiHeadAttention` layer, as `encodeModel` writes it. @since 0.3.0 */
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
 * @since 0.3.0
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
