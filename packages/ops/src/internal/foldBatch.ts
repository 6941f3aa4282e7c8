// Batching helpers that fold the examples into an axis the op already treats independently (the
// images N and channels C, O of the convolution and pooling ops, the outputs of linear): a reshape,
// then one kernel call on B times as many images or channels, no loop over the examples.
import * as T from '@backfold/tensor'
import type { Conv2dSpec, Tensor } from '@backfold/tensor'
import { moveAxis } from '../core/batching'
import { broadcastTo } from '../shape/broadcastTo'
import { reshape } from '../shape/reshape'

/**
 * Where the examples fold: merged with the example axis `into`, as its outer index (`before`: the
 * examples sit right before that axis) or its inner one (right after it).
 * @internal
 */
export interface Fold {
  readonly into: number
  readonly before: boolean
  readonly size: number
}

/**
 * The fold for examples found at `axis` of a batch: into the first of `targets` (example axes the
 * op treats independently, e.g. N) they sit next to, so only a reshape is needed; else before
 * `targets[0]`, which costs one transpose.
 * @internal
 */
export const foldFor = (axis: number, size: number, targets: ReadonlyArray<number>): Fold => {
  for (const into of targets) {
    if (axis === into) return { into, before: true, size }
    if (axis === into + 1) return { into, before: false, size }
  }
  return { into: targets[0] ?? 0, before: true, size }
}

/**
 * `shape` with its axis `at` (default `fold.into`) holding the folded examples too: the shape
 * parameter of an op whose output axis `at` corresponds to the input axis the examples folded into.
 * @internal
 */
export const foldedShape = (shape: ReadonlyArray<number>, fold: Fold, at: number = fold.into): number[] => [
  ...shape.slice(0, at),
  fold.size * shape[at]!,
  ...shape.slice(at + 1),
]

/**
 * The batch `x` (examples at `axis`, or `undefined`: shared, so broadcast to every example) with
 * its examples merged into example axis `fold.into`.
 * @internal
 */
export const foldExamples = (x: Tensor, axis: number | undefined, fold: Fold): Tensor => {
  const at = fold.before ? fold.into : fold.into + 1
  const placed =
    axis === undefined
      ? broadcastTo(reshape(x, [...x.shape.slice(0, at), 1, ...x.shape.slice(at)]), [
          ...x.shape.slice(0, at),
          fold.size,
          ...x.shape.slice(at),
        ])
      : moveAxis(x, axis, at)
  const shape = placed.shape
  return reshape(placed, [
    ...shape.slice(0, fold.into),
    shape[fold.into]! * shape[fold.into + 1]!,
    ...shape.slice(fold.into + 2),
  ])
}

/**
 * Splits the output's axis `outInto`, which holds the examples folded by `fold`, back into the
 * examples' axis and its own; returns the batch and the examples' axis.
 * @internal
 */
export const unfoldExamples = (y: Tensor, outInto: number, fold: Fold): readonly [Tensor, number] => {
  const own = y.shape[outInto]! / fold.size
  const pair = fold.before ? [fold.size, own] : [own, fold.size]
  return [
    reshape(y, [...y.shape.slice(0, outInto), ...pair, ...y.shape.slice(outInto + 1)]),
    fold.before ? outInto : outInto + 1,
  ]
}

/**
 * The batching rule shared by the pooling ops (every input an NCHW batch pooled per image and
 * channel): all inputs fold their examples into N, or into C when they already sit next to it.
 * @internal
 */
export const batchPooling = <In extends ReadonlyArray<Tensor>>(
  xs: In,
  axes: { readonly [K in keyof In]: number | undefined },
  fold: (xs: In, f: Fold) => Tensor,
): readonly [Tensor, number] => {
  const index = axes.findIndex((axis) => axis !== undefined)
  const first = axes[index]
  if (first === undefined)
    throw new T.TraceError('vmap', 'a batching rule ran with no mapped input (a bug in backfold)')
  const f = foldFor(first, xs[index]!.shape[first]!, [0, 1])
  return unfoldExamples(fold(xs, f), f.into, f)
}

/** kh·kw one-channel filters [kh·kw, 1, kh, kw], filter (p, q) one at tap (p, q): a constant. */
const oneHotTaps = (kernel: readonly [number, number], dtype: T.DType): Tensor => {
  const taps = kernel[0] * kernel[1]
  return T.reshape(T.eye(taps, taps, dtype), [taps, 1, kernel[0], kernel[1]])
}

/**
 * One image's patches, as the columns of im2col: batch `x` [B, N, C, H, W] (examples first) to
 * [B, N, C·kh·kw, h·w], entry (c, p, q) of column (i, j) being the input under kernel tap (p, q)
 * of output pixel (i, j) (zero in the padding). Computed by one convolution with kh·kw one-hot
 * filters on the channels taken as images, so it is differentiable and follows the geometry
 * (stride, padding, dilation) exactly. Also returns the output's spatial size [h, w].
 * @internal
 */
export const patches = (
  x: Tensor,
  kernel: readonly [number, number],
  geometry: Conv2dSpec,
  conv: (x: Tensor, w: Tensor, p: Conv2dSpec) => Tensor,
): readonly [Tensor, readonly [number, number]] => {
  const [size, images, channels] = [x.shape[0]!, x.shape[1]!, x.shape[2]!]
  const columns = conv(
    reshape(x, [size * images * channels, 1, x.shape[3]!, x.shape[4]!]),
    oneHotTaps(kernel, x.dtype),
    geometry,
  )
  const outHeight = columns.shape[2]!
  const outWidth = columns.shape[3]!
  const taps = kernel[0] * kernel[1]
  return [reshape(columns, [size, images, channels * taps, outHeight * outWidth]), [outHeight, outWidth]]
}

/**
 * The adjoint of `patches`: columns [B, N, C·kh·kw, h·w] summed back into images [B, N, C, H, W]
 * (`xShape` is one example's [N, C, H, W]), by the backward-input convolution with the same one-hot
 * filters.
 * @internal
 */
export const fromPatches = (
  columns: Tensor,
  xShape: ReadonlyArray<number>,
  kernel: readonly [number, number],
  outSize: readonly [number, number],
  geometry: Conv2dSpec,
  backwardInput: (dy: Tensor, w: Tensor, xShape: ReadonlyArray<number>, p: Conv2dSpec) => Tensor,
): Tensor => {
  const [images, channels, height, width] = [xShape[0]!, xShape[1]!, xShape[2]!, xShape[3]!]
  const planeCount = columns.shape[0]! * images * channels
  const planes = reshape(columns, [planeCount, kernel[0] * kernel[1], outSize[0], outSize[1]])
  const summed = backwardInput(
    planes,
    oneHotTaps(kernel, columns.dtype),
    [planeCount, 1, height, width],
    geometry,
  )
  return reshape(summed, [columns.shape[0]!, images, channels, height, width])
}
