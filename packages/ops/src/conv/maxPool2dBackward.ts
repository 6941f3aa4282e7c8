// dx = route(dy, argmax windows of x), linear in dy ; d̄y = maxPool2dSelect(ct, x), x̄ = 0 (piecewise constant in x)
import * as T from '@backfold/tensor'
import type { Pool2dOptions, Pool2dSpec, Tensor } from '@backfold/tensor'
import { applyOp, defineOp, type LoweredOp } from '../core/op'
import { batchPooling, foldExamples } from '../internal/foldBatch'
import { maxPool2dSelectOp } from './maxPool2dSelect'
import { checkOptions } from '../core/options'
import { POOL2D_OPTIONS, avalOf, poolOptions } from '../internal/poolOptions'
import { maxPool2dBackwardOnnx } from '../staging/onnx/conv'

/** The maxPool2dBackward op. @since 0.1.0 */
export const maxPool2dBackwardOp: LoweredOp<'maxPool2dBackward', [Tensor, Tensor], Pool2dSpec> = defineOp<
  'maxPool2dBackward',
  [Tensor, Tensor],
  Pool2dSpec
>({
  name: 'maxPool2dBackward',
  forward: ([dy, x], p) => T.maxPool2dBackward(dy, x, poolOptions(p)),
  vjp: (ct, [, x], _y, p, needed) => [
    needed[0] ? applyOp(maxPool2dSelectOp, [ct, x], p) : undefined,
    needed[1] ? T.zeros(x.shape, x.dtype) : undefined,
  ],
  // Per image and channel: dy and x fold their examples into the same axis (a shared one is
  // broadcast, since each example routes its own dy through the same x).
  batch: (xs, axes, p, self) =>
    batchPooling(xs, axes, ([dy, x], fold) =>
      self([foldExamples(dy, axes[0], fold), foldExamples(x, axes[1], fold)], p),
    ),
  onnx: (b, [dy, x], p, { inputs: [ady], output }) => maxPool2dBackwardOnnx(b, dy, x, p, ady, output),
  abstract: ([dy, x], p) => avalOf(T.maxPool2dBackwardPlan(dy, x, poolOptions(p))),
})

/**
 * The gradient of `maxPool2d(x, opts)` given the output cotangent `dy`: each `dy` element is added
 * at the first maximum of its window (shape of `x`). Differentiable in `dy`; its derivative in `x`
 * is zero almost everywhere.
 * @example
 * const dx = maxPool2dBackward(dy, x, { kernelSize: 2 })
 * @throws ShapeError when `dy` does not have the pooled shape of `x`.
 * @since 0.1.0
 */
export const maxPool2dBackward = (dy: Tensor, x: Tensor, opts: Pool2dOptions): Tensor => {
  checkOptions('maxPool2dBackward', opts, POOL2D_OPTIONS)
  return applyOp(maxPool2dBackwardOp, [dy, x], T.pool2dSpec('maxPool2dBackward', x.shape, opts))
}
