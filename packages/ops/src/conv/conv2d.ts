// y = x ⋆ w (NCHW, OIHW) ; x̄ = conv2dBackwardInput(ȳ, w), w̄ = conv2dBackwardFilter(x, ȳ)
import * as T from '@backfold/tensor'
import type { Conv2dOptions, Conv2dSpec, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { moveAxis } from '../core/batching'
import { foldExamples, foldFor, patches, unfoldExamples } from '../internal/foldBatch'
import { matmul } from '../linalg/matmul'
import { reshape } from '../shape/reshape'
import { checkOptions } from '../core/options'
import { CONV2D_OPTIONS, avalOf } from '../internal/poolOptions'
import { conv2dBackwardFilter } from './conv2dBackwardFilter'
import { conv2dBackwardInput } from './conv2dBackwardInput'
import { conv2dOnnx } from '../staging/onnx/conv'
import { channelFold, groupsOf, ungrouped } from './groups'

/** The conv2d op; its parameters are the normalised geometry (explicit padding, pairs). @since 0.1.0 */
export const conv2dOp = defineOp<'conv2d', [Tensor, Tensor], Conv2dSpec>({
  name: 'conv2d',
  // A normalised spec is itself valid options (padding as [top, bottom, left, right]).
  forward: ([x, w], p) => T.conv2d(x, w, p),
  // The first layer's input is the data: its cotangent is skipped when not needed.
  vjp: (ct, [x, w], _y, p, needed) => [
    needed[0] ? conv2dBackwardInput(ct, w, x.shape, p) : undefined,
    needed[1] ? conv2dBackwardFilter(x, ct, w.shape, p) : undefined,
  ],
  batch: ([x, w], [xAxis, wAxis], p, self) => {
    if (wAxis === undefined) {
      if (xAxis === undefined)
        throw new T.TraceError('conv2d', 'a batching rule ran with no mapped input (a bug in backfold)')
      // Shared filters: the examples are more images (N).
      const fold = foldFor(xAxis, x.shape[xAxis]!, [0])
      return unfoldExamples(self([foldExamples(x, xAxis, fold), w], p), 0, fold)
    }
    if (xAxis === undefined) {
      // Shared images: the examples' filters are more output channels (O), channel o of example b
      // being filter b·O + o (o·B + b with groups, so that each group's filters stay together).
      const fold = channelFold(foldFor(wAxis, w.shape[wAxis]!, [0]), p)
      return unfoldExamples(self([x, foldExamples(w, wAxis, fold)], p), 1, fold)
    }
    // Both per example: im2col. Each example's patches (one convolution with one-hot filters, the
    // examples and channels as images) times its filters, one batched matmul with the examples as
    // its batch axis (and the groups, if any, as a second one).
    const images = moveAxis(x, xAxis, 0)
    const filters = moveAxis(w, wAxis, 0)
    const [size, outputs] = [filters.shape[0]!, filters.shape[1]!]
    const kernel = [filters.shape[3]!, filters.shape[4]!] as const
    const [columns, [height, width]] = patches(images, kernel, ungrouped(p), (xs, taps, q) =>
      self([xs, taps], q),
    )
    const groups = groupsOf(p)
    const y =
      groups === 1
        ? // [B, 1, O, C·kh·kw] @ [B, N, C·kh·kw, h·w] -> [B, N, O, h·w]
          matmul(reshape(filters, [size, 1, outputs, -1]), columns)
        : // [B, 1, G, O/G, C/G·kh·kw] @ [B, N, G, C/G·kh·kw, h·w] -> [B, N, G, O/G, h·w]
          matmul(
            reshape(filters, [size, 1, groups, outputs / groups, -1]),
            reshape(columns, [size, images.shape[1]!, groups, -1, height * width]),
          )
    return [reshape(y, [size, images.shape[1]!, outputs, height, width]), 0]
  },
  onnx: conv2dOnnx,
  abstract: ([x, w], p) => avalOf(T.conv2dPlan(x, w, p)),
})

/**
 * 2-D convolution (cross-correlation, as in every deep-learning framework) of `x` (NCHW) with
 * weights `w` (OIHW), with the same options as the tensor kernel: `stride`, `padding` (a number,
 * `[h, w]`, `[top, bottom, left, right]`, `'same'` or `'valid'`), `dilation` and `groups`
 * (PyTorch's `F.conv2d(groups=g)`, since 0.2.0: w is `[O, C/g, kh, kw]`, output channel block k
 * reading only input channel block k; depthwise is `groups` = C).
 * Twice differentiable: the backward convolutions are ops whose VJPs are convolutions again.
 * @example
 * const y = conv2d(images, kernels, { stride: 2, padding: 'same' }) // [n, o, ceil(h/2), ceil(w/2)]
 * const depthwise = conv2d(images, kernels, { groups: 8, padding: 1 }) // images [n, 8, h, w], kernels [8, 1, 3, 3]
 * @throws ShapeError for wrong ranks, a channel mismatch or `groups` not dividing both channel
 * counts; ValueError for an unknown option or a bad stride, padding, dilation or groups.
 * @since 0.1.0
 */
export const conv2d = (x: Tensor, w: Tensor, opts?: Conv2dOptions): Tensor => {
  checkOptions('conv2d', opts, CONV2D_OPTIONS)
  return applyOp(conv2dOp, [x, w], T.conv2dSpec('conv2d', x.shape, w.shape, opts))
}
