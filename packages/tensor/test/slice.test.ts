import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import type { Tensor } from '../src/tensor'
import type { SliceRange } from '../src/kernels/slice'
import { ShapeError, ValueError } from '../src/errors'
import { concat, pad, resolveSlice, slice, split, stack } from '../src/kernels/slice'
import {
  at,
  dtypeArb,
  DTYPES,
  expectError,
  expectTensor,
  product,
  sampleTensor,
  shapeArb,
  unravel,
} from './helpers'

// ---------------------------------------------------------------------------------------------
// helpers and naive references (direct loops over multi-indices)

/** Python's `range(n)[start:stop:step]`, written from the language reference. */
const pythonIndices = (n: number, range: SliceRange | undefined): number[] => {
  const step = range?.step ?? 1
  const wrap = (v: number) => (v < 0 ? v + n : v)
  const out: number[] = []
  if (step > 0) {
    const lo = range?.start === undefined ? 0 : Math.min(Math.max(wrap(range.start), 0), n)
    const hi = range?.stop === undefined ? n : Math.min(Math.max(wrap(range.stop), 0), n)
    for (let i = lo; i < hi; i += step) out.push(i)
  } else {
    const hi = range?.start === undefined ? n - 1 : Math.min(Math.max(wrap(range.start), -1), n - 1)
    const lo = range?.stop === undefined ? -1 : Math.min(Math.max(wrap(range.stop), -1), n - 1)
    for (let i = hi; i > lo; i += step) out.push(i)
  }
  return out
}

const naiveSlice = (x: Tensor, ranges: ReadonlyArray<SliceRange | undefined>) => {
  const picks = x.shape.map((dim, i) => pythonIndices(dim, ranges[i]))
  const shape = picks.map((p) => p.length)
  const values: number[] = []
  for (let flat = 0; flat < product(shape); flat++) {
    const outIndex = unravel(flat, shape)
    values.push(
      at(
        x,
        outIndex.map((j, i) => picks[i]![j]!),
      ),
    )
  }
  return { shape, values }
}

const naiveConcat = (xs: ReadonlyArray<Tensor>, axis: number) => {
  const shape = [...xs[0]!.shape]
  shape[axis] = xs.reduce((sum, x) => sum + x.shape[axis]!, 0)
  const values: number[] = []
  for (let flat = 0; flat < product(shape); flat++) {
    const index = unravel(flat, shape)
    let k = 0
    while (index[axis]! >= xs[k]!.shape[axis]!) index[axis] = index[axis]! - xs[k++]!.shape[axis]!
    values.push(at(xs[k]!, index))
  }
  return { shape, values }
}

const naivePad = (x: Tensor, pads: ReadonlyArray<readonly [number, number]>, value: number) => {
  const shape = x.shape.map((dim, i) => (pads[i]?.[0] ?? 0) + dim + (pads[i]?.[1] ?? 0))
  const values: number[] = []
  for (let flat = 0; flat < product(shape); flat++) {
    const index = unravel(flat, shape).map((j, i) => j - (pads[i]?.[0] ?? 0))
    const inside = index.every((j, i) => j >= 0 && j < x.shape[i]!)
    values.push(inside ? at(x, index) : value)
  }
  return { shape, values }
}

const boundArb = fc.option(fc.integer({ min: -8, max: 8 }), { nil: undefined })
const rangeArb: fc.Arbitrary<SliceRange | undefined> = fc.option(
  fc
    .record({
      start: boundArb,
      stop: boundArb,
      step: fc.option(
        fc.integer({ min: -3, max: 3 }).filter((s) => s !== 0),
        { nil: undefined },
      ),
    })
    .map((r) => {
      // exactOptionalPropertyTypes: drop the fields fast-check left undefined
      const range: { start?: number; stop?: number; step?: number } = {}
      if (r.start !== undefined) range.start = r.start
      if (r.stop !== undefined) range.stop = r.stop
      if (r.step !== undefined) range.step = r.step
      return range
    }),
  { nil: undefined },
)

// ---------------------------------------------------------------------------------------------

