import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import type { DType } from '../src/dtype'
import { ValueError } from '../src/errors'
import { allClose, item, toArray, toNested, toString } from '../src/format'
import { unsafeTensor } from '../src/tensor'
import type { Tensor } from '../src/tensor'

const make = (dtype: DType, shape: ReadonlyArray<number>, values: ReadonlyArray<number>): Tensor => {
  const data =
    dtype === 'float32'
      ? Float32Array.from(values)
      : dtype === 'float64'
        ? Float64Array.from(values)
        : Int32Array.from(values)
  return unsafeTensor(dtype, [...shape], data)
}
const f32 = (shape: ReadonlyArray<number>, values: ReadonlyArray<number>): Tensor =>
  make('float32', shape, values)
const range = (n: number, f: (i: number) => number = (i) => i): number[] =>
  Array.from({ length: n }, (_, i) => f(i))

// ---- destructors -----------------------------------------------------------------------------

describe('toArray', () => {
  it('returns the elements flat and row-major, as a copy', () => {
    const x = make('int32', [2, 2], [1, 2, 3, 4])
    const out = toArray(x)
    expect(out).toEqual([1, 2, 3, 4])
    out[0] = 9
    expect(x.data[0]).toBe(1)
    expect(toArray(f32([0], []))).toEqual([])
  })
})

describe('toNested', () => {
  it('rebuilds nested arrays shaped like the tensor', () => {
    expect(toNested(f32([], [2.5]))).toBe(2.5)
    expect(toNested(f32([3], [1, 2, 3]))).toEqual([1, 2, 3])
    expect(toNested(make('int32', [2, 3], [1, 2, 3, 4, 5, 6]))).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ])
    expect(toNested(f32([2, 0], []))).toEqual([[], []])
    expect(toNested(f32([0, 3], []))).toEqual([])
  })

  it('agrees with direct indexing on random shapes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }), (shape) => {
        const size = shape.reduce((a, b) => a * b, 1)
        const x = make(
          'float64',
          shape,
          range(size, (i) => i * 1.5),
        )
        const nested = toNested(x)
        // read element (i0, i1, ...) through the nested arrays and compare with row-major data
        const strides = shape.map((_, axis) => shape.slice(axis + 1).reduce((a, b) => a * b, 1))
        for (let flat = 0; flat < size; flat++) {
          let node: unknown = nested
          for (let axis = 0; axis < shape.length; axis++)
            node = (node as unknown[])[Math.floor(flat / strides[axis]!) % shape[axis]!]
          expect(node).toBe(x.data[flat])
        }
      }),
      { numRuns: 100 },
    )
  })
})

describe('item', () => {
  it('returns the single element of any size-1 tensor', () => {
    expect(item(f32([], [4]))).toBe(4)
    expect(item(make('int32', [1], [-3]))).toBe(-3)
    expect(item(make('float64', [1, 1, 1], [0.1]))).toBe(0.1)
  })

  it('rejects other sizes with a ValueError naming the shape', () => {
    expect(() => item(f32([2, 3], range(6)))).toThrow(ValueError)
    expect(() => item(f32([2, 3], range(6)))).toThrow('[2,3] has 6 elements')
    expect(() => item(f32([0], []))).toThrow(ValueError)
  })
})

// ---- toString (expected outputs written by hand, following NumPy's repr) ---------------------

