// O = (P ⊙ D) v, P = softmax(s · q kᵀ + M) (rows with every key masked: P = 0), D = keep / (1 − rate)
// (D = 1 without dropout; keep an int32 input, drawn once by the caller, read forward and backward) ;
// v̄ = (P ⊙ D)ᵀ Ō, P̄ = (Ō vᵀ) ⊙ D, S̄ = P ⊙ (P̄ − rowsum(P̄ ⊙ P)), q̄ = s S̄ k, k̄ = s S̄ᵀ q,
// M̄ = S̄ (additive mask), no cotangent for keep
import * as T from '@backfold/tensor'
import type { Key, Tensor } from '@backfold/tensor'
import { applyOp, defineOp, mapTensors, type Aval, type BatchAxes, type Batched } from '../core/op'
import { moveAxis } from '../core/batching'
import { checkOptions, option, optionSchema } from '../core/options'
import { unbroadcast } from '../core/unbroadcast'
import { add } from '../binary/add'
import { greater } from '../binary/greater'
import { mul } from '../binary/mul'
import { notEqual } from '../binary/notEqual'
import { sub } from '../binary/sub'
import { where } from '../binary/where'
import { softmax } from '../activations/softmax'
import { matmulOp } from '../linalg/matmul'
import { max } from '../reduce/max'
import { sum } from '../reduce/sum'
import { astype } from '../elementwise/astype'
import { randomBernoulli } from '../random/randomBernoulli'
import { keysOf } from '../internal/keyBatching'
import { reductionProgram } from '../reduce/reductionProgram'
import { reshape } from '../shape/reshape'
import type { OnnxBuilder } from '../staging/onnx/builder'
import { swapLastTwo } from '../staging/onnx/rules'

const NAME = 'scaledDotProductAttention'

/**
 * Parameters of the attention op: the logit scale, whether keys after the query's position are
 * masked, and the dropout rate on the probabilities (0: none; above 0 the op's last input is the
 * int32 keep mask, 1 = keep, broadcasting with the logits `[..., Lq, Lk]` as the mask does).
 * @since 0.2.0
 */
export interface AttentionParams {
  readonly scale: number
  readonly causal: boolean
  readonly dropout: number
}

/** Dropout on the attention probabilities (`AttentionOptions.dropout`). @since 0.2.0 */
export interface AttentionDropout {
  /** The probability of dropping each probability, in [0, 1); 0 is no dropout (the key is then unused). */
  readonly rate: number
  /**
   * The key the keep mask is drawn from (`randomBernoulli(key, 1 − rate, logitsShape)`): a `Key`, or
   * a key batch int32 `[...kb, 2]` whose axes are the logits' leading ones (one key per slice).
   */
  readonly key: Key | Tensor
}

/** Options of `scaledDotProductAttention`. @since 0.2.0 */
export interface AttentionOptions {
  /**
   * Broadcastable to `[..., Lq, Lk]`: a float mask (same dtype as q) added to the logits (use −∞ to
   * mask; it is differentiated like any input), or an int32 mask where nonzero means "attend".
   */
  readonly mask?: Tensor | undefined
  /** Mask key j for query i when j > i + (Lk − Lq): aligned bottom-right, see the function's doc. */
  readonly causal?: boolean | undefined
  /** The logit scale (default 1/√d). */
  readonly scale?: number | undefined
  /**
   * Dropout on the probabilities (PyTorch's `dropout_p`): each is zeroed with probability `rate`
   * and the kept ones scaled by 1/(1 − rate). Absent or rate 0: none. Give it in training only.
   */
  readonly dropout?: AttentionDropout | undefined
}

const OPTIONS = optionSchema({
  mask: option.anything,
  causal: option.boolean,
  scale: option.number,
  dropout: option.record,
})

/** The inputs: q, k, v, then the mask if there is one, then the keep mask if `dropout > 0`. */
type AttentionInputs = readonly [Tensor, Tensor, Tensor, ...Tensor[]]

/** The optional inputs by role: the mask, and the keep mask (the last input when `dropout > 0`). */
const extras = <X>(
  xs: ReadonlyArray<X>,
  p: AttentionParams,
): { mask: X | undefined; keep: X | undefined } => {
  const dropping = p.dropout > 0
  return {
    mask: xs.length > (dropping ? 4 : 3) ? xs[3] : undefined,
    keep: dropping ? xs[xs.length - 1] : undefined,
  }
}