describe('slice', () => {
  // Expected index lists printed by CPython: list(range(n))[start:stop:step].
  const python: Array<[number, SliceRange, number[]]> = [
    [5, {}, [0, 1, 2, 3, 4]],
    [5, { start: 1 }, [1, 2, 3, 4]],
    [5, { start: -2 }, [3, 4]],
    [5, { step: -1 }, [4, 3, 2, 1, 0]],
    [5, { start: -1, step: -2 }, [4, 2, 0]],
    [5, { start: 10, stop: -10, step: -1 }, [4, 3, 2, 1, 0]],
    [5, { start: -10, stop: 10, step: 1 }, [0, 1, 2, 3, 4]],
    [5, { start: 3, stop: 1 }, []],
    [5, { start: 3, stop: 1, step: -1 }, [3, 2]],
    [5, { stop: -6, step: -1 }, [4, 3, 2, 1, 0]],
    [5, { start: -6, step: -1 }, []],
    [5, { start: 4, stop: 0, step: -3 }, [4, 1]],
    [5, { start: 0, stop: 5, step: 2 }, [0, 2, 4]],
    [5, { start: 1, stop: 100, step: 3 }, [1, 4]],
    [0, { step: -1 }, []],
    [0, { start: 2 }, []],
    [1, { step: -1 }, [0]],
    [5, { start: -100, stop: -50 }, []],
    [5, { start: 100, stop: 50, step: -1 }, []],
    [5, { start: 6, step: -1 }, [4, 3, 2, 1, 0]],
    [7, { start: -3, stop: 1, step: -2 }, [4, 2]],
  ]

  it('matches CPython on a table of edge cases (and so does the test reference)', () => {
    for (const [n, range, expected] of python) {
      const x = sampleTensor(
        'int32',
        [n],
        Array.from({ length: n }, (_, i) => i),
      )
      expect(pythonIndices(n, range)).toEqual(expected)
      expectTensor(slice(x, [range]), 'int32', [expected.length], expected)
    }
  })

  it('equals the naive reference for random shapes, dtypes and (negative) start/stop/step', () => {
    fc.assert(
      fc.property(
        shapeArb(4, 5).chain((shape) =>
          fc.tuple(
            fc.constant(shape),
            fc.array(rangeArb, { minLength: 0, maxLength: shape.length }),
            dtypeArb,
          ),
        ),
        ([shape, ranges, dtype]) => {
          const x = sampleTensor(dtype, shape)
          const expected = naiveSlice(x, ranges)
          expectTensor(slice(x, ranges), dtype, expected.shape, expected.values)
        },
      ),
      { numRuns: 400 },
    )
  })

  it('copies long contiguous rows correctly (the subarray fast path)', () => {
    const x = sampleTensor('float64', [3, 4, 50])
    for (const ranges of [
      [{ start: 1 }, undefined, { start: 3, stop: 45 }],
      [undefined, { step: -1 }, { start: 2 }],
      [{ step: 2 }, { start: 1, stop: 3 }],
      [undefined, undefined, { step: -1 }],
    ]) {
      const expected = naiveSlice(x, ranges)
      expectTensor(slice(x, ranges), 'float64', expected.shape, expected.values)
    }
  })

  it('returns x when the slice selects everything in order, and never mutates x', () => {
    const x = sampleTensor('float32', [2, 3])
    expect(slice(x, [])).toBe(x)
    expect(slice(x, [{}, { start: -10, stop: 10 }])).toBe(x)
    const before = Array.from(x.data)
    slice(x, [{ step: -1 }])
    expect(Array.from(x.data)).toEqual(before)
  })

  it('resolveSlice returns start, step and shape for every axis', () => {
    expect(resolveSlice('slice', [5, 4], [{ start: -1, step: -2 }])).toEqual({
      start: [4, 0],
      step: [-2, 1],
      outShape: [3, 4],
    })
    expect(resolveSlice('mine', [0, 3], [{ start: 1 }, { start: 1, stop: 2 }]).outShape).toEqual([0, 1])
  })

  it('rejects a zero step, non-integers and too many ranges with typed errors', () => {
    const x = sampleTensor('float32', [4, 3])
    expectError(() => slice(x, [undefined, { step: 0 }]), ValueError, 'slice', ['step 0', '[4,3]'])
    expectError(() => slice(x, [{ start: 0.5 }]), ValueError, 'slice', ['start 0.5', '[4,3]'])
    expectError(() => slice(x, [{ stop: NaN }]), ValueError, 'slice', ['stop NaN', '[4,3]'])
    expectError(() => slice(x, [{}, {}, {}]), ShapeError, 'slice', ['3 ranges', '[4,3]'])
    expectError(() => resolveSlice('myOp', [2], [{ step: 0 }]), ValueError, 'myOp', ['[2]'])
  })
})

