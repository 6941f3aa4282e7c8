// y = max over each window ; x̄ = maxPool2dBackward(ȳ, x) (to the first maximum of each window)
import * as T from '@backfold/tensor'
import type { Pool2dOptions, Pool2dSpec, Tensor } from '@backfold/tensor'
import { applyOp, defineOp, type LoweredOp } from '../core/op'
import { batchPooling, foldExamples } from '../internal/foldBatch'
import { maxPool2dBackwardOp } from './maxPool2dBackward'
import { checkOptions } from '../core/options'
import { POOL2D_OPTIONS, avalOf, poolOptions } from '../internal/poolOptions'
import { maxPool2dOnnx } from '../staging/onnx/conv'

/** The maxPool2d op; its parameters are the normalised pooling geometry. @since 0.1.0 */
export const maxPool2dOp: LoweredOp<'maxPool2d', [Tensor], Pool2dSpec> = defineOp<
  'maxPool2d',
  [Tensor],
  Pool2dSpec
>({
  name: 'maxPool2d',
  forward: ([x], p) => T.maxPool2d(x, poolOptions(p)),
  vjp: (ct, [x], _y, p) => [applyOp(maxPool2dBackwardOp, [ct, x], p)],
  // Pooled per image and channel: the examples fold into N (or C).
  batch: (xs, axes, p, self) =>
    batchPooling(xs, axes, ([x], fold) => self([foldExamples(x, axes[0], fold)], p)),
  onnx: (b, [x], p, { inputs: [ax], output }) => maxPool2dOnnx(b, b.cast(x, ax.dtype, output.dtype), p),
  abstract: ([x], p) => avalOf(T.maxPool2dPlan(x, poolOptions(p))),
})

/**
 * Max pooling over the two spatial axes of NCHW `x`. Options as the tensor kernel's: `kernelSize`,
 * `stride` (default `kernelSize`) and `padding` (padded positions never win). Gradient convention
 * (PyTorch's): each window's cotangent goes to its first maximum in row-major order.
 * Twice differentiable.
 * @example
 * maxPool2d(images, { kernelSize: 2 })                         // halves height and width
 * maxPool2d(images, { kernelSize: 3, stride: 2, padding: 1 })
 * @throws ShapeError unless `x` is rank 4; ValueError for bad kernel, stride or padding.
 * @since 0.1.0
 */
export const maxPool2d = (x: Tensor, opts: Pool2dOptions): Tensor => {
  checkOptions('maxPool2d', opts, POOL2D_OPTIONS)
  return applyOp(maxPool2dOp, [x], T.pool2dSpec('maxPool2d', x.shape, opts))
}
