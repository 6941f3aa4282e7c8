import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import type { Conv2dSpec } from '../../src/backend'
import type { Tensor } from '../../src/tensor'
import { referenceBackend } from '../../src/backends/reference/index'
import { wasmBackend } from '../../src/backends/wasm/index'
import {
  wasmConv2dFloat32,
  wasmConv2dBackwardInputFloat32,
  wasmConv2dBackwardFilterFloat32,
} from '../../src/backends/wasm/conv'
import { unsafeTensor } from '../../src/tensor'
import { expectClose, mulberry32, randomTensor } from './helpers'

// The three wasm convolution kernels against the reference backend on random geometries (stride,
// asymmetric padding, dilation, 1×1 kernels). The tolerance of each output element scales with the
// same kernel applied to absolute values, which is exactly Σ|products| for that element.

interface Geometry {
  readonly batch: number
  readonly channels: number
  readonly height: number
  readonly width: number
  readonly outChannels: number
  readonly kernelH: number
  readonly kernelW: number
  readonly spec: Conv2dSpec
}

const outSize = (
  inSize: number,
  kernel: number,
  stride: number,
  before: number,
  after: number,
  dilation: number,
) => Math.floor((inSize + before + after - dilation * (kernel - 1) - 1) / stride) + 1

const absolute = (t: Tensor): Tensor => unsafeTensor(t.dtype, t.shape, t.data.map(Math.abs))

interface ConvKernels {
  readonly conv2d: typeof wasmConv2dFloat32
  readonly conv2dBackwardInput: typeof wasmConv2dBackwardInputFloat32
  readonly conv2dBackwardFilter: typeof wasmConv2dBackwardFilterFloat32
}

const direct: ConvKernels = {
  conv2d: wasmConv2dFloat32,
  conv2dBackwardInput: wasmConv2dBackwardInputFloat32,
  conv2dBackwardFilter: wasmConv2dBackwardFilterFloat32,
}

const checkGeometry = (seed: number, g: Geometry, kernels: ConvKernels = direct): void => {
  const rand = mulberry32(seed)
  const { spec } = g
  const [top, bottom, left, right] = spec.padding
  const outH = outSize(g.height, g.kernelH, spec.stride[0], top, bottom, spec.dilation[0])
  const outW = outSize(g.width, g.kernelW, spec.stride[1], left, right, spec.dilation[1])
  if (outH < 1 || outW < 1) return
  const xShape = [g.batch, g.channels, g.height, g.width]
  const wShape = [g.outChannels, g.channels, g.kernelH, g.kernelW]
  const x = randomTensor(rand, 'float32', xShape)
  const w = randomTensor(rand, 'float32', wShape)
  const dy = randomTensor(rand, 'float32', [g.batch, g.outChannels, outH, outW])
  const copies = [x.data.slice(), w.data.slice(), dy.data.slice()]

  const y = kernels.conv2d(x, w, spec)
  expect(y.shape).toEqual([g.batch, g.outChannels, outH, outW])
  expectClose(
    y.data,
    referenceBackend.conv2d(x, w, spec).data,
    referenceBackend.conv2d(absolute(x), absolute(w), spec).data,
  )

  const dx = kernels.conv2dBackwardInput(dy, w, xShape, spec)
  expect(dx.shape).toEqual(xShape)
  expectClose(
    dx.data,
    referenceBackend.conv2dBackwardInput(dy, w, xShape, spec).data,
    referenceBackend.conv2dBackwardInput(absolute(dy), absolute(w), xShape, spec).data,
  )

  const dw = kernels.conv2dBackwardFilter(x, dy, wShape, spec)
  expect(dw.shape).toEqual(wShape)
  expectClose(
    dw.data,
    referenceBackend.conv2dBackwardFilter(x, dy, wShape, spec).data,
    referenceBackend.conv2dBackwardFilter(absolute(x), absolute(dy), wShape, spec).data,
  )
  expect([x.data, w.data, dy.data]).toEqual(copies)
}

const spec = (
  stride: readonly [number, number],
  padding: readonly [number, number, number, number],
  dilation: readonly [number, number] = [1, 1],
): Conv2dSpec => ({ stride, padding, dilation })

