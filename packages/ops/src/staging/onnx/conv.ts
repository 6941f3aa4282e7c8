// ONNX lowerings of convolution and pooling and their derivatives (NCHW, weights [O, C, kh, kw]).
// backfold's geometry: stride [sh, sw], padding [top, bottom, left, right], dilation [dh, dw];
// ONNX pads are [top, left, bottom, right].
import type { Conv2dSpec, Pool2dSpec } from '@backfold/tensor'
import type { Aval } from '../../core/op'
import type { OnnxBuilder, OnnxDType } from './builder'

const onnxPads = ([top, bottom, left, right]: readonly [number, number, number, number]): number[] => [
  top,
  left,
  bottom,
  right,
]

/** conv2d(x, w) as Conv (with `group` when grouped). @internal */
export const conv2dOnnx = (
  b: OnnxBuilder,
  [x, w]: readonly [string, string],
  p: Conv2dSpec,
  { inputs: [ax, aw], output }: { inputs: readonly [Aval, Aval]; output: Aval },
): string =>
  b.node('Conv', [b.cast(x, ax.dtype, output.dtype), b.cast(w, aw.dtype, output.dtype)], {
    kernel_shape: [aw.shape[2]!, aw.shape[3]!],
    strides: [...p.stride],
    dilations: [...p.dilation],
    pads: onnxPads(p.padding),
    ...(p.groups === undefined ? {} : { group: p.groups }),
  })

/**
 * The transposed convolution that maps `dy` (pooled or convolved size) back onto an input of
 * `inH × inW`: explicit pads, and output_padding for the rows and columns past the last window.
 */
const transposedTo = (
  b: OnnxBuilder,
  dy: string,
  w: string,
  kernel: readonly [number, number],
  p: {
    readonly stride: readonly [number, number]
    readonly padding: readonly [number, number, number, number]
  },
  dilation: readonly [number, number],
  outSize: readonly [number, number],
  dyShape: ReadonlyArray<number>,
  group: number,
): string => {
  const [pt, pb, pl, pr] = p.padding
  const natural = (i: 0 | 1, pads: number): number =>
    p.stride[i] * (dyShape[2 + i]! - 1) + (kernel[i] - 1) * dilation[i] + 1 - pads
  const extra = [outSize[0] - natural(0, pt + pb), outSize[1] - natural(1, pl + pr)]
  if (extra.some((e) => e < 0))
    b.unsupported(`a transposed convolution that would crop its output (${extra.join(', ')})`)
  return b.node('ConvTranspose', [dy, w], {
    kernel_shape: [...kernel],
    strides: [...p.stride],
    dilations: [...dilation],
    pads: onnxPads(p.padding),
    output_padding: extra,
    group,
  })
}

/** conv2dBackwardInput(dy, w): the gradient of conv2d's input, as ConvTranspose. @internal */
export const conv2dBackwardInputOnnx = (
  b: OnnxBuilder,
  [dy, w]: readonly [string, string],
  p: Conv2dSpec & { readonly xShape: ReadonlyArray<number> },
  { inputs: [ady, aw], output }: { inputs: readonly [Aval, Aval]; output: Aval },
): string =>
  transposedTo(
    b,
    b.cast(dy, ady.dtype, output.dtype),
    b.cast(w, aw.dtype, output.dtype),
    [aw.shape[2]!, aw.shape[3]!],
    p,
    p.dilation,
    [p.xShape[2]!, p.xShape[3]!],
    ady.shape,
    // ConvTranspose's weight [C_in, C_out / group, kh, kw] is conv2d's [O, C / groups, kh, kw].
    p.groups ?? 1,
  )

/**
 * conv2dBackwardFilter(x, dy): the gradient of conv2d's weights, as one Conv with the roles of N
 * and C swapped: x as [C, N, H, W] convolved with dy as [O, N, Ho, Wo] (stride and dilation
 * exchanged), x first cropped or padded at the bottom/right to exactly the extent the windows read.
 * With g groups, x is [C/g, g·N, H, W] (block k holding channel block k of every image) and the Conv
 * has `group` g, so filter block k reads only its channel block: [C/g, O, kh, kw], then transposed.
 * @internal
 */
