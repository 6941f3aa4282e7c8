// Convolution and pooling, their derivatives included, on ONNX Runtime in float32: every geometry
// of the gradient table's conv rows (stride, padding, dilation, 'same', uneven remainders, groups), checked
// against eager mode's kernels (the reference loops) run on the same float32 inputs.
import { describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { avgPool2d, conv2d, executorStatus, grad, jit, maxPool2d, mul, sum } from '@backfold/ops'

const rand = (seed: number, shape: number[]): Tensor =>
  T.reshape(
    T.tensor(Array.from({ length: T.sizeOf(shape) }, (_, i) => Math.sin(seed * 7.3 + i * 1.7) * 2)),
    shape,
  )

const expectClose = (actual: Tensor, expected: Tensor): void => {
  expect(actual.shape).toEqual(expected.shape)
  expected.data.forEach((v, i) =>
    expect(Math.abs(actual.data[i]! - v)).toBeLessThanOrEqual(1e-4 + 1e-4 * Math.abs(v)),
  )
}

/** f and its gradient in every argument, jitted on onnxruntime, against eager; must not fall back. */
const agree = (f: (...xs: Tensor[]) => Tensor, ...args: Tensor[]): void => {
  const y = f(...args)
  const weights = T.reshape(
    T.tensor(Array.from({ length: T.sizeOf(y.shape) }, (_, i) => Math.cos(i))),
    y.shape,
  )
  const loss = (...xs: Tensor[]): Tensor => sum(mul(f(...xs), weights))
  const jf = jit(f, { executor: 'onnxruntime', fallback: false })
  expectClose(jf(...args), y)
  args.forEach((_, k) => {
    const g = grad(loss, { argnums: k })
    const jg = jit(g, { executor: 'onnxruntime', fallback: false })
    expectClose(jg(...args), g(...args))
    expect(executorStatus(jg).running).toBe('onnxruntime')
  })
}

describe('conv2d and pooling on onnxruntime (float32), with their gradients', () => {
  it.each([
    ['valid', [2, 1, 3, 4], [2, 1, 2, 2], {}],
    ['stride 2, padding 1', [1, 2, 4, 3], [3, 2, 2, 2], { stride: 2, padding: 1 }],
    [
      'dilation 2, padding [1,0,0,1]',
      [1, 1, 4, 5],
      [2, 1, 2, 2],
      { dilation: 2, padding: [1, 0, 0, 1] as const },
    ],
    ["'same', stride 2", [1, 2, 3, 4], [1, 2, 3, 3], { padding: 'same' as const, stride: 2 }],
    ['stride 3 leaving rows unread', [2, 2, 8, 7], [4, 2, 3, 2], { stride: 3 }],
    ['2 groups, stride 2, padding 1', [2, 4, 5, 4], [6, 2, 3, 2], { groups: 2, stride: 2, padding: 1 }],
    ['depthwise, stride 3 leaving rows unread', [2, 3, 8, 7], [3, 1, 3, 2], { groups: 3, stride: 3 }],
    [
      "depthwise ×2, 'same', dilation 2",
      [1, 2, 5, 6],
      [4, 1, 2, 3],
      { groups: 2, padding: 'same' as const, dilation: 2 },
    ],
  ])('conv2d %s', (_name, xShape, wShape, opts) => {
    agree((x, w) => conv2d(x, w, opts), rand(1, xShape), rand(2, wShape))
  })

  it.each([
    ['2x2 stride 2', [2, 3, 4, 6], { kernelSize: 2, stride: 2 }],
    ['3x3 stride 1 padding 1', [1, 2, 5, 4], { kernelSize: 3, stride: 1, padding: 1 }],
    ['3x2 stride 2, remainder rows', [1, 2, 7, 5], { kernelSize: [3, 2] as const, stride: 2 }],
  ])('maxPool2d and avgPool2d %s', (_name, xShape, opts) => {
    agree((x) => maxPool2d(x, opts), rand(3, xShape))
    agree((x) => avgPool2d(x, opts), rand(4, xShape))
  })
})
