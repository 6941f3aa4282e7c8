// y = src read at each window's first maximum of x, linear in src ; s̄rc = maxPool2dBackward(ct, x), x̄ = 0
import * as T from '@backfold/tensor'
import type { Pool2dOptions, Pool2dSpec, Tensor } from '@backfold/tensor'
import { applyOp, defineOp, type LoweredOp } from '../core/op'
import { batchPooling, foldExamples } from '../internal/foldBatch'
import { maxPool2dBackwardOp } from './maxPool2dBackward'
import { checkOptions } from '../core/options'
import { POOL2D_OPTIONS, avalOf, poolOptions } from '../internal/poolOptions'
import { maxPool2dSelectOnnx } from '../staging/onnx/conv'

/** The maxPool2dSelect op. @since 0.1.0 */
export const maxPool2dSelectOp: LoweredOp<'maxPool2dSelect', [Tensor, Tensor], Pool2dSpec> = defineOp<
  'maxPool2dSelect',
  [Tensor, Tensor],
  Pool2dSpec
>({
  name: 'maxPool2dSelect',
  forward: ([src, x], p) => T.maxPool2dSelect(src, x, poolOptions(p)),
  vjp: (ct, [, x], _y, p, needed) => [
    needed[0] ? applyOp(maxPool2dBackwardOp, [ct, x], p) : undefined,
    needed[1] ? T.zeros(x.shape, x.dtype) : undefined,
  ],
  // Per image and channel: src and x fold their examples into the same axis (a shared one broadcast).
  batch: (xs, axes, p, self) =>
    batchPooling(xs, axes, ([src, x], fold) =>
      self([foldExamples(src, axes[0], fold), foldExamples(x, axes[1], fold)], p),
    ),
  onnx: (b, [src, x], p, { inputs: [asrc], output }) => maxPool2dSelectOnnx(b, src, x, p, asrc, output),
  abstract: ([src, x], p) => avalOf(T.maxPool2dSelectPlan(src, x, poolOptions(p))),
})

/**
 * For each pooling window, `src` (shape of `x`) read where `x` has its first maximum: the pooled
 * shape. `maxPool2dSelect(x, x, opts)` equals `maxPool2d(x, opts)`. It is the adjoint of
 * `maxPool2dBackward` in `dy`, which makes max pooling twice differentiable.
 * @example
 * maxPool2dSelect(src, x, { kernelSize: 2 })
 * @throws ShapeError when `src` and `x` differ in shape.
 * @since 0.1.0
 */
export const maxPool2dSelect = (src: Tensor, x: Tensor, opts: Pool2dOptions): Tensor => {
  checkOptions('maxPool2dSelect', opts, POOL2D_OPTIONS)
  return applyOp(maxPool2dSelectOp, [src, x], T.pool2dSpec('maxPool2dSelect', x.shape, opts))
}