export const conv2dBackwardFilterOnnx = (
  b: OnnxBuilder,
  [x, dy]: readonly [string, string],
  p: Conv2dSpec & { readonly wShape: ReadonlyArray<number> },
  { inputs: [ax, ady], output }: { inputs: readonly [Aval, Aval]; output: Aval },
): string => {
  const dtype = output.dtype
  let xs = b.cast(x, ax.dtype, dtype)
  const [pt, , pl] = p.padding
  const kernel = [p.wShape[2]!, p.wShape[3]!]
  // The padded extent the forward windows read: (out − 1) · stride + (k − 1) · dilation + 1.
  const extent = [0, 1].map(
    (i) => (ady.shape[2 + i]! - 1) * p.stride[i]! + (kernel[i]! - 1) * p.dilation[i]! + 1,
  )
  const end = [extent[0]! - ax.shape[2]! - pt, extent[1]! - ax.shape[3]! - pl!]
  if (end.some((e) => e < 0))
    xs = b.node('Slice', [
      xs,
      b.int64s([0, 0]),
      b.int64s([ax.shape[2]! + Math.min(end[0]!, 0), ax.shape[3]! + Math.min(end[1]!, 0)]),
      b.int64s([2, 3]),
    ])
  const groups = p.groups ?? 1
  const [images, channels] = [ax.shape[0]!, ax.shape[1]!]
  const height = ax.shape[2]! + Math.min(end[0]!, 0)
  const width = ax.shape[3]! + Math.min(end[1]!, 0)
  const imagesAsChannels =
    groups === 1
      ? b.node('Transpose', [xs], { perm: [1, 0, 2, 3] })
      : b.node('Reshape', [
          b.node(
            'Transpose',
            [b.node('Reshape', [xs, b.int64s([images, groups, channels / groups, height, width])])],
            {
              perm: [2, 1, 0, 3, 4],
            },
          ),
          b.int64s([channels / groups, groups * images, height, width]),
        ])
  const swapped = b.node(
    'Conv',
    [imagesAsChannels, b.node('Transpose', [b.cast(dy, ady.dtype, dtype)], { perm: [1, 0, 2, 3] })],
    {
      kernel_shape: [ady.shape[2]!, ady.shape[3]!],
      strides: [...p.dilation],
      dilations: [...p.stride],
      pads: [pt, pl!, Math.max(end[0]!, 0), Math.max(end[1]!, 0)],
      ...(groups === 1 ? {} : { group: groups }),
    },
  )
  return b.node('Transpose', [swapped], { perm: [1, 0, 2, 3] })
}

/** maxPool2d as MaxPool (padding never wins, as backfold's −∞ padding). @internal */
export const maxPool2dOnnx = (b: OnnxBuilder, x: string, p: Pool2dSpec): string =>
  b.node('MaxPool', [x], { kernel_shape: [...p.kernel], strides: [...p.stride], pads: onnxPads(p.padding) })

/** MaxPool's flat (N·C·H·W) int64 index of each window's first maximum. */
const argmaxIndices = (b: OnnxBuilder, x: string, p: Pool2dSpec): string =>
  b.nodes('MaxPool', [x], 2, {
    kernel_shape: [...p.kernel],
    strides: [...p.stride],
    pads: onnxPads(p.padding),
  })[1]!

/** maxPool2dSelect(src, x): src at each window's first maximum of x (MaxPool indices, then Gather). @internal */
export const maxPool2dSelectOnnx = (
  b: OnnxBuilder,
  src: string,
  x: string,
  p: Pool2dSpec,
  srcAval: Aval,
  output: Aval,
): string => {
  const flat = b.node('Reshape', [b.cast(src, srcAval.dtype, output.dtype), b.int64s([-1])])
  return b.node('Gather', [flat, argmaxIndices(b, x, p)], { axis: 0 })
}

/** maxPool2dBackward(dy, x): dy added at each window's first maximum (ScatterElements, add). @internal */
export const maxPool2dBackwardOnnx = (
  b: OnnxBuilder,
  dy: string,
  x: string,
  p: Pool2dSpec,
  dyAval: Aval,
  output: Aval,
): string => {
  const size = output.shape.reduce((n, d) => n * d, 1)
  const zeros = b.constant(new Array<number>(size).fill(0), output.dtype as OnnxDType, [size])
  const indices = b.node('Reshape', [argmaxIndices(b, x, p), b.int64s([-1])])
  const updates = b.node('Reshape', [b.cast(dy, dyAval.dtype, output.dtype), b.int64s([-1])])
  const scattered = b.node('ScatterElements', [zeros, indices, updates], { axis: 0, reduction: 'add' })
  return b.node('Reshape', [scattered, b.int64s(output.shape)])
}

/** avgPool2d as AveragePool, padding counted in the divisor (count_include_pad). @internal */
export const avgPool2dOnnx = (b: OnnxBuilder, x: string, p: Pool2dSpec): string =>
  b.node('AveragePool', [x], {
    kernel_shape: [...p.kernel],
    strides: [...p.stride],
    pads: onnxPads(p.padding),
    count_include_pad: 1,
  })

/** avgPool2dBackward(dy): dy / (kh·kw) spread over each window: a per-channel ConvTranspose of a constant kernel. @internal */
export const avgPool2dBackwardOnnx = (
  b: OnnxBuilder,
  dy: string,
  p: Pool2dSpec & { readonly xShape: ReadonlyArray<number> },
  dyAval: Aval,
  output: Aval,
): string => {
  const channels = p.xShape[1]!
  const [kh, kw] = p.kernel
  const w = b.constant(new Array<number>(channels * kh * kw).fill(1 / (kh * kw)), output.dtype, [
    channels,
    1,
    kh,
    kw,
  ])
  return transposedTo(
    b,
    b.cast(dy, dyAval.dtype, output.dtype),
    w,
    p.kernel,
    p,
    [1, 1],
    [p.xShape[2]!, p.xShape[3]!],
    dyAval.shape,
    channels,
  )
}