describe('wasm conv2d and its gradients (float32)', () => {
  it('match the reference on fixed geometries: 3×3 same, stride 2, dilation 2, asymmetric pads, 1×1', () => {
    const cases: ReadonlyArray<Geometry> = [
      {
        batch: 2,
        channels: 3,
        height: 9,
        width: 11,
        outChannels: 5,
        kernelH: 3,
        kernelW: 3,
        spec: spec([1, 1], [1, 1, 1, 1]),
      },
      {
        batch: 1,
        channels: 4,
        height: 15,
        width: 14,
        outChannels: 6,
        kernelH: 3,
        kernelW: 3,
        spec: spec([2, 2], [1, 0, 1, 0]),
      },
      {
        batch: 2,
        channels: 2,
        height: 13,
        width: 13,
        outChannels: 3,
        kernelH: 3,
        kernelW: 2,
        spec: spec([1, 2], [2, 1, 0, 3], [2, 2]),
      },
      {
        batch: 3,
        channels: 7,
        height: 6,
        width: 5,
        outChannels: 9,
        kernelH: 1,
        kernelW: 1,
        spec: spec([1, 1], [0, 0, 0, 0]),
      },
      {
        batch: 2,
        channels: 5,
        height: 8,
        width: 8,
        outChannels: 4,
        kernelH: 1,
        kernelW: 1,
        spec: spec([2, 2], [1, 1, 1, 1]),
      },
      {
        batch: 1,
        channels: 1,
        height: 28,
        width: 28,
        outChannels: 8,
        kernelH: 5,
        kernelW: 5,
        spec: spec([1, 1], [0, 0, 0, 0]),
      },
    ]
    cases.forEach((g, i) => checkGeometry(100 + i, g))
  })

  it('match the reference across GEMM blocks (depth > 256, positions > 256, output channels > 128)', () => {
    checkGeometry(7, {
      batch: 2,
      channels: 33,
      height: 19,
      width: 17,
      outChannels: 130,
      kernelH: 3,
      kernelW: 3,
      spec: spec([1, 1], [1, 1, 1, 1]),
    })
  })

  it('match the reference on random geometries (property)', () => {
    const small = (max: number) => fc.integer({ min: 1, max })
    fc.assert(
      fc.property(
        fc.record({
          batch: small(3),
          channels: small(5),
          height: small(12),
          width: small(12),
          outChannels: small(9),
          kernelH: small(4),
          kernelW: small(4),
          stride: fc.tuple(small(3), small(3)),
          padding: fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)),
          dilation: fc.tuple(small(2), small(2)),
          seed: fc.integer(),
        }),
        ({ stride, padding, dilation, seed, ...g }) =>
          checkGeometry(seed, { ...g, spec: spec(stride, padding, dilation) }),
      ),
      { numRuns: 80 },
    )
  })
})

describe('wasm conv kernels on empty axes', () => {
  it('give zeros or empty results for zero channels, output channels, batch or positions', () => {
    const rand = mulberry32(13)
    const p = spec([1, 1], [0, 0, 0, 0])
    const shapes: ReadonlyArray<readonly [number[], number[]]> = [
      [
        [2, 0, 5, 5],
        [3, 0, 3, 3],
      ],
      [
        [2, 4, 5, 5],
        [0, 4, 3, 3],
      ],
      [
        [0, 4, 5, 5],
        [3, 4, 3, 3],
      ],
    ]
    for (const [xShape, wShape] of shapes) {
      const x = randomTensor(rand, 'float32', xShape)
      const w = randomTensor(rand, 'float32', wShape)
      const y = referenceBackend.conv2d(x, w, p)
      const dy = randomTensor(rand, 'float32', y.shape)
      for (const [actual, expected] of [
        [wasmConv2dFloat32(x, w, p), y],
        [
          wasmConv2dBackwardInputFloat32(dy, w, xShape, p),
          referenceBackend.conv2dBackwardInput(dy, w, xShape, p),
        ],
        [
          wasmConv2dBackwardFilterFloat32(x, dy, wShape, p),
          referenceBackend.conv2dBackwardFilter(x, dy, wShape, p),
        ],
      ] as const) {
        expect(actual.shape).toEqual(expected.shape)
        expect(Array.from(actual.data)).toEqual(Array.from(expected.data))
      }
    }
  })
})

describe('wasmBackend conv kernels', () => {
  it('agree with the reference through the backend (wasm above the size threshold, reference below)', () => {
    const p = spec([1, 1], [1, 1, 1, 1])
    const tiny = {
      batch: 2,
      channels: 1,
      height: 4,
      width: 4,
      outChannels: 2,
      kernelH: 3,
      kernelW: 3,
      spec: p,
    }
    checkGeometry(11, tiny, wasmBackend)
    checkGeometry(12, { ...tiny, channels: 8, height: 16, width: 16, outChannels: 16 }, wasmBackend)
  })

  it('fall back to the reference exactly for float64', () => {
    const rand = mulberry32(12)
    const p = spec([1, 1], [1, 1, 1, 1])
    const x = randomTensor(rand, 'float64', [2, 8, 16, 16])
    const w = randomTensor(rand, 'float64', [16, 8, 3, 3])
    expect(wasmBackend.conv2d(x, w, p).data).toEqual(referenceBackend.conv2d(x, w, p).data)
  })
})
