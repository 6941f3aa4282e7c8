import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import type { DType } from '../src/dtype'
import type { Tensor } from '../src/tensor'
import type { Conv2dOptions, Padding2d } from '../src/kernels/conv'
import { ShapeError, ValueError } from '../src/errors'
import { unsafeTensor } from '../src/tensor'
import {
  conv2d,
  conv2dBackwardFilter,
  conv2dBackwardInput,
  conv2dOutputShape,
  conv2dSpec,
} from '../src/kernels/conv'
import {
  arrayFor,
  dot,
  expectMatches,
  explicitPadding,
  mulberry32,
  pairOf,
  product,
  randomInt,
  randomTensorWithin,
} from './helpers'
import type { Expected } from './helpers'

// ---------------------------------------------------------------------------------------------
// Helpers: seeded data and a naive convolution written straight from the definition.

/** Seeded tensors: uniform in [-1, 1) for floats, integers in [-5, 5] for int32. */
const randomTensor = randomTensorWithin(5)

/** Seven loops over (n, o, i, j, c, p, q); out-of-image taps read zero; output o reads its group's channels. */
const naiveConv2d = (x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Expected => {
  const [N, C, H, W] = x.shape as [number, number, number, number]
  const [O, CG, KH, KW] = w.shape as [number, number, number, number]
  const perGroup = O / (opts.groups ?? 1)
  const [sh, sw] = pairOf(opts.stride, 1)
  const [dh, dw] = pairOf(opts.dilation, 1)
  const [top, bottom, left, right] = explicitPadding(
    opts.padding,
    H,
    W,
    [dh * (KH - 1) + 1, dw * (KW - 1) + 1],
    [sh, sw],
  )
  const outH = Math.floor((H + top + bottom - dh * (KH - 1) - 1) / sh) + 1
  const outW = Math.floor((W + left + right - dw * (KW - 1) - 1) / sw) + 1
  const wrap = x.dtype === 'int32' && w.dtype === 'int32'
  const values: number[] = []
  const magnitude: number[] = []
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < outH; i++)
        for (let j = 0; j < outW; j++) {
          let sum = 0
          let mag = 0
          for (let k = 0; k < CG; k++)
            for (let p = 0; p < KH; p++)
              for (let q = 0; q < KW; q++) {
                const c = Math.floor(o / perGroup) * CG + k
                const h = i * sh + p * dh - top
                const v = j * sw + q * dw - left
                if (h < 0 || h >= H || v < 0 || v >= W) continue
                const xv = x.data[((n * C + c) * H + h) * W + v]!
                const wv = w.data[((o * CG + k) * KH + p) * KW + q]!
                sum = wrap ? (sum + Math.imul(xv, wv)) | 0 : sum + xv * wv
                mag += Math.abs(xv * wv)
              }
          values.push(sum)
          magnitude.push(mag)
        }
  return { shape: [N, O, outH, outW], values, magnitude }
}

const randomPadding = (rand: () => number): Padding2d | undefined => {
  switch (randomInt(rand, 0, 5)) {
    case 0:
      return undefined
    case 1:
      return randomInt(rand, 0, 2)
    case 2:
      return [randomInt(rand, 0, 2), randomInt(rand, 0, 2)]
    case 3:
      return [randomInt(rand, 0, 3), randomInt(rand, 0, 3), randomInt(rand, 0, 3), randomInt(rand, 0, 3)]
    case 4:
      return 'same'
    default:
      return 'valid'
  }
}

interface Geometry {
  readonly xShape: [number, number, number, number]
  readonly wShape: [number, number, number, number]
  readonly opts: Conv2dOptions
}

const randomGeometry = (rand: () => number): Geometry => {
  const channels = randomInt(rand, 1, 3)
  const xShape: [number, number, number, number] = [
    randomInt(rand, 1, 2),
    channels,
    randomInt(rand, 1, 9),
    randomInt(rand, 1, 9),
  ]
  const wShape: [number, number, number, number] = [
    randomInt(rand, 1, 3),
    channels,
    randomInt(rand, 1, 3),
    randomInt(rand, 1, 3),
  ]
  const stride =
    rand() < 0.5 ? randomInt(rand, 1, 3) : ([randomInt(rand, 1, 3), randomInt(rand, 1, 3)] as const)
  const dilation =
    rand() < 0.5 ? randomInt(rand, 1, 2) : ([randomInt(rand, 1, 2), randomInt(rand, 1, 2)] as const)
  const padding = randomPadding(rand)
  const opts: Conv2dOptions = { stride, dilation, ...(padding === undefined ? {} : { padding }) }
  return { xShape, wShape, opts }
}