/** The output's shape and dtype, with every check the forward needs (one rule for eager and staged). */
const attentionAval = (xs: ReadonlyArray<Aval>, p: AttentionParams): Aval => {
  const [q, k, v] = xs
  const { mask, keep } = extras(xs, p)
  if (!(p.dropout >= 0 && p.dropout < 1))
    throw new T.ValueError(NAME, `the dropout rate must satisfy 0 <= rate < 1, got ${p.dropout}`)
  for (const [name, x] of [
    ['q', q!],
    ['k', k!],
    ['v', v!],
  ] as const) {
    if (x.shape.length < 2)
      throw new T.ShapeError(NAME, `${name} of shape ${T.fmtShape(x.shape)} needs rank >= 2 ([..., L, d])`)
    if (!T.isFloat(x.dtype) || x.dtype !== q!.dtype)
      throw new T.DTypeError(
        NAME,
        `q, k and v must share one float dtype; got q ${q!.dtype}, k ${k!.dtype}, v ${v!.dtype} (astype first)`,
      )
  }
  const [lq, d] = q!.shape.slice(-2) as [number, number]
  const [lk, dk] = k!.shape.slice(-2) as [number, number]
  const [lv, dv] = v!.shape.slice(-2) as [number, number]
  if (dk !== d)
    throw new T.ShapeError(
      NAME,
      `q of shape ${T.fmtShape(q!.shape)} and k of shape ${T.fmtShape(k!.shape)} differ in their last axis (${d} vs ${dk})`,
    )
  if (lv !== lk)
    throw new T.ShapeError(
      NAME,
      `k of shape ${T.fmtShape(k!.shape)} and v of shape ${T.fmtShape(v!.shape)} hold different numbers of keys (${lk} vs ${lv})`,
    )
  if (lk === 0) throw new T.ShapeError(NAME, 'k and v hold no keys (Lk = 0): there is nothing to attend to')
  let batch = T.broadcastShapes(NAME, q!.shape.slice(0, -2), k!.shape.slice(0, -2))
  batch = T.broadcastShapes(NAME, batch, v!.shape.slice(0, -2))
  if (mask !== undefined) {
    if (mask.dtype !== 'int32' && mask.dtype !== q!.dtype)
      throw new T.DTypeError(
        NAME,
        `the mask must be int32 (nonzero = attend) or additive in q's dtype ${q!.dtype}; got ${mask.dtype}`,
      )
    const logits = T.broadcastShapes(NAME, [...batch, lq, lk], mask.shape)
    if (logits[logits.length - 2] !== lq || logits[logits.length - 1] !== lk)
      throw new T.ShapeError(
        NAME,
        `the mask of shape ${T.fmtShape(mask.shape)} does not broadcast to the logits' [..., ${lq}, ${lk}]`,
      )
    batch = logits.slice(0, -2)
  }
  if (keep !== undefined) {
    if (keep.dtype !== 'int32')
      throw new T.DTypeError(NAME, `the dropout keep mask must be int32 (1 = keep); got ${keep.dtype}`)
    // Broadcast like the mask (vmap over the keys alone gives the keep mask the examples' axis).
    const logits = T.broadcastShapes(NAME, [...batch, lq, lk], keep.shape)
    if (logits[logits.length - 2] !== lq || logits[logits.length - 1] !== lk)
      throw new T.ShapeError(
        NAME,
        `the dropout keep mask of shape ${T.fmtShape(keep.shape)} does not broadcast to the logits' [..., ${lq}, ${lk}]`,
      )
    batch = logits.slice(0, -2)
  }
  return { shape: [...batch, lq, dv], dtype: q!.dtype }
}

/**
 * The causal masks, built once per (form, Lq, Lk, dtype) and kept: every attention call of every
 * layer and step asks for the same few, and building one loops over [Lq, Lk] (and casts). Bounded:
 * past `MASK_CACHE_SIZE` entries the least recently used goes. Only concrete tensors built from
 * numbers enter it, never an op's input, so nothing traced can leak in under `jit` (staged, a mask
 * is a graph constant); tensors are immutable, so sharing one is safe.
 */
