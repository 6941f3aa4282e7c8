// dx = Bᵢ(dy, w), bilinear ; d̄y = conv2d(ct, w), w̄ = conv2dBackwardFilter(ct, dy)
import * as T from '@backfold/tensor'
import type { Conv2dOptions, Conv2dSpec, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { checkOptions } from '../core/options'
import { CONV2D_OPTIONS, convGeometry } from './poolOptions'
import { conv2d } from './conv2d'
import { conv2dBackwardFilter } from './conv2dBackwardFilter'

/** Parameters of the backward-input op: the normalised geometry and the shape of conv2d's input. @since 0.1.0 */
export interface Conv2dBackwardInputParams extends Conv2dSpec {
  readonly xShape: ReadonlyArray<number>
}

/** The conv2dBackwardInput op. @since 0.1.0 */
export const conv2dBackwardInputOp = defineOp<Conv2dBackwardInputParams>({
  name: 'conv2dBackwardInput',
  forward: ([dy, w], p) => T.conv2dBackwardInput(dy!, w!, p.xShape, p),
  vjp: (ct, [dy, w], _y, p) => {
    const geometry = convGeometry(p)
    return [conv2d(ct, w!, geometry), conv2dBackwardFilter(ct, dy!, w!.shape, geometry)]
  },
})

/**
 * The gradient of `conv2d(x, w, opts)` with respect to `x`, given the output cotangent `dy`
 * (a transposed convolution). `xShape` is needed because strided convolutions map several input
 * sizes to one output size. Takes the same options as `conv2d`.
 * @example
 * const dx = conv2dBackwardInput(dy, w, x.shape, { stride: 2 })
 * @throws ShapeError when `dy` does not have conv2d's output shape for `xShape` and `w`.
 * @since 0.1.0
 */
export const conv2dBackwardInput = (
  dy: Tensor,
  w: Tensor,
  xShape: ReadonlyArray<number>,
  opts?: Conv2dOptions,
): Tensor => {
  checkOptions('conv2dBackwardInput', opts, CONV2D_OPTIONS)
  return applyOp(conv2dBackwardInputOp, [dy, w], {
    ...T.conv2dSpec('conv2dBackwardInput', xShape, w.shape, opts),
    xShape: [...xShape],
  })
}
