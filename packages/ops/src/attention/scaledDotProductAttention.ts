// O = P v, P = softmax(s · q kᵀ + M) (rows with every key masked: P = 0) ;
// v̄ = Pᵀ Ō, P̄ = Ō vᵀ, S̄ = P ⊙ (P̄ − rowsum(P̄ ⊙ P)), q̄ = s S̄ k, k̄ = s S̄ᵀ q, M̄ = S̄ (additive mask)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
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
import { reductionProgram } from '../reduce/reductionProgram'
import { reshape } from '../shape/reshape'
import type { OnnxBuilder } from '../staging/onnx/builder'
import { swapLastTwo } from '../staging/onnx/rules'

const NAME = 'scaledDotProductAttention'

/** Parameters of the attention op: the logit scale and whether keys after the query's position are masked. @since 0.2.0 */
export interface AttentionParams {
  readonly scale: number
  readonly causal: boolean
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
}

const OPTIONS = optionSchema({ mask: option.anything, causal: option.boolean, scale: option.number })

/** The inputs: q, k, v, then the mask if there is one. */
type AttentionInputs = readonly [Tensor, Tensor, Tensor, ...Tensor[]]

/** The output's shape and dtype, with every check the forward needs (one rule for eager and staged). */
const attentionAval = (xs: ReadonlyArray<Aval>): Aval => {
  const [q, k, v, mask] = xs
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
  return { shape: [...batch, lq, dv], dtype: q!.dtype }
}

/** int32 [Lq, Lk]: 1 where query i may see key j, i.e. j <= i + (Lk − Lq). A constant, not traced. */
const causalMask = (lq: number, lk: number): Tensor => {
  const data = new Int32Array(lq * lk)
  for (let i = 0; i < lq; i++) for (let j = 0; j < lk; j++) data[i * lk + j] = j <= i + lk - lq ? 1 : 0
  return T.unsafeTensor('int32', [lq, lk], data)
}

/**
 * Whether every query sees at least one key, so no row of the probabilities is all masked: no mask
 * input, and causal only when there are at least as many keys as queries (query i sees keys
 * 0 … i + Lk − Lq).
 */
const everyRowAttends = (xs: ReadonlyArray<Aval>, p: AttentionParams): boolean =>
  xs[3] === undefined && (!p.causal || xs[1]!.shape.at(-2)! >= xs[0]!.shape.at(-2)!)

/** [Lq, Lk] in `dtype`: 0 where query i may see key j (j <= i + (Lk − Lq)), −∞ elsewhere. */
const additiveCausalMask = (lq: number, lk: number, dtype: T.DType): Tensor => {
  const data = new Float64Array(lq * lk)
  for (let i = 0; i < lq; i++)
    for (let j = 0; j < lk; j++) data[i * lk + j] = j <= i + lk - lq ? 0 : -Infinity
  return T.astype(T.unsafeTensor('float64', [lq, lk], data), dtype)
}

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
 * The forward pass when every row attends (see `everyRowAttends`): the product, one elementwise
 * program for the scale (and the causal mask, added as 0 / −∞), two row programs for the softmax,
 * the product with v. A few passes over the logits instead of a dozen kernels; the same values
 * within float rounding (each program computes in float64 and rounds once).
 */
const attendEveryRow = ([q, k, v]: AttentionInputs, p: AttentionParams): Tensor => {
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
  return T.matmul(T.reductionProgram(NORMALISE, [T.reductionProgram(SHIFTED_EXP, [logits])]), v)
}

/** The masked, scaled logits with kernels (forward) — the same steps as `logitsWithOps`. */
const logitsWithKernels = ([q, k, , mask]: AttentionInputs, p: AttentionParams): Tensor => {
  let s = T.mul(T.matmul(q, k, { transposeB: true }), p.scale)
  if (mask !== undefined)
    s = mask.dtype === 'int32' ? T.where(T.notEqual(mask, 0), s, -Infinity) : T.add(s, mask)
  if (p.causal) s = T.where(causalMask(q.shape.at(-2)!, k.shape.at(-2)!), s, -Infinity)
  return s
}

