// y = mean over each window (padding counts) ; x̄ = avgPool2dBackward(ȳ)
import * as T from '@backfold/tensor'
import type { Pool2dOptions, Pool2dSpec, Tensor } from '@backfold/tensor'
import { applyOp, defineOp, type LoweredOp } from '../core/op'
import { batchPooling, foldExamples } from '../internal/foldBatch'
import { avgPool2dBackwardOp } from './avgPool2dBackward'
import { checkOptions } from '../core/options'
import { POOL2D_OPTIONS, avalOf, poolOptions } from '../internal/poolOptions'
import { avgPool2dOnnx } from '../staging/onnx/conv'

/** The avgPool2d op; its parameters are the normalised pooling geometry. @since 0.1.0 */
export const avgPool2dOp: LoweredOp<'avgPool2d', [Tensor], Pool2dSpec> = defineOp<
  'avgPool2d',
  [Tensor],
  Pool2dSpec
>({
  name: 'avgPool2d',
  forward: ([x], p) => T.avgPool2d(x, poolOptions(p)),
  vjp: (ct, [x], _y, p) => [applyOp(avgPool2dBackwardOp, [ct], { ...p, xShape: [...x.shape] })],
  // Pooled per image and channel: the examples fold into N (or C).
  batch: (xs, axes, p, self) =>
    batchPooling(xs, axes, ([x], fold) => self([foldExamples(x, axes[0], fold)], p)),
  onnx: (b, [x], p, { inputs: [ax], output }) => avgPool2dOnnx(b, b.cast(x, ax.dtype, output.dtype), p),
  abstract: ([x], p) => avalOf(T.avgPool2dPlan(x, poolOptions(p))),
})

/**
 * Average pooling over the two spatial axes of NCHW `x`. Options as the tensor kernel's:
 * `kernelSize`, `stride` (default `kernelSize`) and `padding`; padded positions count in the
 * divisor (PyTorch's default `count_include_pad=True`).
 * @example
 * avgPool2d(images, { kernelSize: 2 }) // halves height and width
 * @throws ShapeError unless `x` is rank 4; ValueError for bad kernel, stride or padding.
 * @since 0.1.0
 */
export const avgPool2d = (x: Tensor, opts: Pool2dOptions): Tensor => {
  checkOptions('avgPool2d', opts, POOL2D_OPTIONS)
  return applyOp(avgPool2dOp, [x], T.pool2dSpec('avgPool2d', x.shape, opts))
}