const MASK_CACHE_SIZE = 16
const maskCache = /* @__PURE__ */ new Map<string, Tensor>()

const cachedMask = (id: string, build: () => Tensor): Tensor => {
  const hit = maskCache.get(id)
  if (hit !== undefined) {
    // Refreshed as most recently used (a Map iterates in insertion order).
    maskCache.delete(id)
    maskCache.set(id, hit)
    return hit
  }
  const mask = build()
  if (maskCache.size >= MASK_CACHE_SIZE) maskCache.delete(maskCache.keys().next().value!)
  maskCache.set(id, mask)
  return mask
}

/**
 * int32 [Lq, Lk]: 1 where query i may see key j, i.e. j <= i + (Lk − Lq). A cached constant, not traced.
 * @internal
 */
export const causalMask = (lq: number, lk: number): Tensor =>
  cachedMask(`visible ${lq}x${lk}`, () => {
    const data = new Int32Array(lq * lk)
    for (let i = 0; i < lq; i++) for (let j = 0; j < lk; j++) data[i * lk + j] = j <= i + lk - lq ? 1 : 0
    return T.unsafeTensor('int32', [lq, lk], data)
  })

/**
 * Whether every query sees at least one key, so no row of the probabilities is all masked: no mask
 * input, and causal only when there are at least as many keys as queries (query i sees keys
 * 0 … i + Lk − Lq).
 */
const everyRowAttends = (xs: ReadonlyArray<Aval>, p: AttentionParams): boolean =>
  extras(xs, p).mask === undefined && (!p.causal || xs[1]!.shape.at(-2)! >= xs[0]!.shape.at(-2)!)

/**
 * [Lq, Lk] in `dtype`: 0 where query i may see key j (j <= i + (Lk − Lq)), −∞ elsewhere. A cached
 * constant, not traced.
 * @internal
 */
export const additiveCausalMask = (lq: number, lk: number, dtype: T.DType): Tensor =>
  cachedMask(`add ${lq}x${lk} ${dtype}`, () => {
    const data = new Float64Array(lq * lk)
    for (let i = 0; i < lq; i++)
      for (let j = 0; j < lk; j++) data[i * lk + j] = j <= i + lk - lq ? 0 : -Infinity
    return T.astype(T.unsafeTensor('float64', [lq, lk], data), dtype)
  })

/**
 * softmax over the last axis as two row programs: e = exp(x − max x), then e / Σ e. (One program
 * would compute the exponentials twice, for the sum and for the result: they cost more than the
 * extra pass over e.)
 */
const SHIFTED_EXP: T.ReductionProgram = {
  arity: 1,
  instructions: [
    { kind: 'reduce', op: 'max', x: 0 },
    { kind: 'binary', op: 'sub', a: 0, b: 1 },
    { kind: 'unary', op: 'exp', x: 2 },
  ],
}
const NORMALISE: T.ReductionProgram = {
  arity: 1,
  instructions: [
    { kind: 'reduce', op: 'sum', x: 0 },
    { kind: 'binary', op: 'div', a: 0, b: 1 },
  ],
}

/**
 * The probabilities when every row attends (see `everyRowAttends`): the product, one elementwise
 * program for the scale (and the causal mask, added as 0 / −∞), two row programs for the softmax.
 * A few passes over the logits instead of a dozen kernels; the same values within float rounding
 * (each program computes in float64 and rounds once).
 */
const probabilitiesEveryRow = ([q, k]: AttentionInputs, p: AttentionParams): Tensor => {
  const product = T.matmul(q, k, { transposeB: true })
  const scaled: T.ElementwiseProgram = {
    arity: p.causal ? 2 : 1,
    instructions: [
      { kind: 'constant', value: p.scale },
      { kind: 'binary', op: 'mul', a: 0, b: p.causal ? 2 : 1 },
      ...(p.causal ? [{ kind: 'binary', op: 'add', a: 3, b: 1 } as const] : []),
    ],
  }
  const logits = T.elementwiseProgram(
    scaled,
    p.causal ? [product, additiveCausalMask(q.shape.at(-2)!, k.shape.at(-2)!, product.dtype)] : [product],
  )
  return T.reductionProgram(NORMALISE, [T.reductionProgram(SHIFTED_EXP, [logits])])
}