/** True when the dilated kernel fits in the padded input (otherwise conv2d must refuse). */
const fits = ({ xShape, wShape, opts }: Geometry): boolean => {
  const [sh, sw] = pairOf(opts.stride, 1)
  const [dh, dw] = pairOf(opts.dilation, 1)
  const extentH = dh * (wShape[2] - 1) + 1
  const extentW = dw * (wShape[3] - 1) + 1
  const [t, b, l, r] = explicitPadding(opts.padding, xShape[2], xShape[3], [extentH, extentW], [sh, sw])
  return extentH <= xShape[2] + t + b && extentW <= xShape[3] + l + r
}

// ---------------------------------------------------------------------------------------------

describe('conv2d', () => {
  it('matches the naive 7-loop convolution on random geometries (every padding form, stride, dilation)', () => {
    const rand = mulberry32(11)
    let checked = 0
    for (let trial = 0; trial < 120; trial++) {
      const g = randomGeometry(rand)
      const x = randomTensor(rand, 'float64', g.xShape)
      const w = randomTensor(rand, 'float64', g.wShape)
      if (!fits(g)) {
        expect(() => conv2d(x, w, g.opts)).toThrow(ShapeError)
        continue
      }
      checked++
      const out = conv2d(x, w, g.opts)
      expectMatches(out, naiveConv2d(x, w, g.opts), 1e-14)
      expect(conv2dOutputShape(g.xShape, g.wShape, conv2dSpec('conv2d', g.xShape, g.wShape, g.opts))).toEqual(
        [...out.shape],
      )
    }
    expect(checked).toBeGreaterThan(60)
  })

  it('matches the naive convolution in float32 and exactly in int32', () => {
    const rand = mulberry32(12)
    for (let trial = 0; trial < 40; trial++) {
      const g = randomGeometry(rand)
      if (!fits(g)) continue
      const dtype: DType = trial % 2 === 0 ? 'float32' : 'int32'
      const x = randomTensor(rand, dtype, g.xShape)
      const w = randomTensor(rand, dtype, g.wShape)
      const out = conv2d(x, w, g.opts)
      expect(out.dtype).toBe(dtype)
      expectMatches(out, naiveConv2d(x, w, g.opts), dtype === 'int32' ? 0 : 1e-5)
    }
  })

  it("pads 'same' with stride 2 as TensorFlow does (extra row/column at the bottom/right)", () => {
    expect(conv2dSpec('conv2d', [1, 1, 7, 7], [1, 1, 3, 3], { padding: 'same', stride: 2 }).padding).toEqual([
      1, 1, 1, 1,
    ])
    expect(conv2dSpec('conv2d', [1, 1, 8, 6], [1, 1, 3, 2], { padding: 'same', stride: 2 }).padding).toEqual([
      0, 1, 0, 0,
    ])
    expect(
      conv2dSpec('conv2d', [1, 1, 5, 5], [1, 1, 3, 3], { padding: 'same', dilation: 2 }).padding,
    ).toEqual([2, 2, 2, 2])
    const rand = mulberry32(13)
    for (const [h, w] of [
      [8, 8],
      [7, 9],
      [5, 4],
    ] as const) {
      const x = randomTensor(rand, 'float64', [2, 2, h, w])
      const k = randomTensor(rand, 'float64', [3, 2, 3, 3])
      const out = conv2d(x, k, { padding: 'same', stride: 2 })
      expect(out.shape).toEqual([2, 3, Math.ceil(h / 2), Math.ceil(w / 2)])
      expectMatches(out, naiveConv2d(x, k, { padding: 'same', stride: 2 }), 1e-14)
    }
  })

  it('handles asymmetric padding, 1x1 kernels (the im2col-free path) and a known small example', () => {
    const rand = mulberry32(14)
    const x = randomTensor(rand, 'float64', [2, 3, 5, 6])
    const w = randomTensor(rand, 'float64', [4, 3, 2, 3])
    expectMatches(
      conv2d(x, w, { padding: [0, 2, 3, 1] }),
      naiveConv2d(x, w, { padding: [0, 2, 3, 1] }),
      1e-14,
    )
    const pointwise = randomTensor(rand, 'float64', [5, 3, 1, 1])
    expectMatches(conv2d(x, pointwise), naiveConv2d(x, pointwise), 1e-14)
    expectMatches(conv2d(x, pointwise, { stride: 2 }), naiveConv2d(x, pointwise, { stride: 2 }), 1e-14)
    const image = unsafeTensor('float32', [1, 1, 3, 3], Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9))
    const diagonal = unsafeTensor('float32', [1, 1, 2, 2], Float32Array.of(1, 0, 0, 1))
    expect([...conv2d(image, diagonal).data]).toEqual([6, 8, 12, 14])
  })

  it('matches the naive convolution when the GEMM crosses its cache blocks (depth > 128, positions > 256)', () => {
    const rand = mulberry32(15)
    const x = randomTensor(rand, 'float32', [2, 16, 20, 19])
    const w = randomTensor(rand, 'float32', [5, 16, 3, 3])
    const opts: Conv2dOptions = { padding: 1 }
    expectMatches(conv2d(x, w, opts), naiveConv2d(x, w, opts), 1e-5)
  })

  it('promotes dtypes and leaves its inputs untouched', () => {
    const rand = mulberry32(16)
    const x = randomTensor(rand, 'int32', [1, 2, 4, 4])
    const w = randomTensor(rand, 'float32', [2, 2, 3, 3])
    const before = [...x.data]
    const out = conv2d(x, w, { padding: 1 })
    expect(out.dtype).toBe('float32')
    expectMatches(out, naiveConv2d(x, w, { padding: 1 }), 1e-5)
    expect(conv2d(w, randomTensor(rand, 'float64', [1, 2, 2, 2])).dtype).toBe('float64')
    expect([...x.data]).toEqual(before)
  })

  it('handles zero-size batch, channel and output-channel dimensions', () => {
    const empty = (dtype: DType, shape: number[]): Tensor =>
      unsafeTensor(dtype, shape, arrayFor(dtype, new Array<number>(product(shape)).fill(1)))
    const noBatch = conv2d(empty('float32', [0, 2, 5, 5]), empty('float32', [3, 2, 3, 3]))
    expect(noBatch.shape).toEqual([0, 3, 3, 3])
    const noChannels = conv2d(empty('float32', [2, 0, 5, 5]), empty('float32', [3, 0, 3, 3]), { padding: 1 })
    expect(noChannels.shape).toEqual([2, 3, 5, 5])
    expect(noChannels.data.every((v) => v === 0)).toBe(true)
    expect(conv2d(empty('float64', [2, 2, 5, 5]), empty('float64', [0, 2, 3, 3])).shape).toEqual([2, 0, 3, 3])
    // An empty image is fine when padding makes room for the kernel.
    const padded = conv2d(empty('float32', [1, 1, 0, 3]), empty('float32', [1, 1, 1, 1]), { padding: 1 })
    expect(padded.shape).toEqual([1, 1, 2, 5])
    expect(padded.data.every((v) => v === 0)).toBe(true)
    const dx = conv2dBackwardInput(
      empty('float32', [0, 3, 3, 3]),
      empty('float32', [3, 2, 3, 3]),
      [0, 2, 5, 5],
    )
    expect(dx.shape).toEqual([0, 2, 5, 5])
    const dw = conv2dBackwardFilter(
      empty('float32', [0, 2, 5, 5]),
      empty('float32', [0, 3, 3, 3]),
      [3, 2, 3, 3],
    )
    expect(dw.shape).toEqual([3, 2, 3, 3])
    expect(dw.data.every((v) => v === 0)).toBe(true)
    expect(
      conv2dBackwardInput(empty('float32', [2, 3, 5, 5]), empty('float32', [3, 0, 3, 3]), [2, 0, 5, 5], {
        padding: 1,
      }).shape,
    ).toEqual([2, 0, 5, 5])
  })
})