describe('toString', () => {
  it('prints a small float32 matrix with one row per line', () => {
    expect(toString(f32([2, 2], [1, 2, 3, 4]))).toBe('tensor([[1., 2.],\n        [3., 4.]])')
  })

  it('aligns mixed floats on the point, padding short fractions with spaces', () => {
    expect(toString(f32([3], [0.5, 1, -2.25]))).toBe('tensor([ 0.5 ,  1.  , -2.25])')
    expect(toString(f32([2, 2], [10.5, 2, -3, 4.125]))).toBe(
      'tensor([[10.5  ,  2.   ],\n        [-3.   ,  4.125]])',
    )
  })

  it('names int32 and aligns integers right', () => {
    expect(toString(make('int32', [2, 2], [1, 2, 3, 4]))).toBe(
      'tensor([[1, 2],\n        [3, 4]], dtype=int32)',
    )
    expect(toString(make('int32', [3], [-10, 5, 200]))).toBe('tensor([-10,   5, 200], dtype=int32)')
  })

  it('prints the shortest digits that identify the value in its own dtype', () => {
    expect(toString(f32([2], [1 / 3, 2 / 3]))).toBe('tensor([0.33333334, 0.6666667 ])')
    expect(toString(make('float64', [2], [1 / 3, 2 / 3]))).toBe(
      'tensor([0.33333333, 0.66666667], dtype=float64)',
    )
    expect(toString(make('float64', [2], [0.1, 0.25]))).toBe('tensor([0.1 , 0.25], dtype=float64)')
  })

  it('honours precision', () => {
    expect(toString(make('float64', [2], [1 / 3, 2]), { precision: 3 })).toBe(
      'tensor([0.333, 2.   ], dtype=float64)',
    )
    expect(toString(f32([2], [0.75, 2]), { precision: 0 })).toBe('tensor([1., 2.])')
  })

  it('switches to scientific notation for wide ranges, tiny or huge values', () => {
    expect(toString(f32([2], [1e-5, 1.5e-5]))).toBe('tensor([1.0e-05, 1.5e-05])')
    expect(toString(make('float64', [2], [1, 1e10]))).toBe('tensor([1.e+00, 1.e+10], dtype=float64)')
    expect(toString(make('float64', [2], [1, 2000]))).toBe('tensor([1.e+00, 2.e+03], dtype=float64)')
    // exponents are zero-padded to a common width, as NumPy does
    expect(toString(make('float64', [2], [-1e-300, 1]))).toBe('tensor([-1.e-300,  1.e+000], dtype=float64)')
  })

  it('prints nan and infinities right-aligned in the column width', () => {
    expect(toString(f32([3], [NaN, 1.5, -Infinity]))).toBe('tensor([ nan,  1.5, -inf])')
    expect(toString(f32([2], [NaN, Infinity]))).toBe('tensor([nan, inf])')
    expect(toString(f32([2], [1e-5, NaN]))).toBe('tensor([1.e-05,    nan])')
  })

  it('keeps the sign of negative zero', () => {
    expect(toString(f32([2], [-0, 1]))).toBe('tensor([-0.,  1.])')
  })

  it('prints scalars bare', () => {
    expect(toString(f32([], [5]))).toBe('tensor(5.)')
    expect(toString(make('int32', [], [3]))).toBe('tensor(3, dtype=int32)')
    expect(toString(make('float64', [], [-0.5]))).toBe('tensor(-0.5, dtype=float64)')
  })

  it('prints size-0 tensors with their shape when it is not [0]', () => {
    expect(toString(f32([0], []))).toBe('tensor([])')
    expect(toString(make('int32', [0], []))).toBe('tensor([], dtype=int32)')
    expect(toString(f32([2, 0], []))).toBe('tensor([], shape=[2,0])')
    expect(toString(make('float64', [0, 3], []))).toBe('tensor([], shape=[0,3], dtype=float64)')
  })

  it('separates 2-D blocks of a 3-D tensor with a blank line', () => {
    expect(toString(make('int32', [2, 2, 2], range(8)))).toBe(
      'tensor([[[0, 1],\n' +
        '         [2, 3]],\n' +
        '\n' +
        '        [[4, 5],\n' +
        '         [6, 7]]], dtype=int32)',
    )
  })

  it('wraps long rows at 75 columns and moves the dtype to its own line when needed', () => {
    expect(toString(make('float64', [30], range(30)))).toBe(
      'tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12.,\n' +
        '        13., 14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25.,\n' +
        '        26., 27., 28., 29.], dtype=float64)',
    )
    expect(
      toString(
        make(
          'float64',
          [5],
          range(5, (i) => i / 4 + 0.1),
        ),
      ),
    ).toBe('tensor([0.1 , 0.35, 0.6 , 0.85, 1.1 ], dtype=float64)')
    const wide = toString(
      make(
        'float64',
        [10],
        range(10, (i) => i / 7),
      ),
    )
    expect(wide).toBe(
      'tensor([0.        , 0.14285714, 0.28571429, 0.42857143, 0.57142857,\n' +
        '        0.71428571, 0.85714286, 1.        , 1.14285714, 1.28571429],\n' +
        '       dtype=float64)',
    )
    for (const line of wide.split('\n')) expect(line.length).toBeLessThanOrEqual(75)
  })

  it('abbreviates large tensors with ... keeping edgeItems per axis', () => {
    expect(toString(make('int32', [2000], range(2000)))).toBe(
      'tensor([   0,    1,    2, ..., 1997, 1998, 1999], dtype=int32)',
    )
    expect(toString(make('int32', [50, 50], range(2500)))).toBe(
      'tensor([[   0,    1,    2, ...,   47,   48,   49],\n' +
        '        [  50,   51,   52, ...,   97,   98,   99],\n' +
        '        [ 100,  101,  102, ...,  147,  148,  149],\n' +
        '        ...,\n' +
        '        [2350, 2351, 2352, ..., 2397, 2398, 2399],\n' +
        '        [2400, 2401, 2402, ..., 2447, 2448, 2449],\n' +
        '        [2450, 2451, 2452, ..., 2497, 2498, 2499]], dtype=int32)',
    )
  })

  it('sizes columns by the shown values only', () => {
    // 1e9 is hidden by the abbreviation, so it must not widen the columns
    const values = range(1001, (i) => (i === 500 ? 1e9 : i % 10))
    expect(toString(make('int32', [1001], values))).toBe('tensor([0, 1, 2, ..., 8, 9, 0], dtype=int32)')
  })

  it('honours threshold and edgeItems', () => {
    expect(toString(make('int32', [10], range(10)), { threshold: 5, edgeItems: 2 })).toBe(
      'tensor([0, 1, ..., 8, 9], dtype=int32)',
    )
    expect(toString(make('int32', [4], range(4)), { threshold: 3, edgeItems: 2 })).toBe(
      'tensor([0, 1, 2, 3], dtype=int32)',
    )
    expect(toString(make('int32', [1001], range(1001)), { threshold: Infinity })).not.toContain('...')
  })

  it('rejects bad options with ValueError', () => {
    const x = f32([1], [1])
    expect(() => toString(x, { precision: -1 })).toThrow(ValueError)
    expect(() => toString(x, { precision: 1.5 })).toThrow(ValueError)
    expect(() => toString(x, { threshold: -1 })).toThrow(ValueError)
    expect(() => toString(x, { edgeItems: 0 })).toThrow(ValueError)
  })
})