/** The masked, scaled logits with kernels (forward) — the same steps as `logitsWithOps`. */
const logitsWithKernels = (xs: AttentionInputs, p: AttentionParams): Tensor => {
  const [q, k] = xs
  const { mask } = extras(xs, p)
  let s = T.mul(T.matmul(q, k, { transposeB: true }), p.scale)
  if (mask !== undefined)
    s = mask.dtype === 'int32' ? T.where(T.notEqual(mask, 0), s, -Infinity) : T.add(s, mask)
  if (p.causal) s = T.where(causalMask(q.shape.at(-2)!, k.shape.at(-2)!), s, -Infinity)
  return s
}

/** The masked, scaled logits with ops (VJP, recomputation) — the same steps as `logitsWithKernels`. */
const logitsWithOps = (xs: AttentionInputs, p: AttentionParams): Tensor => {
  const [q, k] = xs
  const { mask } = extras(xs, p)
  let s = mul(applyOp(matmulOp, [q, k], { transposeA: false, transposeB: true }), p.scale)
  if (mask !== undefined) s = mask.dtype === 'int32' ? where(notEqual(mask, 0), s, -Infinity) : add(s, mask)
  if (p.causal) s = where(causalMask(q.shape.at(-2)!, k.shape.at(-2)!), s, -Infinity)
  return s
}

/**
 * The attention probabilities from the logits, with ops. A row whose logits are all −∞ (every key
 * masked) gets P = 0: its logits are replaced by zeros before the softmax (so no NaN appears, at any
 * order of differentiation) and the row is zeroed after it.
 */
const probabilitiesWithOps = (s: Tensor): Tensor => {
  const axis = s.shape.length - 1
  const valid = greater(max(s, { axis, keepDims: true }), -Infinity)
  return where(valid, softmax(where(valid, s, 0), { axis }), 0)
}

/**
 * The dropout factor D = keep / (1 − rate) in `dtype`, with kernels (forward) or ops (VJP): the same
 * arithmetic, so the backward pass scales exactly as the forward did.
 */
const dropoutFactor = (
  cast: (x: Tensor, dtype: T.DType) => Tensor,
  scale: (x: Tensor, s: number) => Tensor,
  keep: Tensor,
  rate: number,
  dtype: T.DType,
): Tensor => scale(cast(keep, dtype), 1 / (1 - rate))

/**
 * The attention op (inputs q, k, v, optionally the mask, and the int32 keep mask when `dropout > 0`).
 * @since 0.2.0
 */