describe('conv2d gradients', () => {
  // ⟨conv2d(x, w), dy⟩ = ⟨x, conv2dBackwardInput(dy, w)⟩ = ⟨w, conv2dBackwardFilter(x, dy)⟩:
  // the two gradients are the adjoints of the forward map in each argument.
  const checkAdjoint = (g: Geometry, seed: number): void => {
    const rand = mulberry32(seed)
    const x = randomTensor(rand, 'float64', g.xShape)
    const w = randomTensor(rand, 'float64', g.wShape)
    const y = conv2d(x, w, g.opts)
    const dy = randomTensor(rand, 'float64', y.shape)
    const dx = conv2dBackwardInput(dy, w, g.xShape, g.opts)
    const dw = conv2dBackwardFilter(x, dy, g.wShape, g.opts)
    expect(dx.shape).toEqual(g.xShape)
    expect(dw.shape).toEqual(g.wShape)
    const forward = dot(y.data, dy.data)
    const scale = Math.max(1, Math.abs(forward))
    expect(Math.abs(dot(x.data, dx.data) - forward)).toBeLessThanOrEqual(1e-9 * scale)
    expect(Math.abs(dot(w.data, dw.data) - forward)).toBeLessThanOrEqual(1e-9 * scale)
  }

  it('are the adjoints of conv2d (property)', () => {
    const pair = (lo: number, hi: number) =>
      fc.oneof(
        fc.integer({ min: lo, max: hi }),
        fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi })),
      )
    const padding: fc.Arbitrary<Padding2d | undefined> = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom<Padding2d>('same', 'valid'),
      fc.integer({ min: 0, max: 2 }),
      fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
      fc.tuple(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
      ),
    )
    const geometry = fc
      .record({
        n: fc.integer({ min: 1, max: 2 }),
        c: fc.integer({ min: 1, max: 3 }),
        o: fc.integer({ min: 1, max: 3 }),
        h: fc.integer({ min: 1, max: 8 }),
        w: fc.integer({ min: 1, max: 8 }),
        kh: fc.integer({ min: 1, max: 3 }),
        kw: fc.integer({ min: 1, max: 3 }),
        stride: pair(1, 3),
        dilation: pair(1, 2),
        padding,
      })
      .map(({ n, c, o, h, w, kh, kw, stride, dilation, padding: pad }): Geometry => ({
        xShape: [n, c, h, w],
        wShape: [o, c, kh, kw],
        opts: { stride, dilation, ...(pad === undefined ? {} : { padding: pad }) },
      }))
      .filter(fits)
    fc.assert(
      fc.property(geometry, fc.integer(), (g, seed) => checkAdjoint(g, seed)),
      { numRuns: 150 },
    )
  })

  it('are the adjoints of conv2d on the 1x1 path and across GEMM blocks', () => {
    checkAdjoint({ xShape: [2, 3, 4, 5], wShape: [4, 3, 1, 1], opts: {} }, 1)
    checkAdjoint({ xShape: [2, 16, 18, 17], wShape: [3, 16, 3, 3], opts: { padding: 'same' } }, 2)
    checkAdjoint(
      {
        xShape: [1, 2, 9, 9],
        wShape: [2, 2, 3, 3],
        opts: { stride: [2, 3], dilation: [2, 1], padding: [1, 0, 2, 1] },
      },
      3,
    )
  })

  it('promote dtypes like the forward op', () => {
    const rand = mulberry32(17)
    const x = randomTensor(rand, 'float32', [1, 2, 4, 4])
    const w = randomTensor(rand, 'float64', [3, 2, 3, 3])
    const dy = randomTensor(rand, 'float32', [1, 3, 2, 2])
    expect(conv2dBackwardInput(dy, w, x.shape).dtype).toBe('float64')
    expect(conv2dBackwardFilter(x, dy, w.shape).dtype).toBe('float32')
  })
})

