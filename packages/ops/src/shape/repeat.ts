// y = each element of x repeated r times in place along axis ; x̄ = ȳ viewed as [..., n, r, ...] summed over r
import * as T from '@backfold/tensor'
import type { Shape, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { checkOptions, option, optionSchema } from '../core/options'
import { reshape } from './reshape'
import { sum } from '../reduce/sum'

/** Options of `repeat`: the axis along which to repeat each element (required). @since 0.2.0 */
export interface RepeatOptions {
  readonly axis: number
}

/** Parameters of the repeat op: the count and a non-negative axis. @since 0.2.0 */
export interface RepeatParams {
  readonly repeats: number
  readonly axis: number
}

const REPEAT_OPTIONS = optionSchema({ axis: option.required(option.axis) })

/**
 * The output shape of `repeat` for `x` of shape `inShape` (axis already non-negative).
 * @example
 * repeatShape([2, 3], 2, 1) // [2, 6]
 * @since 0.2.0
 */
export const repeatShape = (inShape: Shape, repeats: number, axis: number): number[] =>
  inShape.map((d, i) => (i === axis ? d * repeats : d))

/** The repeat op. @since 0.2.0 */
export const repeatOp = defineOp<'repeat', [Tensor], RepeatParams>({
  name: 'repeat',
  // A new axis of size 1 after `axis`, broadcast to `repeats`, merged into `axis`.
  forward: ([x], p) => {
    const pre = x.shape.slice(0, p.axis + 1)
    const post = x.shape.slice(p.axis + 1)
    const spread = T.broadcastTo(T.reshape(x, [...pre, 1, ...post]), [...pre, p.repeats, ...post])
    return T.reshape(spread, repeatShape(x.shape, p.repeats, p.axis))
  },
  vjp: (ct, [x], _y, p) => {
    const pre = x.shape.slice(0, p.axis + 1)
    const post = x.shape.slice(p.axis + 1)
    return [sum(reshape(ct, [...pre, p.repeats, ...post]), { axis: p.axis + 1 })]
  },
  abstract: ([x], p) => ({ shape: repeatShape(x.shape, p.repeats, p.axis), dtype: x.dtype }),
  // As forward: a size-1 axis after `axis`, expanded to `repeats`, merged into `axis`.
  onnx: (b, [x], p, { inputs: [ax], output }) => {
    // No copies: an empty slice (ONNX Runtime's Expand does not broadcast a 1 to a 0).
    if (p.repeats === 0) return b.node('Slice', [x, b.int64s([0]), b.int64s([0]), b.int64s([p.axis])])
    const pre = ax.shape.slice(0, p.axis + 1)
    const post = ax.shape.slice(p.axis + 1)
    const spread = b.node('Expand', [
      b.node('Reshape', [x, b.int64s([...pre, 1, ...post])], { allowzero: 1 }),
      b.int64s([...pre, p.repeats, ...post]),
    ])
    return b.node('Reshape', [spread, b.int64s(output.shape)], { allowzero: 1 })
  },
  batch: ([x], [b], p, self) => {
    const at = b ?? 0
    return [self([x], { repeats: p.repeats, axis: p.axis >= at ? p.axis + 1 : p.axis }), at]
  },
})

/**
 * Repeats each element of `x` `repeats` times in place along `axis`, as NumPy's `repeat` with one
 * count (PyTorch's `repeat_interleave`). Per-element counts are not supported: give one integer.
 * @example
 * repeat(tensor([1, 2]), 2, { axis: 0 }) // [1, 1, 2, 2]
 * @throws ValueError when `repeats` is not a non-negative integer, or for a bad axis.
 * @since 0.2.0
 */
export const repeat = (x: Tensor, repeats: number, opts: RepeatOptions): Tensor => {
  checkOptions('repeat', opts, REPEAT_OPTIONS)
  if (!Number.isInteger(repeats) || repeats < 0)
    throw new T.ValueError(
      'repeat',
      `repeats must be a non-negative integer, got ${String(repeats)} (per-element counts are not supported)`,
    )
  return applyOp(repeatOp, [x], { repeats, axis: T.normalizeAxis('repeat', opts.axis, x.shape.length) })
}
