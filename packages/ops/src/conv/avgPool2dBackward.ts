// dx = each dy spread evenly over its window, linear ; d̄y = avgPool2d(ct)
import * as T from '@backfold/tensor'
import type { Pool2dOptions, Pool2dSpec, Tensor } from '@backfold/tensor'
import { applyOp, defineOp, type LoweredOp } from '../core/op'
import { batchPooling, foldExamples, foldedShape } from '../internal/foldBatch'
import { avgPool2dOp } from './avgPool2d'
import { checkOptions } from '../core/options'
import { POOL2D_OPTIONS, avalOf, poolOptions } from '../internal/poolOptions'
import { avgPool2dBackwardOnnx } from '../staging/onnx/conv'

/** Parameters of the avgPool2dBackward op: the normalised geometry and the shape of the pooled input. @since 0.1.0 */
export interface AvgPool2dBackwardParams extends Pool2dSpec {
  readonly xShape: ReadonlyArray<number>
}

/** The avgPool2dBackward op. @since 0.1.0 */
export const avgPool2dBackwardOp: LoweredOp<'avgPool2dBackward', [Tensor], AvgPool2dBackwardParams> =
  defineOp<'avgPool2dBackward', [Tensor], AvgPool2dBackwardParams>({
    name: 'avgPool2dBackward',
    forward: ([dy], p) => T.avgPool2dBackward(dy, p.xShape, poolOptions(p)),
    vjp: (ct, _xs, _y, p) => [
      applyOp(avgPool2dOp, [ct], { kernel: p.kernel, stride: p.stride, padding: p.padding }),
    ],
    // Per image and channel: the examples fold into N (or C) of dy and of the result alike.
    batch: (xs, axes, p, self) =>
      batchPooling(xs, axes, ([dy], fold) =>
        self([foldExamples(dy, axes[0], fold)], { ...p, xShape: foldedShape(p.xShape, fold) }),
      ),
    onnx: (b, [dy], p, { inputs: [ady], output }) => avgPool2dBackwardOnnx(b, dy, p, ady, output),
    abstract: ([dy], p) => avalOf(T.avgPool2dBackwardPlan(dy, p.xShape, poolOptions(p))),
  })

/**
 * The gradient of `avgPool2d(x, opts)` given the output cotangent `dy`: each `dy` element divided
 * by the window size and added over its window. The result has shape `xShape`.
 * @example
 * const dx = avgPool2dBackward(dy, x.shape, { kernelSize: 2 })
 * @throws ShapeError when `dy` does not have the pooled shape of `xShape`.
 * @since 0.1.0
 */
export const avgPool2dBackward = (dy: Tensor, xShape: ReadonlyArray<number>, opts: Pool2dOptions): Tensor => {
  checkOptions('avgPool2dBackward', opts, POOL2D_OPTIONS)
  return applyOp(avgPool2dBackwardOp, [dy], {
    ...T.pool2dSpec('avgPool2dBackward', xShape, opts),
    xShape: [...xShape],
  })
}
