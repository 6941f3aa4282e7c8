// dw = B_f(x, dy), bilinear ; x̄ = conv2dBackwardInput(dy, ct), d̄y = conv2d(x, ct)
import * as T from '@backfold/tensor'
import type { Conv2dOptions, Conv2dSpec, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { checkOptions } from '../core/options'
import { CONV2D_OPTIONS, convGeometry } from './poolOptions'
import { conv2d } from './conv2d'
import { conv2dBackwardInput } from './conv2dBackwardInput'

/** Parameters of the backward-filter op: the normalised geometry and the shape of conv2d's weights. @since 0.1.0 */
export interface Conv2dBackwardFilterParams extends Conv2dSpec {
  readonly wShape: ReadonlyArray<number>
}

/** The conv2dBackwardFilter op. @since 0.1.0 */
export const conv2dBackwardFilterOp = defineOp<Conv2dBackwardFilterParams>({
  name: 'conv2dBackwardFilter',
  forward: ([x, dy], p) => T.conv2dBackwardFilter(x!, dy!, p.wShape, p),
  vjp: (ct, [x, dy], _y, p) => {
    const geometry = convGeometry(p)
    return [conv2dBackwardInput(dy!, ct, x!.shape, geometry), conv2d(x!, ct, geometry)]
  },
})

/**
 * The gradient of `conv2d(x, w, opts)` with respect to `w`, given the output cotangent `dy`.
 * Takes the same options as `conv2d`.
 * @example
 * const dw = conv2dBackwardFilter(x, dy, w.shape, { padding: 1 })
 * @throws ShapeError when `dy` does not have conv2d's output shape for `x` and `wShape`.
 * @since 0.1.0
 */
export const conv2dBackwardFilter = (
  x: Tensor,
  dy: Tensor,
  wShape: ReadonlyArray<number>,
  opts?: Conv2dOptions,
): Tensor => {
  checkOptions('conv2dBackwardFilter', opts, CONV2D_OPTIONS)
  return applyOp(conv2dBackwardFilterOp, [x, dy], {
    ...T.conv2dSpec('conv2dBackwardFilter', x.shape, wShape, opts),
    wShape: [...wShape],
  })
}
