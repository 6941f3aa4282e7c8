import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import type { DType } from '../src/dtype'
import type { Tensor } from '../src/tensor'
import type { Padding2d } from '../src/kernels/conv'
import type { Pool2dOptions } from '../src/kernels/pool'
import { ShapeError, ValueError } from '../src/errors'
import { unsafeTensor } from '../src/tensor'
import {
  avgPool2d,
  avgPool2dBackward,
  maxPool2d,
  maxPool2dBackward,
  maxPool2dSelect,
  pool2dOutputShape,
  pool2dSpec,
} from '../src/kernels/pool'
import { dot, explicitPadding, mulberry32, pairOf, product, randomInt, tensorOf } from './helpers'

// ---------------------------------------------------------------------------------------------
// Helpers: seeded data and naive pooling written from the definitions.

/** Small negative integers, so windows have ties and a zero from the padding would win if it counted. */
const tiedTensor = (rand: () => number, dtype: DType, shape: ReadonlyArray<number>): Tensor =>
  tensorOf(
    dtype,
    shape,
    Array.from({ length: product(shape) }, () => randomInt(rand, -4, -1)),
  )

/** Seeded float64 tensors, uniform in [-1, 1). */
const randomTensor = (rand: () => number, shape: ReadonlyArray<number>): Tensor =>
  tensorOf(
    'float64',
    shape,
    Array.from({ length: product(shape) }, () => rand() * 2 - 1),
  )

interface Windows {
  readonly outShape: number[]
  /** For each output element, the flat indices of x its window covers (row-major), padding excluded. */
  readonly members: number[][]
  readonly area: number
}

const naiveWindows = (xShape: ReadonlyArray<number>, opts: Pool2dOptions): Windows => {
  const [N, C, H, W] = xShape as [number, number, number, number]
  const kernel = pairOf(opts.kernelSize, [1, 1])
  const stride = pairOf(opts.stride, kernel)
  const [top, bottom, left, right] = explicitPadding(opts.padding, H, W, kernel, stride)
  const outH = Math.floor((H + top + bottom - kernel[0]) / stride[0]) + 1
  const outW = Math.floor((W + left + right - kernel[1]) / stride[1]) + 1
  const members: number[][] = []
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < outH; i++)
        for (let j = 0; j < outW; j++) {
          const window: number[] = []
          for (let p = 0; p < kernel[0]; p++)
            for (let q = 0; q < kernel[1]; q++) {
              const h = i * stride[0] + p - top
              const v = j * stride[1] + q - left
              if (h >= 0 && h < H && v >= 0 && v < W) window.push(((n * C + c) * H + h) * W + v)
            }
          members.push(window)
        }
  return { outShape: [N, C, outH, outW], members, area: kernel[0] * kernel[1] }
}

/** Index of the first maximum of each window (strictly greater replaces, so ties keep the first). */
const naiveArgmax = (x: Tensor, windows: Windows): number[] =>
  windows.members.map((window) => {
    let best = window[0]!
    for (const at of window) if (x.data[at]! > x.data[best]!) best = at
    return best
  })

const randomOptions = (rand: () => number): Pool2dOptions => {
  const kernelSize =
    rand() < 0.5 ? randomInt(rand, 1, 3) : ([randomInt(rand, 1, 3), randomInt(rand, 1, 3)] as const)
  const [kh, kw] = pairOf(kernelSize, [1, 1])
  const stride = rand() < 0.3 ? undefined : ([randomInt(rand, 1, 3), randomInt(rand, 1, 3)] as const)
  const small = (k: number): number => randomInt(rand, 0, k - 1)
  const forms: ReadonlyArray<Padding2d | undefined> = [
    undefined,
    Math.min(small(kh), small(kw)),
    [small(kh), small(kw)],
    [small(kh), small(kh), small(kw), small(kw)],
    'same',
    'valid',
  ]
  const padding = forms[randomInt(rand, 0, forms.length - 1)]
  return {
    kernelSize,
    ...(stride === undefined ? {} : { stride }),
    ...(padding === undefined ? {} : { padding }),
  }
}

const fits = (xShape: ReadonlyArray<number>, opts: Pool2dOptions): boolean => {
  const kernel = pairOf(opts.kernelSize, [1, 1])
  const stride = pairOf(opts.stride, kernel)
  const [t, b, l, r] = explicitPadding(opts.padding, xShape[2]!, xShape[3]!, kernel, stride)
  return kernel[0] <= xShape[2]! + t + b && kernel[1] <= xShape[3]! + l + r
}