export const scaledDotProductAttentionOp = defineOp<typeof NAME, AttentionInputs, AttentionParams>({
  name: 'scaledDotProductAttention',
  forward: (xs, p) => {
    attentionAval(xs, p)
    let probs: Tensor
    if (everyRowAttends(xs, p)) probs = probabilitiesEveryRow(xs, p)
    else {
      const s = logitsWithKernels(xs, p)
      const axis = s.shape.length - 1
      const valid = T.greater(T.max(s, { axes: axis, keepDims: true }), -Infinity)
      const safe = T.where(valid, s, 0)
      const e = T.exp(T.sub(safe, T.max(safe, { axes: axis, keepDims: true })))
      probs = T.where(valid, T.div(e, T.sum(e, { axes: axis, keepDims: true })), 0)
    }
    const { keep } = extras(xs, p)
    if (keep !== undefined) probs = T.mul(probs, dropoutFactor(T.astype, T.mul, keep, p.dropout, probs.dtype))
    return T.matmul(probs, xs[2])
  },
  abstract: (xs, p) => attentionAval(xs, p),
  // Memory-saving: nothing from the forward pass is kept but the inputs (the keep mask is one); P is
  // recomputed here.
  vjp: (ct, xs, _y, p, needed) => {
    const [q, k, v] = xs
    const { mask, keep } = extras(xs, p)
    const logits = logitsWithOps(xs, p)
    // No all-masked row to guard against: the softmax as the forward's two row programs (as ops, so
    // differentiable; staged, the exponentials are computed once, see SHIFTED_EXP).
    const probs = everyRowAttends(xs, p)
      ? reductionProgram(NORMALISE, [reductionProgram(SHIFTED_EXP, [logits])])
      : probabilitiesWithOps(logits)
    const factor = keep === undefined ? undefined : dropoutFactor(astype, mul, keep, p.dropout, probs.dtype)
    const mm = (a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor =>
      applyOp(matmulOp, [a, b], { transposeA, transposeB })
    const dropped = factor === undefined ? probs : mul(probs, factor)
    const dv = needed[2] ? unbroadcast(mm(dropped, ct, true, false), v.shape) : undefined
    // No cotangent for the int32 keep mask (integers are not differentiated), nor for an int32 mask.
    const rest = [...(mask === undefined ? [] : [undefined]), ...(keep === undefined ? [] : [undefined])]
    const needS =
      needed[0] || needed[1] || (mask !== undefined && mask.dtype !== 'int32' && needed[3] === true)
    if (!needS) return [undefined, undefined, dv, ...rest] as const
    const dpDropped = mm(ct, v, false, true)
    const dp = factor === undefined ? dpDropped : mul(dpDropped, factor)
    const ds = mul(probs, sub(dp, sum(mul(dp, probs), { axis: probs.shape.length - 1, keepDims: true })))
    const dq = needed[0] ? unbroadcast(mul(mm(ds, k, false, false), p.scale), q.shape) : undefined
    const dk = needed[1] ? unbroadcast(mul(mm(ds, q, true, false), p.scale), k.shape) : undefined
    if (mask === undefined || mask.dtype === 'int32' || needed[3] !== true) return [dq, dk, dv, ...rest]
    // An additive mask gets S̄.
    return [dq, dk, dv, unbroadcast(ds, mask.shape), ...rest.slice(1)]
  },
  batch: (xs, axes, p, self) => batchAttention(xs, axes, p, self),
  onnx: (b, xs, p, { inputs }) => attentionOnnx(b, xs, p, inputs),
})

/**
 * The ONNX lowering: the forward's steps as a subgraph (MatMul, masking Where, max-shifted
 * Exp / ReduceSum, MatMul), rows with every key masked giving zeros as the op does.
 */
const attentionOnnx = (
  b: OnnxBuilder,
  xs: ReadonlyArray<string>,
  p: AttentionParams,
  avals: ReadonlyArray<Aval>,
): string => {
  const [q, k, v] = xs
  const { mask, keep } = extras(xs, p)
  const [aq, ak] = avals
  const amask = extras(avals, p).mask
  const dtype = aq!.dtype
  const minusInf = b.scalar(-Infinity, dtype)
  const zero = b.scalar(0, dtype)
  // q kᵀ: ONNX Runtime fuses a Transpose into its MatMul as FusedMatMul, which has no float64
  // kernel, so float64 takes an Einsum (batch axes broadcast in both; ONNX Runtime's Einsum wants
  // one rank for both ellipses, so the lower-rank operand gets leading size-1 axes).
  const rankGap = aq!.shape.length - ak!.shape.length
  const leading = (x: string, n: number): string =>
    n <= 0 ? x : b.node('Unsqueeze', [x, b.int64s(Array.from({ length: n }, (_, i) => i))])
  const qk =
    dtype === 'float64'
      ? b.node('Einsum', [leading(q!, -rankGap), leading(k!, rankGap)], { equation: '...id,...jd->...ij' })
      : b.node('MatMul', [q!, swapLastTwo(b, k!, ak!.shape.length)])
  let s = b.node('Mul', [qk, b.scalar(p.scale, dtype)])
  if (mask !== undefined)
    s =
      amask!.dtype === 'int32'
        ? b.node('Where', [b.node('Not', [b.node('Equal', [mask, b.scalar(0, 'int32')])]), s, minusInf])
        : b.node('Add', [s, mask])
  if (p.causal) {
    const lq = aq!.shape.at(-2)!
    const lk = ak!.shape.at(-2)!
    const keep = Array.from({ length: lq * lk }, (_, i) => (i % lk <= Math.floor(i / lk) + lk - lq ? 1 : 0))
    s = b.node('Where', [b.constant(keep, 'bool', [lq, lk]), s, minusInf])
  }
  const last = [-1]
  const rowMax = (x: string): string => b.node('ReduceMax', [x], { axes: last, keepdims: 1 })
  const valid = b.node('Greater', [rowMax(s), minusInf])
  const safe = b.node('Where', [valid, s, zero])
  const e = b.node('Exp', [b.node('Sub', [safe, rowMax(safe)])])
  const normalised = b.node('Where', [
    valid,
    b.node('Div', [e, b.node('ReduceSum', [e, b.int64s(last)], { keepdims: 1 })]),
    zero,
  ])
  // Dropout with a given keep mask: the forward's Cast, scale and product (the mask itself comes
  // from randomBernoulli, which does not lower: see the function's doc).
  const probs =
    keep === undefined
      ? normalised
      : b.node('Mul', [
          normalised,
          b.node('Mul', [b.cast(keep, 'int32', dtype), b.scalar(1 / (1 - p.dropout), dtype)]),
        ])
  return b.node('MatMul', [probs, v!])
}

/**
 * Batching: every input keeps two core axes ([L, d], or the mask's and the keep mask's [Lq, Lk]) and
 * broadcasts its leading ones, so the examples fold into one more leading batch axis: each mapped
 * input gets them at axis 0, padded with size-1 axes to the common batch rank; unmapped inputs
 * broadcast as they are.
 */
const batchAttention = (
  xs: AttentionInputs,
  axes: BatchAxes<AttentionInputs>,
  p: AttentionParams,
  self: (xs: AttentionInputs, p: AttentionParams) => Tensor,
): Batched => {
  const batchRank = Math.max(...xs.map((x, i) => x.shape.length - 2 - (axes[i] === undefined ? 0 : 1)))
  const aligned = mapTensors(xs, (x, i) => {
    const axis = axes[i]
    if (axis === undefined) return x
    const front = moveAxis(x, axis, 0)
    const missing = batchRank - (front.shape.length - 3)
    return missing === 0
      ? front
      : reshape(front, [front.shape[0]!, ...new Array<number>(missing).fill(1), ...front.shape.slice(1)])
  })
  return [self(aligned, p), 0]
}

/**
 * Scaled dot-product attention as one op: `softmax(q kᵀ · scale + mask) v` for q `[..., Lq, d]`,
 * k `[..., Lk, d]`, v `[..., Lk, dv]`, giving `[..., Lq, dv]`; leading axes broadcast (heads,
 * batches). `scale` defaults to 1/√d.
 *
 * - `mask` broadcasts to `[..., Lq, Lk]`: int32 (nonzero = attend, e.g. a `[B, 1, 1, Lk]` padding
 *   mask) or float in q's dtype, added to the logits (−∞ masks; the mask then has a gradient).
 * - `causal: true` lets query i see key j only when j <= i + (Lk − Lq): the mask is aligned to the
 *   bottom-right corner, so the last query sees every key. With Lq = Lk this is PyTorch's
 *   `is_causal` (tril); with a key/value cache (Lq < Lk, the queries being the last Lq positions)
 *   it is what incremental decoding needs (PyTorch's `causal_lower_right`, FlashAttention).
 * - A query whose every key is masked gets **zeros** (PyTorch gives NaN), with zero gradients.
 * - `dropout: { rate, key }` (PyTorch's `dropout_p`, for training) zeroes each probability with
 *   probability `rate` and scales the kept ones by 1/(1 − rate): the output is `(P ⊙ keep) v / (1 −
 *   rate)` with `keep = randomBernoulli(key, 1 − rate, [..., Lq, Lk])` (a key batch `[...kb, 2]`
 *   draws one mask per leading slice: `[...kb, ...rest]`). The mask is drawn once, as an op before
 *   this one, and is an input of the attention op, so the backward pass reads the forward's mask
 *   (a redraw would cost more than the attention itself on the CPU). Rate 0 is no dropout. It does
 *   not lower to ONNX (the random ops do not); without it the op does.
 *
 * The VJP keeps no probabilities: it recomputes them from q and k (the memory-saving rule), and is
 * written with ops, so it can itself be differentiated.
 * The causal masks are built once per shape and dtype and kept (a small bounded cache).
 * @example
 * import * as T from '@backfold/tensor'
 * import { scaledDotProductAttention } from '@backfold/ops'
 * const [q, k, v] = [T.ones([1, 2, 4, 8]), T.ones([1, 2, 4, 8]), T.ones([1, 2, 4, 8])] // [B, H, L, d]
 * const out = scaledDotProductAttention(q, k, v, { causal: true }) // [1, 2, 4, 8]
 * // in training: drop 10% of the probabilities (the key decides which)
 * const trained = scaledDotProductAttention(q, k, v, { causal: true, dropout: { rate: 0.1, key: T.random.key(0) } })
 * @throws ShapeError for ranks below 2, mismatched d or key counts, or a mask that does not broadcast;
 *   DTypeError unless q, k, v share a float dtype and the mask is int32 or that dtype; ValueError
 *   for an unknown option, a non-finite scale, or a dropout rate outside [0, 1) or without a key.
 * @since 0.2.0
 */
export const scaledDotProductAttention = (
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttentionOptions = {},
): Tensor => {
  checkOptions(NAME, opts, OPTIONS)
  const dropout = checkDropout(opts.dropout)
  const d = q.shape.at(-1) ?? 0
  const scale = opts.scale ?? 1 / Math.sqrt(d)
  if (!Number.isFinite(scale))
    throw new T.ValueError(NAME, `the scale must be a finite number; got ${scale} (d = ${d})`)
  const mask = opts.mask
  if (mask !== undefined && !T.isTensor(mask))
    throw new T.ValueError(
      NAME,
      'the mask must be a tensor (int32: nonzero = attend; float: added to the logits)',
    )
  // A mask of rank < 2 (a key padding vector [Lk]) gets its leading size-1 axes here, so the op sees [..., Lq|1, Lk].
  const padded =
    mask === undefined || mask.shape.length >= 2
      ? mask
      : reshape(mask, [...new Array<number>(2 - mask.shape.length).fill(1), ...mask.shape])
  const params = { scale, causal: opts.causal === true, dropout: dropout?.rate ?? 0 }
  const inputs: Tensor[] = [q, k, v, ...(padded === undefined ? [] : [padded])]
  if (dropout !== undefined) {
    // The logits' shape, from the op's own shape rule (its checks first, naming the op).
    const out = attentionAval(inputs, { ...params, dropout: 0 })
    const logits = [...out.shape.slice(0, -1), k.shape.at(-2)!]
    const keys = keysOf(dropout.key)
    const kb = keys.shape.slice(0, -1)
    if (keys.dtype !== 'int32' || keys.shape.at(-1) !== 2)
      throw new T.DTypeError(
        NAME,
        `dropout.key must be a Key or an int32 key batch [..., 2]; got ${keys.dtype} ${T.fmtShape(keys.shape)}`,
      )
    if (kb.length > logits.length - 2 || kb.some((n, i) => n !== logits[i]))
      throw new T.ShapeError(
        NAME,
        `a dropout key batch of shape ${T.fmtShape(keys.shape)} needs its leading axes ${T.fmtShape(kb)} ` +
          `to be the logits' leading axes; the logits are ${T.fmtShape(logits)}`,
      )
    inputs.push(randomBernoulli(keys, 1 - dropout.rate, logits.slice(kb.length)))
  }
  return applyOp(scaledDotProductAttentionOp, inputs as unknown as AttentionInputs, params)
}

/** The dropout option checked; undefined when there is none to apply (absent, or rate 0). */
const checkDropout = (
  dropout: unknown,
): { readonly rate: number; readonly key: Key | Tensor } | undefined => {
  if (dropout === undefined) return undefined
  const { rate, key } = dropout as { rate?: unknown; key?: unknown }
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1))
    throw new T.ValueError(
      NAME,
      `dropout.rate must be a number with 0 <= rate < 1 (PyTorch's dropout_p), got ${String(rate)}`,
    )
  if (!T.random.isKey(key) && !T.isTensor(key))
    throw new T.ValueError(
      NAME,
      'dropout.key must be a Key (random.key(seed)) or an int32 key batch [..., 2]: it draws the dropout mask',
    )
  return rate === 0 ? undefined : { rate, key }
}