/** The masked, scaled logits with ops (VJP, recomputation) — the same steps as `logitsWithKernels`. */
const logitsWithOps = ([q, k, , mask]: AttentionInputs, p: AttentionParams): Tensor => {
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

/** The attention op (inputs q, k, v and optionally the mask). @since 0.2.0 */
export const scaledDotProductAttentionOp = defineOp<typeof NAME, AttentionInputs, AttentionParams>({
  name: 'scaledDotProductAttention',
  forward: (xs, p) => {
    attentionAval(xs)
    if (everyRowAttends(xs, p)) return attendEveryRow(xs, p)
    const s = logitsWithKernels(xs, p)
    const axis = s.shape.length - 1
    const valid = T.greater(T.max(s, { axes: axis, keepDims: true }), -Infinity)
    const safe = T.where(valid, s, 0)
    const e = T.exp(T.sub(safe, T.max(safe, { axes: axis, keepDims: true })))
    const probs = T.where(valid, T.div(e, T.sum(e, { axes: axis, keepDims: true })), 0)
    return T.matmul(probs, xs[2])
  },
  abstract: (xs) => attentionAval(xs),
  // Memory-saving: nothing from the forward pass is kept but the inputs; P is recomputed here.
  vjp: (ct, xs, _y, p, needed) => {
    const [q, k, v, mask] = xs
    const logits = logitsWithOps(xs, p)
    // No all-masked row to guard against: the softmax as the forward's two row programs (as ops, so
    // differentiable; staged, the exponentials are computed once, see SHIFTED_EXP).
    const probs = everyRowAttends(xs, p)
      ? reductionProgram(NORMALISE, [reductionProgram(SHIFTED_EXP, [logits])])
      : probabilitiesWithOps(logits)
    const mm = (a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor =>
      applyOp(matmulOp, [a, b], { transposeA, transposeB })
    const dv = needed[2] ? unbroadcast(mm(probs, ct, true, false), v.shape) : undefined
    const needS =
      needed[0] || needed[1] || (mask !== undefined && mask.dtype !== 'int32' && needed[3] === true)
    if (!needS) return [undefined, undefined, dv, ...(mask === undefined ? [] : [undefined])] as const
    const dp = mm(ct, v, false, true)
    const ds = mul(probs, sub(dp, sum(mul(dp, probs), { axis: probs.shape.length - 1, keepDims: true })))
    const dq = needed[0] ? unbroadcast(mul(mm(ds, k, false, false), p.scale), q.shape) : undefined
    const dk = needed[1] ? unbroadcast(mul(mm(ds, q, true, false), p.scale), k.shape) : undefined
    if (mask === undefined) return [dq, dk, dv] as const
    // An int32 mask is never differentiated (the fold does not ask); an additive one gets S̄.
    return [
      dq,
      dk,
      dv,
      mask.dtype === 'int32' || needed[3] !== true ? undefined : unbroadcast(ds, mask.shape),
    ]
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
  [q, k, v, mask]: ReadonlyArray<string>,
  p: AttentionParams,
  avals: ReadonlyArray<Aval>,
): string => {
  const [aq, ak, , amask] = avals
  const dtype = aq!.dtype
  const minusInf = b.scalar(-Infinity, dtype)
  const zero = b.scalar(0, dtype)
  // q kᵀ: ONNX Runtime fuses a Transpose into its MatMul as FusedMatMul, which has no float64
  // kernel, so float64 takes an Einsum (batch axes broadcast in both).
  const qk =
    dtype === 'float64'
      ? b.node('Einsum', [q!, k!], { equation: '...id,...jd->...ij' })
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
  const probs = b.node('Where', [
    valid,
    b.node('Div', [e, b.node('ReduceSum', [e, b.int64s(last)], { keepdims: 1 })]),
    zero,
  ])
  return b.node('MatMul', [probs, v!])
}

/**
 * Batching: every input keeps two core axes ([L, d] or the mask's [Lq, Lk]) and broadcasts its
 * leading ones, so the examples fold into one more leading batch axis: each mapped input gets them
 * at axis 0, padded with size-1 axes to the common batch rank; unmapped inputs broadcast as they are.
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
    const missing = batchRank - (x.shape.length - 3)
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
 *
 * The VJP keeps no probabilities: it recomputes them from q and k (the memory-saving rule), and is
 * written with ops, so it can itself be differentiated.
 * @example
 * import * as T from '@backfold/tensor'
 * import { scaledDotProductAttention } from '@backfold/ops'
 * const [q, k, v] = [T.ones([1, 2, 4, 8]), T.ones([1, 2, 4, 8]), T.ones([1, 2, 4, 8])] // [B, H, L, d]
 * const out = scaledDotProductAttention(q, k, v, { causal: true }) // [1, 2, 4, 8]
 * @throws ShapeError for ranks below 2, mismatched d or key counts, or a mask that does not broadcast;
 *   DTypeError unless q, k, v share a float dtype and the mask is int32 or that dtype; ValueError
 *   for an unknown option or a non-finite scale.
 * @since 0.2.0
 */
export const scaledDotProductAttention = (
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttentionOptions = {},
): Tensor => {
  checkOptions(NAME, opts, OPTIONS)
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
  const params = { scale, causal: opts.causal === true }
  return padded === undefined
    ? applyOp(scaledDotProductAttentionOp, [q, k, v], params)
    : applyOp(scaledDotProductAttentionOp, [q, k, v, padded], params)
}