const randomShape = (rand: () => number): [number, number, number, number] => [
  randomInt(rand, 1, 2),
  randomInt(rand, 1, 3),
  randomInt(rand, 1, 7),
  randomInt(rand, 1, 7),
]

// ---------------------------------------------------------------------------------------------

describe('maxPool2d', () => {
  it('matches the naive max pool, gradient routing and selection on random geometries with ties', () => {
    const rand = mulberry32(21)
    let checked = 0
    for (let trial = 0; trial < 150; trial++) {
      const xShape = randomShape(rand)
      const opts = randomOptions(rand)
      const dtype: DType = (['float32', 'float64', 'int32'] as const)[trial % 3]!
      const x = tiedTensor(rand, dtype, xShape)
      if (!fits(xShape, opts)) {
        expect(() => maxPool2d(x, opts)).toThrow(ShapeError)
        continue
      }
      checked++
      const windows = naiveWindows(xShape, opts)
      const argmax = naiveArgmax(x, windows)
      const pooled = maxPool2d(x, opts)
      expect(pooled.dtype).toBe(dtype)
      expect([...pooled.shape]).toEqual(windows.outShape)
      expect([...pooled.data]).toEqual(argmax.map((at) => x.data[at]!))
      expect(pool2dOutputShape(xShape, pool2dSpec('maxPool2d', xShape, opts))).toEqual(windows.outShape)

      // Integer cotangents make the routed sums exact.
      const dy = unsafeTensor(
        'float64',
        windows.outShape,
        Float64Array.from(argmax, () => randomInt(rand, -9, 9)),
      )
      const expectedDx = new Array<number>(product(xShape)).fill(0)
      argmax.forEach((at, o) => (expectedDx[at] = expectedDx[at]! + dy.data[o]!))
      const dx = maxPool2dBackward(dy, x, opts)
      expect([...dx.shape]).toEqual(xShape)
      expect([...dx.data]).toEqual(expectedDx)

      const src = randomTensor(rand, xShape)
      const selected = maxPool2dSelect(src, x, opts)
      expect(selected.dtype).toBe('float64')
      expect([...selected.data]).toEqual(argmax.map((at) => src.data[at]!))
    }
    expect(checked).toBeGreaterThan(100)
  })

  it('sends the gradient of a tie to the first maximum in row-major window order', () => {
    const x = unsafeTensor('float32', [1, 1, 3, 3], new Float32Array(9).fill(2))
    const dy = unsafeTensor('float32', [1, 1, 2, 2], Float32Array.of(1, 10, 100, 1000))
    // Windows start at (0,0), (0,1), (1,0), (1,1): each tie goes to its window's top-left element.
    expect([...maxPool2dBackward(dy, x, { kernelSize: 2, stride: 1 }).data]).toEqual([
      1, 10, 0, 100, 1000, 0, 0, 0, 0,
    ])
    const later = unsafeTensor('float64', [1, 1, 2, 2], Float64Array.of(0, 5, 5, 5))
    expect([
      ...maxPool2dBackward(unsafeTensor('float64', [1, 1, 1, 1], Float64Array.of(3)), later, {
        kernelSize: 2,
      }).data,
    ]).toEqual([0, 3, 0, 0])
  })

  it('ignores padded positions (they act as -Infinity)', () => {
    const x = unsafeTensor('float32', [1, 1, 2, 2], Float32Array.of(-1, -2, -3, -4))
    const pooled = maxPool2d(x, { kernelSize: 2, stride: 1, padding: 1 })
    expect(pooled.shape).toEqual([1, 1, 3, 3])
    expect([...pooled.data]).toEqual([-1, -1, -2, -1, -1, -2, -3, -3, -4])
  })

  it("pools with 'same' padding to ceil(in / stride)", () => {
    const rand = mulberry32(22)
    const x = tiedTensor(rand, 'float64', [1, 2, 5, 6])
    const opts: Pool2dOptions = { kernelSize: 3, stride: 2, padding: 'same' }
    expect(pool2dSpec('maxPool2d', x.shape, opts).padding).toEqual([1, 1, 0, 1])
    const pooled = maxPool2d(x, opts)
    expect(pooled.shape).toEqual([1, 2, 3, 3])
    expect([...pooled.data]).toEqual(naiveArgmax(x, naiveWindows(x.shape, opts)).map((at) => x.data[at]!))
  })

  it('propagates NaN like PyTorch', () => {
    const x = unsafeTensor('float64', [1, 1, 1, 4], Float64Array.of(1, NaN, 3, 2))
    expect(maxPool2d(x, { kernelSize: [1, 2] }).data[0]).toBeNaN()
    const dx = maxPool2dBackward(unsafeTensor('float64', [1, 1, 1, 2], Float64Array.of(1, 1)), x, {
      kernelSize: [1, 2],
    })
    expect([...dx.data]).toEqual([0, 1, 1, 0])
  })

  it('selects x itself to give maxPool2d, and is the adjoint of maxPool2dBackward (property)', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const rand = mulberry32(seed)
        const xShape = randomShape(rand)
        const opts = randomOptions(rand)
        if (!fits(xShape, opts)) return
        const x = tiedTensor(rand, 'float64', xShape)
        const pooled = maxPool2d(x, opts)
        expect([...maxPool2dSelect(x, x, opts).data]).toEqual([...pooled.data])
        // ⟨maxPool2dBackward(dy, x), s⟩ = ⟨dy, maxPool2dSelect(s, x)⟩
        const dy = randomTensor(rand, pooled.shape)
        const s = randomTensor(rand, xShape)
        const left = dot(maxPool2dBackward(dy, x, opts).data, s.data)
        const right = dot(dy.data, maxPool2dSelect(s, x, opts).data)
        expect(Math.abs(left - right)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(left)))
      }),
      { numRuns: 200 },
    )
  })

  it('gives dy the promoted dtype and keeps empty batches empty', () => {
    const x = unsafeTensor('int32', [1, 1, 2, 2], Int32Array.of(1, 2, 3, 4))
    const dy = unsafeTensor('float32', [1, 1, 1, 1], Float32Array.of(0.5))
    const dx = maxPool2dBackward(dy, x, { kernelSize: 2 })
    expect(dx.dtype).toBe('float32')
    expect([...dx.data]).toEqual([0, 0, 0, 0.5])
    const empty = unsafeTensor('float32', [0, 3, 4, 4], new Float32Array(0))
    expect(maxPool2d(empty, { kernelSize: 2 }).shape).toEqual([0, 3, 2, 2])
    expect(
      avgPool2d(unsafeTensor('float32', [2, 0, 4, 4], new Float32Array(0)), { kernelSize: 2 }).shape,
    ).toEqual([2, 0, 2, 2])
  })
})