// ---- allClose --------------------------------------------------------------------------------

/** NumPy's isclose for one pair, written out. */
const naiveClose = (x: number, y: number, rtol: number, atol: number, equalNaN: boolean): boolean => {
  if (Number.isNaN(x) || Number.isNaN(y)) return equalNaN && Number.isNaN(x) && Number.isNaN(y)
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y
  return Math.abs(x - y) <= atol + rtol * Math.abs(y)
}

/** Broadcast compare by expanding every output index with divmod. */
const naiveAllClose = (
  a: Tensor,
  b: Tensor,
  rtol: number,
  atol: number,
  equalNaN: boolean,
): boolean | 'incompatible' => {
  const rank = Math.max(a.shape.length, b.shape.length)
  const pad = (s: ReadonlyArray<number>): number[] => [...Array<number>(rank - s.length).fill(1), ...s]
  const as = pad(a.shape)
  const bs = pad(b.shape)
  const out: number[] = []
  for (let i = 0; i < rank; i++) {
    if (as[i] !== bs[i] && as[i] !== 1 && bs[i] !== 1) return 'incompatible'
    out.push(as[i] === 1 ? bs[i]! : as[i]!)
  }
  const size = out.reduce((p, d) => p * d, 1)
  for (let flat = 0; flat < size; flat++) {
    let rest = flat
    let ai = 0
    let bi = 0
    let aStride = 1
    let bStride = 1
    for (let axis = rank - 1; axis >= 0; axis--) {
      const index = rest % out[axis]!
      rest = Math.floor(rest / out[axis]!)
      ai += (as[axis] === 1 ? 0 : index) * aStride
      bi += (bs[axis] === 1 ? 0 : index) * bStride
      aStride *= as[axis]!
      bStride *= bs[axis]!
    }
    if (!naiveClose(a.data[ai]!, b.data[bi]!, rtol, atol, equalNaN)) return false
  }
  return true
}

