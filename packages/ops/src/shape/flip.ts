// y = x with the order of its elements reversed along each axis of `axes` ; x̄ = ȳ flipped the same way
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { checkOptions, option, optionSchema } from '../core/options'

/** Options of `flip`: the axis or axes to reverse (required; negative counts from the end). @since 0.2.0 */
export interface FlipOptions {
  readonly axis: number | ReadonlyArray<number>
}

/** Parameters of the flip op: distinct non-negative axes, ascending. @since 0.2.0 */
export interface FlipParams {
  readonly axes: ReadonlyArray<number>
}

const FLIP_OPTIONS = optionSchema({ axis: option.required(option.axes) })

/** Flipping is its own inverse and transpose (a declaration: the op refers to itself). */
function flipAgain(ct: Tensor, p: FlipParams): Tensor {
  return applyOp(flipOp, [ct], p)
}

/** The flip op. @since 0.2.0 */
export const flipOp = defineOp<'flip', [Tensor], FlipParams>({
  name: 'flip',
  // A slice with step -1 along each flipped axis.
  forward: ([x], p) =>
    T.slice(
      x,
      x.shape.map((_, i) => (p.axes.includes(i) ? { step: -1 } : undefined)),
    ),
  vjp: (ct, _xs, _y, p) => [flipAgain(ct, p)],
  abstract: ([x]) => ({ shape: [...x.shape], dtype: x.dtype }),
  // A Slice with step −1 from the last element past the first (an end below −size clamps to before 0).
  onnx: (b, [x], p, { inputs: [ax] }) => {
    const axes = p.axes.filter((a) => (ax.shape[a] ?? 0) > 1)
    if (axes.length === 0) return b.node('Identity', [x])
    return b.node('Slice', [
      x,
      b.int64s(axes.map(() => -1)),
      b.int64s(axes.map((a) => -(ax.shape[a] ?? 0) - 1)),
      b.int64s(axes),
      b.int64s(axes.map(() => -1)),
    ])
  },
  // The flipped axes are renumbered around the examples' axis, which stays where it is.
  batch: ([x], [b], p, self) => {
    const at = b ?? 0
    return [self([x], { axes: p.axes.map((a) => (a >= at ? a + 1 : a)) }), at]
  },
})

/**
 * Reverses the order of the elements of `x` along `axis` (one axis or several). Keeps shape and dtype.
 * @example
 * flip(tensor([[1, 2], [3, 4]]), { axis: 1 })      // [[2, 1], [4, 3]]
 * flip(tensor([[1, 2], [3, 4]]), { axis: [0, 1] }) // [[4, 3], [2, 1]]
 * @throws ValueError for an axis out of range or named twice.
 * @since 0.2.0
 */
export const flip = (x: Tensor, opts: FlipOptions): Tensor => {
  checkOptions('flip', opts, FLIP_OPTIONS)
  const axes = T.normalizeAxes('flip', opts.axis, x.shape.length)
  return applyOp(flipOp, [x], { axes })
}