describe('avgPool2d', () => {
  it('matches the naive average (padding counted in the divisor) on random geometries', () => {
    const rand = mulberry32(23)
    for (let trial = 0; trial < 120; trial++) {
      const xShape = randomShape(rand)
      const opts = randomOptions(rand)
      if (!fits(xShape, opts)) continue
      const x = randomTensor(rand, xShape)
      const windows = naiveWindows(xShape, opts)
      const pooled = avgPool2d(x, opts)
      expect([...pooled.shape]).toEqual(windows.outShape)
      windows.members.forEach((window, o) => {
        const expected = window.reduce((sum, at) => sum + x.data[at]!, 0) / windows.area
        expect(pooled.data[o]).toBeCloseTo(expected, 12)
      })
      const dy = randomTensor(rand, windows.outShape)
      const expectedDx = new Array<number>(product(xShape)).fill(0)
      windows.members.forEach((window, o) => {
        for (const at of window) expectedDx[at] = expectedDx[at]! + dy.data[o]! / windows.area
      })
      const dx = avgPool2dBackward(dy, xShape, opts)
      expect([...dx.shape]).toEqual(xShape)
      dx.data.forEach((v, i) => expect(v).toBeCloseTo(expectedDx[i]!, 12))
    }
  })

  it('divides by the full window even where it overlaps the padding', () => {
    const x = unsafeTensor('float32', [1, 1, 2, 2], Float32Array.of(4, 8, 12, 16))
    const pooled = avgPool2d(x, { kernelSize: 2, stride: 1, padding: 1 })
    expect([...pooled.data]).toEqual([1, 3, 2, 4, 10, 6, 3, 7, 4])
  })

  it('is the adjoint of avgPool2dBackward (property)', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const rand = mulberry32(seed)
        const xShape = randomShape(rand)
        const opts = randomOptions(rand)
        if (!fits(xShape, opts)) return
        const x = randomTensor(rand, xShape)
        const pooled = avgPool2d(x, opts)
        const dy = randomTensor(rand, pooled.shape)
        // ⟨avgPool2d(x), dy⟩ = ⟨x, avgPool2dBackward(dy)⟩
        const left = dot(pooled.data, dy.data)
        const right = dot(x.data, avgPool2dBackward(dy, xShape, opts).data)
        expect(Math.abs(left - right)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(left)))
      }),
      { numRuns: 200 },
    )
  })

  it('returns float32 for int32 input and keeps float64', () => {
    const ints = unsafeTensor('int32', [1, 1, 2, 2], Int32Array.of(1, 2, 3, 5))
    const pooled = avgPool2d(ints, { kernelSize: 2 })
    expect(pooled.dtype).toBe('float32')
    expect([...pooled.data]).toEqual([2.75])
    expect(
      avgPool2d(unsafeTensor('float64', [1, 1, 2, 2], new Float64Array(4)), { kernelSize: 2 }).dtype,
    ).toBe('float64')
    const dx = avgPool2dBackward(unsafeTensor('int32', [1, 1, 1, 1], Int32Array.of(2)), [1, 1, 2, 2], {
      kernelSize: 2,
    })
    expect(dx.dtype).toBe('float32')
    expect([...dx.data]).toEqual([0.5, 0.5, 0.5, 0.5])
  })
})