describe('concat', () => {
  const concatCase = shapeArb(4, 3, 1).chain((shape) =>
    fc.tuple(
      fc.constant(shape),
      fc.integer({ min: 0, max: shape.length - 1 }),
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 4 }),
      dtypeArb,
    ),
  )

  it('equals the naive reference for random shapes (including size 0) and dtypes', () => {
    fc.assert(
      fc.property(concatCase, ([shape, axis, sizes, dtype]) => {
        const xs = sizes.map((size, k) =>
          sampleTensor(
            dtype,
            shape.map((d, i) => (i === axis ? size : d)),
            undefined,
            k,
          ),
        )
        const expected = naiveConcat(xs, axis)
        expectTensor(concat(xs, axis), dtype, expected.shape, expected.values)
        expectTensor(concat(xs, axis - shape.length), dtype, expected.shape, expected.values)
      }),
      { numRuns: 300 },
    )
  })

  it('round-trips with split', () => {
    fc.assert(
      fc.property(concatCase, ([shape, axis, sizes, dtype]) => {
        const xs = sizes.map((size, k) =>
          sampleTensor(
            dtype,
            shape.map((d, i) => (i === axis ? size : d)),
            undefined,
            k,
          ),
        )
        const parts = split(concat(xs, axis), sizes, axis)
        expect(parts).toHaveLength(xs.length)
        parts.forEach((part, k) => expectTensor(part, dtype, xs[k]!.shape, xs[k]!.data))
      }),
    )
  })

  it('copies long blocks with set and promotes dtypes', () => {
    const a = sampleTensor('int32', [2, 40])
    const b = sampleTensor('float32', [2, 3], undefined, 1)
    const expected = naiveConcat([a, b], 1)
    expectTensor(concat([a, b], 1), 'float32', expected.shape, expected.values)
    const c = sampleTensor('float64', [1, 40])
    expectTensor(concat([a, c]), 'float64', [3, 40], [...a.data, ...c.data])
    expectTensor(concat([a]), 'int32', [2, 40], a.data)
    expectTensor(concat([b, a], -1), 'float32', [2, 43], naiveConcat([b, a], 1).values)
  })

  it('rejects bad input with typed errors naming the offending input and shapes', () => {
    const a = sampleTensor('float32', [2, 3])
    expectError(() => concat([]), ValueError, 'concat', ['non-empty'])
    expectError(() => concat([a, a, sampleTensor('float32', [3, 3])], 1), ShapeError, 'concat', [
      'xs[2]',
      '[3,3]',
      '[2,3]',
    ])
    expectError(() => concat([a, sampleTensor('float32', [2, 3, 1])]), ShapeError, 'concat', [
      'xs[1]',
      '[2,3,1]',
      '[2,3]',
    ])
    expectError(
      () => concat([sampleTensor('float32', []), sampleTensor('float32', [])]),
      ShapeError,
      'concat',
      ['[]'],
    )
    expectError(() => concat([a, a], 2), ValueError, 'concat', ['axis 2', '[2,3]'])
  })
})

