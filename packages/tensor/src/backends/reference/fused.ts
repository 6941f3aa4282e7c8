import type { AdamHyperparameters } from '../../kernels/optim'
import { allocate, type TypedArray } from '../../dtype'
import { sizeOf } from '../../shape'
import { unsafeTensor, type Tensor } from '../../tensor'

// One loop per kernel over same-shape float operands (validated by the public kernels). Values are
// computed as JS numbers (float64) and rounded once by the typed-array store.

/** `alpha · x + y`. @since 0.1.0 */
export const axpy = (alpha: number, x: Tensor, y: Tensor): Tensor => {
  const xs = x.data
  const ys = y.data
  const n = xs.length
  const out = allocate(x.dtype, n)
  for (let i = 0; i < n; i++) out[i] = alpha * xs[i]! + ys[i]!
  return unsafeTensor(x.dtype, x.shape, out)
}

/** `y > 0 ? ct : 0`. @since 0.1.0 */
export const reluGrad = (ct: Tensor, y: Tensor): Tensor => {
  const cs = ct.data
  const ys = y.data
  const n = cs.length
  const out = allocate(ct.dtype, n)
  for (let i = 0; i < n; i++) out[i] = ys[i]! > 0 ? cs[i]! : 0
  return unsafeTensor(ct.dtype, ct.shape, out)
}

/** One Adam step; see `adamUpdate` and `adamApply` in kernels/optim.ts. @since 0.1.0 */
export const adamUpdate = (
  g: Tensor,
  m: Tensor,
  v: Tensor,
  hyper: AdamHyperparameters,
  p?: Tensor,
): readonly [Tensor, Tensor, Tensor] => {
  const { b1, b2, eps, epsRoot, muCorrection, nuCorrection, scale = 1 } = hyper
  const gs = g.data
  const ms = m.data
  const vs = v.data
  const ps = p?.data
  const n = gs.length
  const mu = allocate(g.dtype, n)
  const nu = allocate(g.dtype, n)
  const out = allocate(g.dtype, n)
  const c1 = 1 - b1
  const c2 = 1 - b2
  // Products with reciprocals, not divisions: float64 division and square root are the slow
  // instructions here (one of each per element is left).
  const mHat = scale / muCorrection
  const vHat = 1 / nuCorrection
  for (let i = 0; i < n; i++) {
    const gi = gs[i]!
    mu[i] = b1 * ms[i]! + c1 * gi
    nu[i] = b2 * vs[i]! + c2 * gi * gi
    // From the stored (rounded) moments, so the update is a function of the state alone.
    const update = (mHat * mu[i]!) / (Math.sqrt(vHat * nu[i]! + epsRoot) + eps)
    // With parameters: their new value, rounded once (not the rounded update added and rounded again).
    out[i] = ps === undefined ? update : ps[i]! + update
  }
  return [
    unsafeTensor(g.dtype, g.shape, mu),
    unsafeTensor(g.dtype, g.shape, nu),
    unsafeTensor(g.dtype, g.shape, out),
  ]
}

/**
 * logsumexp of `data[start .. start + n)` as the reduce kernel computes it: the maximum, then
 * max + log Σ exp(x − max); an infinite or NaN maximum is the result itself.
 */
const rowLogSumExp = (data: TypedArray, start: number, n: number): number => {
  let best = -Infinity
  for (let j = 0; j < n; j++) {
    const v = data[start + j]!
    if (v > best || v !== v) best = v
  }
  if (best === Infinity || best === -Infinity || best !== best) return best
  let sum = 0
  for (let j = 0; j < n; j++) sum += Math.exp(data[start + j]! - best)
  return best + Math.log(sum)
}

/** Softmax cross-entropy per row of the last axis. @since 0.1.0 */
export const softmaxCrossEntropy = (logits: Tensor, labels: Tensor): Tensor => {
  const classes = logits.shape[logits.shape.length - 1]!
  const ls = logits.data
  const ys = labels.data
  const rows = classes === 0 ? sizeOf(logits.shape.slice(0, -1)) : ls.length / classes
  const out = allocate(logits.dtype, rows)
  for (let r = 0; r < rows; r++) {
    const start = r * classes
    const lse = rowLogSumExp(ls, start, classes)
    let loss = 0
    for (let j = 0; j < classes; j++) {
      const y = ys[start + j]!
      // A label-0 class adds 0 even where its logit is −∞ (not 0 · ∞ = NaN).
      if (y !== 0) loss += y * (lse - ls[start + j]!)
    }
    out[r] = loss
  }
  return unsafeTensor(logits.dtype, logits.shape.slice(0, -1), out)
}

/** The logits' cotangent of `softmaxCrossEntropy`: ct · (softmax · Σ labels − labels) per row. @since 0.1.0 */
export const softmaxCrossEntropyGrad = (ct: Tensor, logits: Tensor, labels: Tensor): Tensor => {
  const classes = logits.shape[logits.shape.length - 1]!
  const ls = logits.data
  const ys = labels.data
  const cs = ct.data
  const out = allocate(logits.dtype, ls.length)
  for (let r = 0; r < cs.length; r++) {
    const start = r * classes
    const lse = rowLogSumExp(ls, start, classes)
    let mass = 0
    for (let j = 0; j < classes; j++) mass += ys[start + j]!
    const c = cs[r]!
    for (let j = 0; j < classes; j++)
      out[start + j] = c * (Math.exp(ls[start + j]! - lse) * mass - ys[start + j]!)
  }
  return unsafeTensor(logits.dtype, logits.shape, out)
}
