// y = x ⋆ w (NCHW, OIHW) ; x̄ = conv2dBackwardInput(ȳ, w), w̄ = conv2dBackwardFilter(x, ȳ)
import * as T from '@backfold/tensor'
import type { Conv2dOptions, Conv2dSpec, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { checkOptions } from '../core/options'
import { CONV2D_OPTIONS } from './poolOptions'
import { conv2dBackwardFilter } from './conv2dBackwardFilter'
import { conv2dBackwardInput } from './conv2dBackwardInput'

/** The conv2d op; its parameters are the normalised geometry (explicit padding, pairs). @since 0.1.0 */
export const conv2dOp = defineOp<Conv2dSpec>({
  name: 'conv2d',
  // A normalised spec is itself valid options (padding as [top, bottom, left, right]).
  forward: ([x, w], p) => T.conv2d(x!, w!, p),
  // The first layer's input is the data: its cotangent is skipped when not needed.
  vjp: (ct, [x, w], _y, p, needed) => [
    needed[0] !== false ? conv2dBackwardInput(ct, w!, x!.shape, p) : undefined,
    needed[1] !== false ? conv2dBackwardFilter(x!, ct, w!.shape, p) : undefined,
  ],
})

/**
 * 2-D convolution (cross-correlation, as in every deep-learning framework) of `x` (NCHW) with
 * weights `w` (OIHW, one group), with the same options as the tensor kernel: `stride`, `padding`
 * (a number, `[h, w]`, `[top, bottom, left, right]`, `'same'` or `'valid'`) and `dilation`.
 * Twice differentiable: the backward convolutions are ops whose VJPs are convolutions again.
 * @example
 * const y = conv2d(images, kernels, { stride: 2, padding: 'same' }) // [n, o, ceil(h/2), ceil(w/2)]
 * @throws ShapeError for wrong ranks or a channel mismatch; ValueError for an unknown option (there
 * is no `groups`) or a bad stride, padding or dilation.
 * @since 0.1.0
 */
export const conv2d = (x: Tensor, w: Tensor, opts?: Conv2dOptions): Tensor => {
  checkOptions('conv2d', opts, CONV2D_OPTIONS)
  return applyOp(conv2dOp, [x, w], T.conv2dSpec('conv2d', x.shape, w.shape, opts))
}
