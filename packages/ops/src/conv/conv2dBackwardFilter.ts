// dw = B_f(x, dy), bilinear ; x̄ = conv2dBackwardInput(dy, ct), d̄y = conv2d(x, ct)
import * as T from '@backfold/tensor'
import type { Conv2dOptions, Conv2dSpec, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { moveAxis } from '../core/batching'
import { foldExamples, foldFor, foldedShape, patches, unfoldExamples } from '../internal/foldBatch'
import { matmul } from '../linalg/matmul'
import { reshape } from '../shape/reshape'
import { checkOptions } from '../core/options'
import { CONV2D_OPTIONS, avalOf, convGeometry } from '../internal/poolOptions'
import { conv2d } from './conv2d'
import { conv2dBackwardInput } from './conv2dBackwardInput'
import { conv2dBackwardFilterOnnx } from '../staging/onnx/conv'
import { channelFold, groupsOf, ungrouped } from './groups'

/** Parameters of the backward-filter op: the normalised geometry and the shape of conv2d's weights. @since 0.1.0 */
export interface Conv2dBackwardFilterParams extends Conv2dSpec {
  readonly wShape: ReadonlyArray<number>
}

/** The conv2dBackwardFilter op. @since 0.1.0 */
export const conv2dBackwardFilterOp = defineOp<
  'conv2dBackwardFilter',
  [Tensor, Tensor],
  Conv2dBackwardFilterParams
>({
  name: 'conv2dBackwardFilter',
  forward: ([x, dy], p) => T.conv2dBackwardFilter(x, dy, p.wShape, p),
  vjp: (ct, [x, dy], _y, p, needed) => {
    const geometry = convGeometry(p)
    return [
      needed[0] ? conv2dBackwardInput(dy, ct, x.shape, geometry) : undefined,
      needed[1] ? conv2d(x, ct, geometry) : undefined,
    ]
  },
  batch: ([x, dy], [xAxis, dyAxis], p, self) => {
    if (dyAxis === undefined) {
      if (xAxis === undefined)
        throw new T.TraceError(
          'conv2dBackwardFilter',
          'a batching rule ran with no mapped input (a bug in backfold)',
        )
      // Shared dy: the examples' images read as more input channels (C), filter channel b·C + c
      // (c·B + b with groups).
      const fold = channelFold(foldFor(xAxis, x.shape[xAxis]!, [1]), p)
      const y = self([foldExamples(x, xAxis, fold), dy], { ...p, wShape: foldedShape(p.wShape, fold, 1) })
      return unfoldExamples(y, 1, fold)
    }
    if (xAxis === undefined) {
      // Shared x: the examples' dy read as more output channels (O), filter b·O + o (o·B + b with groups).
      const fold = channelFold(foldFor(dyAxis, dy.shape[dyAxis]!, [1]), p)
      const y = self([x, foldExamples(dy, dyAxis, fold)], { ...p, wShape: foldedShape(p.wShape, fold, 0) })
      return unfoldExamples(y, 0, fold)
    }
    // Both per example, as for per-example gradients (see conv2d's rule): each example's dy times
    // its patches, summed over images and pixels, one batched matmul (per group, if any).
    const images = moveAxis(x, xAxis, 0)
    const gradients = moveAxis(dy, dyAxis, 0)
    const [size, count, outputs] = [gradients.shape[0]!, gradients.shape[1]!, gradients.shape[2]!]
    const kernel = [p.wShape[2]!, p.wShape[3]!] as const
    const [columns] = patches(images, kernel, ungrouped(p), (planes, taps, q) => conv2d(planes, taps, q))
    const groups = groupsOf(p)
    // Images and pixels are both summed over: put them side by side as one contracted axis, after
    // the groups' axis when there are groups.
    const flat = (t: Tensor): Tensor => {
      const rows = t.shape[2]!
      const lead = groups === 1 ? [size] : [size, groups]
      const pairs = reshape(t, [size, count, ...lead.slice(1), rows / groups, -1])
      return reshape(count === 1 ? pairs : moveAxis(pairs, 1, lead.length + 1), [...lead, rows / groups, -1])
    }
    // [B, (G,) O/G, N·h·w] @ [B, (G,) C/G·kh·kw, N·h·w]ᵀ -> [B, (G,) O/G, C/G·kh·kw]
    const filters = matmul(flat(gradients), flat(columns), { transposeB: true })
    return [reshape(filters, [size, outputs, p.wShape[1]!, kernel[0], kernel[1]]), 0]
  },
  onnx: conv2dBackwardFilterOnnx,
  abstract: ([x, dy], p) => avalOf(T.conv2dBackwardFilterPlan(x, dy, p.wShape, p)),
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
