// y = min(max(x, lo), hi) ; x̄ = ȳ [lo ≤ x ≤ hi]
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { greaterEqual } from '../binary/greaterEqual'
import { lessEqual } from '../binary/lessEqual'
import { mul } from '../binary/mul'
import { where } from '../binary/where'

/** Parameters of the `clip` op: the bounds, lo <= hi (either may be infinite). @since 0.1.0 */
export interface ClipParams {
  readonly lo: number
  readonly hi: number
}

/** The `clip` op. @since 0.1.0 */
export const clipOp = defineOp<'clip', [Tensor], ClipParams>({
  name: 'clip',
  forward: ([x], { lo, hi }) => {
    // An infinite bound clips nothing; skipping it also keeps int32 inputs away from ±∞ scalars.
    const floored = lo === -Infinity ? x : T.maximum(x, lo)
    return hi === Infinity ? floored : T.minimum(floored, hi)
  },
  // The forward's kernels, through their shape function: a non-integer bound makes an int32 x float32.
  abstract: ([x], { lo, hi }) => {
    const floored = lo === -Infinity ? x : T.binaryOutput('maximum', x, lo)
    const clipped = hi === Infinity ? floored : T.binaryOutput('minimum', floored, hi)
    return { shape: clipped.shape, dtype: clipped.dtype }
  },
  vjp: (ct, [x], _y, { lo, hi }) => [where(mul(greaterEqual(x, lo), lessEqual(x, hi)), ct, 0)],
  batch: batchElementwise,
  // max then min, as forward (Clip would need bounds of x's dtype; an infinite bound is skipped).
  onnx: (b, [x], { lo, hi }, { inputs: [ax], output }) => {
    const v = b.cast(x, ax.dtype, output.dtype)
    const floored = lo === -Infinity ? v : b.node('Max', [v, b.scalar(lo, output.dtype)])
    return hi === Infinity ? floored : b.node('Min', [floored, b.scalar(hi, output.dtype)])
  },
})

/**
 * Limits every element to `[lo, hi]` (NaN stays NaN). The bounds take `x`'s dtype, except that a finite
 * bound that is not an int32 value (0.5, 1e10) makes an int32 `x` float32, as in JAX: `clip(x, 0.5, 3)`
 * of int32 [-5, 0, 5] is float32 [0.5, 0.5, 3], not a bound truncated to 0.
 * Gradient convention (PyTorch's): the gradient passes where lo <= x <= hi, boundaries included,
 * and is 0 outside.
 * @example
 * clip(tensor([-2, 0.5, 3]), 0, 1) // [0, 0.5, 1]
 * @throws ValueError when lo > hi or a bound is NaN.
 * @since 0.1.0
 */
export const clip = (x: Tensor, lo: number, hi: number): Tensor => {
  if (!(lo <= hi))
    throw new T.ValueError(
      'clip',
      `lo ${lo} and hi ${hi} (x of shape ${T.fmtShape(x.shape)}) are not an interval; expected lo <= hi, neither NaN`,
    )
  return applyOp(clipOp, [x], { lo, hi })
}