describe('allClose', () => {
  it('uses |a - b| <= atol + rtol * |b| with NumPy defaults', () => {
    expect(allClose(f32([2], [1, 2]), f32([2], [1, 2]))).toBe(true)
    expect(allClose(make('float64', [1], [1]), make('float64', [1], [1 + 5e-6]))).toBe(true)
    expect(allClose(make('float64', [1], [1]), make('float64', [1], [1 + 2e-5]))).toBe(false)
    expect(allClose(make('float64', [1], [0]), make('float64', [1], [5e-9]))).toBe(true)
    expect(allClose(make('float64', [1], [0]), make('float64', [1], [2e-8]))).toBe(false)
    expect(allClose(make('float64', [1], [1]), make('float64', [1], [1.1]), { rtol: 0.1 })).toBe(true)
    expect(allClose(make('float64', [1], [1]), make('float64', [1], [1.1]), { atol: 0.2 })).toBe(true)
  })

  it('is asymmetric like NumPy (the tolerance scales with |b|)', () => {
    const a = make('float64', [1], [0])
    const b = make('float64', [1], [1])
    expect(allClose(a, b, { rtol: 1, atol: 0 })).toBe(true)
    expect(allClose(b, a, { rtol: 1, atol: 0 })).toBe(false)
  })

  it('treats NaN as different unless equalNaN, and infinities as equal only to themselves', () => {
    const nan = f32([1], [NaN])
    expect(allClose(nan, nan)).toBe(false)
    expect(allClose(nan, nan, { equalNaN: true })).toBe(true)
    expect(allClose(nan, f32([1], [1]), { equalNaN: true })).toBe(false)
    const inf = f32([1], [Infinity])
    expect(allClose(inf, inf)).toBe(true)
    expect(allClose(inf, f32([1], [-Infinity]))).toBe(false)
    expect(allClose(f32([1], [1]), inf)).toBe(false)
    expect(allClose(inf, f32([1], [1e30]), { rtol: 10 })).toBe(false)
  })

  it('broadcasts shapes, and answers false (not an error) when they do not broadcast', () => {
    expect(allClose(f32([2, 1], [1, 2]), f32([3], [1, 1, 1]))).toBe(false)
    expect(allClose(f32([2, 1], [1, 1]), f32([3], [1, 1, 1]))).toBe(true)
    expect(allClose(f32([], [2]), f32([2, 2], [2, 2, 2, 2]))).toBe(true)
    expect(allClose(f32([2], [1, 2]), f32([3], [1, 2, 3]))).toBe(false)
    expect(allClose(f32([0], []), f32([3, 0], []))).toBe(true)
    expect(allClose(make('int32', [2], [1, 2]), make('float64', [2], [1, 2]))).toBe(true)
  })

  it('agrees with a naive broadcast comparison on random shapes and values', () => {
    const dim = fc.constantFrom<number>(0, 1, 1, 2, 3)
    const shape = fc.array(dim, { maxLength: 3 })
    const value = fc.constantFrom<number>(0, 1, 1, 1.000001, 2, NaN, Infinity, -Infinity)
    const values = fc.array(value, { minLength: 27, maxLength: 27 })
    fc.assert(
      fc.property(
        shape,
        shape,
        values,
        values,
        fc.boolean(),
        (aShape, bShape, aValues, bValues, equalNaN) => {
          const sizeA = aShape.reduce((p, d) => p * d, 1)
          const sizeB = bShape.reduce((p, d) => p * d, 1)
          const a = make('float64', aShape, aValues.slice(0, sizeA))
          const b = make('float64', bShape, bValues.slice(0, sizeB))
          const expected = naiveAllClose(a, b, 1e-5, 1e-8, equalNaN)
          expect(allClose(a, b, { equalNaN })).toBe(expected === true)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('rejects negative or NaN tolerances', () => {
    const x = f32([1], [1])
    expect(() => allClose(x, x, { rtol: -1 })).toThrow(ValueError)
    expect(() => allClose(x, x, { atol: NaN })).toThrow(ValueError)
  })
})