describe('conv2d with groups', () => {
  // Random small geometries (the reference backend) and sizes above the wasm backend's threshold
  // (this suite also runs with the wasm backend selected): depthwise, 2 groups, grouped 1×1.
  const grouped = (rand: () => number): Geometry => {
    const g = randomGeometry(rand)
    const groups = randomInt(rand, 2, 3)
    const perGroupIn = randomInt(rand, 1, 2)
    const perGroupOut = randomInt(rand, 1, 2)
    return {
      xShape: [g.xShape[0], groups * perGroupIn, g.xShape[2], g.xShape[3]],
      wShape: [groups * perGroupOut, perGroupIn, g.wShape[2], g.wShape[3]],
      opts: { ...g.opts, groups },
    }
  }
  const large: ReadonlyArray<Geometry> = [
    { xShape: [2, 6, 10, 10], wShape: [6, 1, 3, 3], opts: { groups: 6, padding: 'same' } },
    { xShape: [2, 8, 12, 12], wShape: [8, 2, 3, 3], opts: { groups: 4, stride: 2, padding: 1 } },
    { xShape: [2, 4, 16, 16], wShape: [6, 2, 3, 3], opts: { groups: 2, dilation: 2 } },
    { xShape: [1, 4, 16, 16], wShape: [4, 2, 1, 1], opts: { groups: 2 } },
    { xShape: [2, 3, 12, 12], wShape: [6, 1, 3, 3], opts: { groups: 3 } },
  ]

  it('matches the naive grouped convolution (random geometries, depthwise, 2 groups, 1×1)', () => {
    const rand = mulberry32(29)
    const cases = [...Array.from({ length: 60 }, () => grouped(rand)).filter(fits), ...large]
    for (const g of cases) {
      for (const dtype of ['float32', 'float64'] as const) {
        const x = randomTensor(rand, dtype, g.xShape)
        const w = randomTensor(rand, dtype, g.wShape)
        expectMatches(conv2d(x, w, g.opts), naiveConv2d(x, w, g.opts), dtype === 'float32' ? 1e-5 : 1e-14)
      }
    }
  })

  it('has gradients that are the adjoints of the grouped conv2d', () => {
    const rand = mulberry32(31)
    for (const g of [...Array.from({ length: 30 }, () => grouped(rand)).filter(fits), ...large]) {
      const x = randomTensor(rand, 'float64', g.xShape)
      const w = randomTensor(rand, 'float64', g.wShape)
      const y = conv2d(x, w, g.opts)
      const dy = randomTensor(rand, 'float64', y.shape)
      const forward = dot(y.data, dy.data)
      const scale = Math.max(1, Math.abs(forward))
      const dx = conv2dBackwardInput(dy, w, g.xShape, g.opts)
      const dw = conv2dBackwardFilter(x, dy, g.wShape, g.opts)
      expect(Math.abs(dot(x.data, dx.data) - forward)).toBeLessThanOrEqual(1e-9 * scale)
      expect(Math.abs(dot(w.data, dw.data) - forward)).toBeLessThanOrEqual(1e-9 * scale)
      // float32 (the wasm backend's path) against the float64 result.
      const [x32, w32, dy32] = [x, w, dy].map((t) =>
        unsafeTensor('float32', t.shape, Float32Array.from(t.data)),
      )
      const close = (a: Tensor, b: Tensor): void =>
        Array.from(a.data).forEach((v, i) => expect(v).toBeCloseTo(b.data[i]!, 4))
      close(conv2dBackwardInput(dy32!, w32!, g.xShape, g.opts), dx)
      close(conv2dBackwardFilter(x32!, dy32!, g.wShape, g.opts), dw)
    }
  })

  it('normalises groups 1 away and rejects groups that do not fit the shapes', () => {
    expect(conv2dSpec('conv2d', [1, 4, 5, 5], [4, 4, 3, 3], { groups: 1 })).toEqual(
      conv2dSpec('conv2d', [1, 4, 5, 5], [4, 4, 3, 3]),
    )
    expect(conv2dSpec('conv2d', [1, 4, 5, 5], [4, 2, 3, 3], { groups: 2 }).groups).toBe(2)
    const x = unsafeTensor('float32', [1, 4, 5, 5], new Float32Array(100))
    const w = (shape: number[]): Tensor => unsafeTensor('float32', shape, new Float32Array(product(shape)))
    expect(() => conv2d(x, w([6, 2, 3, 3]), { groups: 3 })).toThrow(ShapeError)
    expect(() => conv2d(x, w([6, 2, 3, 3]), { groups: 3 })).toThrow(
      /^conv2d: groups 3 must divide both the input channels \(x \[1,4,5,5\]: 4\)/,
    )
    expect(() => conv2d(x, w([3, 2, 3, 3]), { groups: 2 })).toThrow(/output channels \(w \[3,2,3,3\]: 3\)/)
    expect(() => conv2d(x, w([4, 4, 3, 3]), { groups: 2 })).toThrow(
      /^conv2d: channel mismatch: .*must have 2 input channels per group; expected x.shape\[1\] === w.shape\[1\] \* groups/,
    )
    for (const groups of [0, -1, 1.5, Number.NaN])
      expect(() => conv2d(x, w([4, 4, 3, 3]), { groups })).toThrow(ValueError)
    const dy = unsafeTensor('float32', [1, 4, 3, 3], new Float32Array(36))
    expect(() => conv2dBackwardInput(dy, w([4, 4, 3, 3]), x.shape, { groups: 2 })).toThrow(
      /^conv2dBackwardInput: channel mismatch/,
    )
    expect(() => conv2dBackwardFilter(x, dy, [4, 4, 3, 3], { groups: 2 })).toThrow(
      /^conv2dBackwardFilter: channel mismatch/,
    )
  })
})

