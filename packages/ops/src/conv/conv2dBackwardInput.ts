// dx = Bᵢ(dy, w), bilinear ; d̄y = conv2d(ct, w), w̄ = conv2dBackwardFilter(ct, dy)
import * as T from '@backfold/tensor'
import type { Conv2dOptions, Conv2dSpec, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { moveAxis } from '../core/batching'
import { foldExamples, foldFor, foldedShape, fromPatches, unfoldExamples } from '../internal/foldBatch'
import { matmul } from '../linalg/matmul'
import { reshape } from '../shape/reshape'
import { checkOptions } from '../core/options'
import { CONV2D_OPTIONS, avalOf, convGeometry } from '../internal/poolOptions'
import { conv2d } from './conv2d'
import { conv2dBackwardFilter } from './conv2dBackwardFilter'
import { conv2dBackwardInputOnnx } from '../staging/onnx/conv'
import { channelFold, groupsOf, ungrouped } from './groups'

/** Parameters of the backward-input op: the normalised geometry and the shape of conv2d's input. @since 0.1.0 */
export interface Conv2dBackwardInputParams extends Conv2dSpec {
  readonly xShape: ReadonlyArray<number>
}

/** The conv2dBackwardInput op. @since 0.1.0 */
export const conv2dBackwardInputOp = defineOp<
  'conv2dBackwardInput',
  [Tensor, Tensor],
  Conv2dBackwardInputParams
>({
  name: 'conv2dBackwardInput',
  forward: ([dy, w], p) => T.conv2dBackwardInput(dy, w, p.xShape, p),
  vjp: (ct, [dy, w], _y, p, needed) => {
    const geometry = convGeometry(p)
    return [
      needed[0] ? conv2d(ct, w, geometry) : undefined,
      needed[1] ? conv2dBackwardFilter(ct, dy, w.shape, geometry) : undefined,
    ]
  },
  batch: ([dy, w], [dyAxis, wAxis], p, self) => {
    if (wAxis === undefined) {
      if (dyAxis === undefined)
        throw new T.TraceError(
          'conv2dBackwardInput',
          'a batching rule ran with no mapped input (a bug in backfold)',
        )
      // Shared filters: the examples are more images (N) of dy and of the result.
      const fold = foldFor(dyAxis, dy.shape[dyAxis]!, [0])
      const y = self([foldExamples(dy, dyAxis, fold), w], { ...p, xShape: foldedShape(p.xShape, fold, 0) })
      return unfoldExamples(y, 0, fold)
    }
    if (dyAxis === undefined) {
      // Shared dy: the examples' filters read as more input channels (C), result channel b·C + c
      // (c·B + b with groups).
      const fold = channelFold(foldFor(wAxis, w.shape[wAxis]!, [1]), p)
      const y = self([dy, foldExamples(w, wAxis, fold)], { ...p, xShape: foldedShape(p.xShape, fold, 1) })
      return unfoldExamples(y, 1, fold)
    }
    // Both per example (see conv2d's rule): col2im. Each example's columns wᵀ dy are one batched
    // matmul (per group, if any), then summed into images by the adjoint of conv2d's patch extraction.
    const geometry = ungrouped(p)
    const gradients = moveAxis(dy, dyAxis, 0)
    const filters = moveAxis(w, wAxis, 0)
    const [size, images, outputs] = [gradients.shape[0]!, gradients.shape[1]!, gradients.shape[2]!]
    const outSize = [gradients.shape[3]!, gradients.shape[4]!] as const
    const kernel = [filters.shape[3]!, filters.shape[4]!] as const
    const groups = groupsOf(p)
    // [B, 1, G, O/G, C/G·kh·kw]ᵀ @ [B, N, G, O/G, h·w] -> [B, N, G, C/G·kh·kw, h·w] (G left out when 1)
    const grouped = (t: Tensor, lead: ReadonlyArray<number>): Tensor =>
      reshape(t, groups === 1 ? [...lead, outputs, -1] : [...lead, groups, outputs / groups, -1])
    const products = matmul(
      grouped(filters, [size, 1]),
      grouped(reshape(gradients, [size, images, outputs, outSize[0] * outSize[1]]), [size, images]),
      { transposeA: true },
    )
    const columns = groups === 1 ? products : reshape(products, [size, images, -1, outSize[0] * outSize[1]])
    const x = fromPatches(columns, p.xShape, kernel, outSize, geometry, (planes, taps, xShape, q) =>
      self([planes, taps], { ...q, xShape: [...xShape] }),
    )
    return [x, 0]
  },
  onnx: conv2dBackwardInputOnnx,
  abstract: ([dy, w], p) => avalOf(T.conv2dBackwardInputPlan(dy, w, p.xShape, p)),
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