describe('pooling argument errors', () => {
  const x = unsafeTensor('float32', [1, 2, 4, 4], new Float32Array(32))

  it('rejects a rank other than 4 naming the op and the shape', () => {
    const x3 = unsafeTensor('float32', [2, 4, 4], new Float32Array(32))
    expect(() => maxPool2d(x3, { kernelSize: 2 })).toThrow(ShapeError)
    expect(() => maxPool2d(x3, { kernelSize: 2 })).toThrow(/^maxPool2d: .*\[2,4,4\]/)
    expect(() => avgPool2d(x3, { kernelSize: 2 })).toThrow(/^avgPool2d: .*\[2,4,4\]/)
    expect(() => avgPool2dBackward(x, [2, 4, 4], { kernelSize: 2 })).toThrow(
      /^avgPool2dBackward: .*\[2,4,4\]/,
    )
  })

  it('rejects bad kernel sizes, strides and paddings with a ValueError', () => {
    const bad: ReadonlyArray<Pool2dOptions> = [
      { kernelSize: 0 },
      { kernelSize: [2, -1] },
      { kernelSize: 2, stride: 0 },
      { kernelSize: 2, stride: 1.5 },
      { kernelSize: 2, padding: -1 },
      { kernelSize: 2, padding: 2 },
      { kernelSize: [3, 2], padding: [0, 0, 2, 0] },
      // What an untyped caller might pass.
      { kernelSize: 2, padding: [1, 1, 1] as unknown as [number, number] },
    ]
    for (const opts of bad) {
      expect(() => maxPool2d(x, opts)).toThrow(ValueError)
      expect(() => maxPool2d(x, opts)).toThrow(/^maxPool2d: .*\[1,2,4,4\]/)
      expect(() => avgPool2d(x, opts)).toThrow(/^avgPool2d: /)
    }
  })

  it('rejects a window larger than the padded input and an empty image', () => {
    expect(() => maxPool2d(x, { kernelSize: 5 })).toThrow(ShapeError)
    expect(() => maxPool2d(x, { kernelSize: 5 })).toThrow(/^maxPool2d: .*\[5,5\].*\[1,2,4,4\]/)
    expect(maxPool2d(x, { kernelSize: 5, padding: [1, 0, 0, 1] }).shape).toEqual([1, 2, 1, 1])
    const flat = unsafeTensor('float32', [1, 2, 0, 4], new Float32Array(0))
    expect(() => maxPool2d(flat, { kernelSize: 1 })).toThrow(ShapeError)
  })

  it('rejects a cotangent or source of the wrong shape', () => {
    const dy = unsafeTensor('float32', [1, 2, 3, 3], new Float32Array(18))
    expect(() => maxPool2dBackward(dy, x, { kernelSize: 2 })).toThrow(ShapeError)
    expect(() => maxPool2dBackward(dy, x, { kernelSize: 2 })).toThrow(
      /^maxPool2dBackward: dy \[1,2,3,3\].*\[1,2,2,2\].*\[1,2,4,4\]/,
    )
    expect(() => avgPool2dBackward(dy, x.shape, { kernelSize: 2 })).toThrow(
      /^avgPool2dBackward: dy \[1,2,3,3\]/,
    )
    expect(() => maxPool2dSelect(dy, x, { kernelSize: 2 })).toThrow(
      /^maxPool2dSelect: src \[1,2,3,3\].*\[1,2,4,4\]/,
    )
  })
})
