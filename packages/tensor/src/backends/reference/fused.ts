import type { AdamHyperparameters } from '../../kernels/optim'
import { allocate } from '../../dtype'
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