describe('stack', () => {
  it('equals the naive reference on a new axis at every position', () => {
    fc.assert(
      fc.property(
        shapeArb(3, 3).chain((shape) =>
          fc.tuple(
            fc.constant(shape),
            fc.integer({ min: -(shape.length + 1), max: shape.length }),
            fc.integer({ min: 1, max: 4 }),
            dtypeArb,
          ),
        ),
        ([shape, axis, count, dtype]) => {
          const xs = Array.from({ length: count }, (_, k) => sampleTensor(dtype, shape, undefined, k))
          const position = axis < 0 ? axis + shape.length + 1 : axis
          const outShape = [...shape.slice(0, position), count, ...shape.slice(position)]
          const values: number[] = []
          for (let flat = 0; flat < product(outShape); flat++) {
            const index = unravel(flat, outShape)
            const [k] = index.splice(position, 1)
            values.push(at(xs[k!]!, index))
          }
          expectTensor(stack(xs, axis), dtype, outShape, values)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('promotes dtypes and rejects unequal shapes', () => {
    const a = sampleTensor('int32', [2])
    const b = sampleTensor('float64', [2], [0.5, 1.5])
    expectTensor(stack([a, b], 1), 'float64', [2, 2], [a.data[0]!, 0.5, a.data[1]!, 1.5])
    expectError(() => stack([a, sampleTensor('int32', [3])]), ShapeError, 'stack', ['xs[1]', '[3]', '[2]'])
    expectError(() => stack([]), ValueError, 'stack')
    expectError(() => stack([a], 2), ValueError, 'stack', ['axis 2', '[2]'])
  })
})

describe('pad', () => {
  const padCase = shapeArb(4, 3).chain((shape) =>
    fc.tuple(
      fc.constant(shape),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })), {
        minLength: 0,
        maxLength: shape.length,
      }),
      fc.integer({ min: -5, max: 5 }),
      dtypeArb,
    ),
  )

  it('equals the naive reference (fewer entries pad the leading axes only)', () => {
    fc.assert(
      fc.property(padCase, ([shape, pads, value, dtype]) => {
        const x = sampleTensor(dtype, shape)
        const expected = naivePad(x, pads, value)
        expectTensor(pad(x, pads, value), dtype, expected.shape, expected.values)
      }),
      { numRuns: 300 },
    )
  })

  it('then slicing the interior recovers x', () => {
    fc.assert(
      fc.property(padCase, ([shape, pads, value, dtype]) => {
        const x = sampleTensor(dtype, shape)
        const padded = pad(x, pads, value)
        const interior = pads.map(([before]: readonly [number, number], i) => ({
          start: before,
          stop: before + shape[i]!,
        }))
        expectTensor(slice(padded, interior), dtype, shape, x.data)
      }),
    )
  })

  it('copies long rows, pads scalars, returns x for zero padding, defaults value to 0', () => {
    const x = sampleTensor('float32', [2, 40])
    const pads: Array<[number, number]> = [
      [1, 0],
      [0, 0],
    ]
    expectTensor(pad(x, pads, 9), 'float32', [3, 40], naivePad(x, pads, 9).values)
    expectTensor(
      pad(x, [
        [0, 1],
        [2, 3],
      ]),
      'float32',
      [3, 45],
      naivePad(
        x,
        [
          [0, 1],
          [2, 3],
        ],
        0,
      ).values,
    )
    const s = sampleTensor('float64', [], [4])
    expect(pad(s, [])).toBe(s)
    expect(pad(x, [[0, 0]])).toBe(x)
    expectTensor(pad(sampleTensor('float64', [0]), [[1, 2]], 1.5), 'float64', [3], [1.5, 1.5, 1.5])
  })

  it('rejects negative, non-integer and surplus pads with typed errors', () => {
    const x = sampleTensor('int32', [2, 3])
    expectError(() => pad(x, [[-1, 0]]), ValueError, 'pad', ['pads[0]', '[-1,0]', '[2,3]'])
    expectError(
      () =>
        pad(x, [
          [0, 0],
          [1.5, 0],
        ]),
      ValueError,
      'pad',
      ['pads[1]', '[2,3]'],
    )
    expectError(
      () =>
        pad(x, [
          [0, 0],
          [0, 0],
          [0, 0],
        ]),
      ShapeError,
      'pad',
      ['3 entries', '[2,3]'],
    )
    expectError(() => pad(x, [[1, 1]], 0.5), ValueError, 'pad', ['0.5', 'int32', '[2,3]'])
  })
})

describe('split', () => {
  it('splits into equal sections or given sizes', () => {
    for (const dtype of DTYPES) {
      const x = sampleTensor(dtype, [2, 6])
      const thirds = split(x, 3, 1)
      expect(thirds).toHaveLength(3)
      thirds.forEach((part, k) => {
        const expected = naiveSlice(x, [undefined, { start: 2 * k, stop: 2 * k + 2 }])
        expectTensor(part, dtype, expected.shape, expected.values)
      })
      const parts = split(x, [1, 0, 5], -1)
      expect(parts.map((p) => p.shape)).toEqual([
        [2, 1],
        [2, 0],
        [2, 5],
      ])
      expectTensor(parts[2]!, dtype, [2, 5], naiveSlice(x, [undefined, { start: 1 }]).values)
      expect(split(x, 1)[0]).toBe(x)
    }
    expect(split(sampleTensor('float32', [0, 2]), 2).map((p) => p.shape)).toEqual([
      [0, 2],
      [0, 2],
    ])
  })

  it('rejects sections that do not divide the axis with typed errors', () => {
    const x = sampleTensor('float32', [5, 2])
    expectError(() => split(x, 2), ShapeError, 'split', ['[5,2]', '2 equal sections'])
    expectError(() => split(x, [2, 2]), ShapeError, 'split', ['[2,2]', '[5,2]'])
    expectError(() => split(x, 0), ValueError, 'split', ['sections 0', '[5,2]'])
    expectError(() => split(x, [6, -1]), ValueError, 'split', ['[6,-1]', '[5,2]'])
    expectError(() => split(x, 2, 2), ValueError, 'split', ['axis 2', '[5,2]'])
  })
})