describe('conv2d argument errors', () => {
  const x = unsafeTensor('float32', [1, 3, 5, 5], new Float32Array(75))
  const w = unsafeTensor('float32', [2, 3, 3, 3], new Float32Array(54))
  const dy = unsafeTensor('float32', [1, 2, 3, 3], new Float32Array(18))

  it('rejects wrong ranks with a ShapeError naming the op and the shapes', () => {
    const x3 = unsafeTensor('float32', [3, 5, 5], new Float32Array(75))
    expect(() => conv2d(x3, w)).toThrow(ShapeError)
    expect(() => conv2d(x3, w)).toThrow(/^conv2d: .*\[3,5,5\].*\[2,3,3,3\]/)
    const w2 = unsafeTensor('float32', [2, 27], new Float32Array(54))
    expect(() => conv2d(x, w2)).toThrow(/^conv2d: .*\[2,27\].*\[1,3,5,5\]/)
    expect(() => conv2dBackwardInput(dy, w, [3, 5, 5])).toThrow(/^conv2dBackwardInput: .*\[3,5,5\]/)
    expect(() => conv2dBackwardFilter(x, dy, [2, 3, 3])).toThrow(/^conv2dBackwardFilter: .*\[2,3,3\]/)
  })

  it('rejects a channel mismatch', () => {
    const w4 = unsafeTensor('float32', [2, 4, 3, 3], new Float32Array(72))
    expect(() => conv2d(x, w4)).toThrow(ShapeError)
    expect(() => conv2d(x, w4)).toThrow(
      /^conv2d: channel mismatch: x \[1,3,5,5\] has 3 channels but w \[2,4,3,3\]/,
    )
  })

  it('rejects bad stride, dilation and padding values with a ValueError', () => {
    const bad: ReadonlyArray<Conv2dOptions> = [
      { stride: 0 },
      { stride: [1, -1] },
      { stride: 1.5 },
      { dilation: 0 },
      { dilation: [2, 0] },
      { padding: -1 },
      { padding: [1, -2] },
      { padding: [0, 0, 0, 0.5] },
      // A caller without the type checker can pass anything; the shapes below are wrong on purpose.
      { stride: [1, 1, 1] as unknown as [number, number] },
      { padding: [1, 2, 3] as unknown as [number, number] },
      { padding: 'full' as unknown as 'same' },
    ]
    for (const opts of bad) {
      expect(() => conv2d(x, w, opts)).toThrow(ValueError)
      expect(() => conv2d(x, w, opts)).toThrow(/^conv2d: .*x \[1,3,5,5\], w \[2,3,3,3\]/)
      expect(() => conv2dBackwardInput(dy, w, x.shape, opts)).toThrow(/^conv2dBackwardInput: /)
    }
  })

  it('rejects a kernel larger than the padded input', () => {
    const big = unsafeTensor('float32', [2, 3, 6, 1], new Float32Array(36))
    expect(() => conv2d(x, big)).toThrow(ShapeError)
    expect(() => conv2d(x, big)).toThrow(/^conv2d: .*larger than the padded input.*\[1,3,5,5\].*\[2,3,6,1\]/)
    expect(conv2d(x, big, { padding: [1, 0] }).shape).toEqual([1, 2, 2, 5])
    expect(() => conv2d(x, w, { dilation: 3 })).toThrow(ShapeError)
  })

  it('rejects a cotangent of the wrong shape', () => {
    const wrong = unsafeTensor('float32', [1, 2, 4, 4], new Float32Array(32))
    expect(() => conv2dBackwardInput(wrong, w, x.shape)).toThrow(ShapeError)
    expect(() => conv2dBackwardInput(wrong, w, x.shape)).toThrow(
      /^conv2dBackwardInput: dy \[1,2,4,4\].*\[1,2,3,3\]/,
    )
    expect(() => conv2dBackwardFilter(x, wrong, w.shape)).toThrow(/^conv2dBackwardFilter: dy \[1,2,4,4\]/)
    expect(conv2dBackwardInput(wrong, w, x.shape, { padding: [0, 1, 0, 1] }).shape).toEqual([1, 3, 5, 5])
  })

  it('rejects a non-integer shape argument', () => {
    expect(() => conv2dBackwardInput(dy, w, [1, 3, 5, 5.5])).toThrow(ValueError)
  })
})
