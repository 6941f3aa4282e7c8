import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import type { Tensor } from '../src/tensor'
import { ShapeError, ValueError } from '../src/errors'
import { broadcastTo, expandDims, ravel, reshape, squeeze, transpose } from '../src/kernels/shape'
import {
  dtypeArb,
  DTYPES,
  expectError,
  expectTensor,
  product,
  ravelIndex,
  sampleTensor,
  shapeArb,
  unravel,
} from './helpers'

// ---------------------------------------------------------------------------------------------
// helpers and naive references (direct loops over multi-indices)

const naiveTranspose = (x: Tensor, perm: ReadonlyArray<number>): { shape: number[]; values: number[] } => {
  const shape = perm.map((p) => x.shape[p]!)
  const values: number[] = []
  for (let flat = 0; flat < product(shape); flat++) {
    const outIndex = unravel(flat, shape)
    const inIndex = new Array<number>(perm.length)
    perm.forEach((p, k) => (inIndex[p] = outIndex[k]!))
    values.push(x.data[ravelIndex(inIndex, x.shape)]!)
  }
  return { shape, values }
}

const naiveBroadcast = (x: Tensor, shape: ReadonlyArray<number>): number[] => {
  const lead = shape.length - x.shape.length
  const values: number[] = []
  for (let flat = 0; flat < product(shape); flat++) {
    const outIndex = unravel(flat, shape)
    const inIndex = x.shape.map((dim, i) => (dim === 1 ? 0 : outIndex[i + lead]!))
    values.push(x.data[ravelIndex(inIndex, x.shape)]!)
  }
  return values
}

const permArb = (rank: number) =>
  fc.shuffledSubarray(
    Array.from({ length: rank }, (_, i) => i),
    { minLength: rank, maxLength: rank },
  )

// ---------------------------------------------------------------------------------------------

describe('reshape', () => {
  it('shares data, infers -1, and keeps dtype', () => {
    for (const dtype of DTYPES) {
      const x = sampleTensor(dtype, [2, 3, 4])
      const y = reshape(x, [4, -1])
      expectTensor(y, dtype, [4, 6], x.data)
      expect(y.data).toBe(x.data)
      expect(reshape(x, [-1]).shape).toEqual([24])
      expect(reshape(x, [2, 3, 4])).toBe(x)
    }
  })

  it('handles scalars and size-0 tensors', () => {
    const s = sampleTensor('float64', [], [7])
    expectTensor(reshape(s, [1, 1]), 'float64', [1, 1], [7])
    expectTensor(reshape(sampleTensor('float64', [1]), []), 'float64', [], [-19])
    expect(reshape(sampleTensor('int32', [0, 3]), [3, 0, 5]).shape).toEqual([3, 0, 5])
    expect(reshape(sampleTensor('int32', [2, 0]), [-1]).shape).toEqual([0])
  })

  it('round-trips: reshape(reshape(x, s), x.shape) equals x', () => {
    fc.assert(
      fc.property(shapeArb(), dtypeArb, fc.integer({ min: 0, max: 3 }), (shape, dtype, cut) => {
        const x = sampleTensor(dtype, shape)
        // a different factorisation of the same size: the leading `cut` axes merged
        const merged = [product(shape.slice(0, cut)), ...shape.slice(cut)]
        const y = reshape(x, merged)
        expect(y.shape).toEqual(merged)
        expectTensor(reshape(y, shape), dtype, shape, x.data)
      }),
    )
  })

  it('rejects bad shapes with typed errors naming both shapes', () => {
    const x = sampleTensor('float32', [2, 3])
    expectError(() => reshape(x, [4, 2]), ShapeError, 'reshape', ['[2,3]', '[4,2]'])
    expectError(() => reshape(x, [-1, -1]), ShapeError, 'reshape', ['[2,3]', '[-1,-1]'])
    expectError(() => reshape(x, [4, -1]), ShapeError, 'reshape', ['[2,3]', '[4,-1]'])
    expectError(() => reshape(sampleTensor('float32', [0]), [0, -1]), ShapeError, 'reshape', [
      '[0]',
      '[0,-1]',
    ])
    expectError(() => reshape(x, [2.5, 2]), ValueError, 'reshape', ['[2.5,2]'])
    expectError(() => reshape(x, [-2, -3]), ValueError, 'reshape', ['-2'])
  })
})

describe('ravel', () => {
  it('flattens every shape and shares data', () => {
    for (const dtype of DTYPES) {
      for (const shape of [[], [1], [3], [2, 0, 4], [2, 3, 1]]) {
        const x = sampleTensor(dtype, shape)
        const y = ravel(x)
        expectTensor(y, dtype, [product(shape)], x.data)
        expect(y.data).toBe(x.data)
      }
    }
  })
})

describe('transpose', () => {
  it('equals the naive reference for random shapes, permutations and dtypes', () => {
    fc.assert(
      fc.property(
        shapeArb(5, 4).chain((shape) => fc.tuple(fc.constant(shape), permArb(shape.length), dtypeArb)),
        ([shape, perm, dtype]) => {
          const x = sampleTensor(dtype, shape)
          const expected = naiveTranspose(x, perm)
          expectTensor(transpose(x, perm), dtype, expected.shape, expected.values)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('round-trips with the inverse permutation', () => {
    fc.assert(
      fc.property(
        shapeArb(5, 4).chain((shape) => fc.tuple(fc.constant(shape), permArb(shape.length), dtypeArb)),
        ([shape, perm, dtype]) => {
          const x = sampleTensor(dtype, shape)
          const inverse = new Array<number>(perm.length)
          perm.forEach((p, k) => (inverse[p] = k))
          expectTensor(transpose(transpose(x, perm), inverse), dtype, shape, x.data)
        },
      ),
    )
  })

  it('covers the blocked paths: large matrices and batched matrix transposes', () => {
    for (const [shape, perm] of [
      [
        [67, 45],
        [1, 0],
      ],
      [
        [3, 40, 33],
        [0, 2, 1],
      ],
      [
        [33, 2, 35],
        [2, 1, 0],
      ],
      [
        [5, 34, 2, 37],
        [0, 3, 2, 1],
      ],
      [
        [40, 1, 40],
        [2, 1, 0],
      ],
    ] as const) {
      const x = sampleTensor('float64', shape)
      const expected = naiveTranspose(x, perm)
      expectTensor(transpose(x, perm), 'float64', expected.shape, expected.values)
    }
  })

  it('reverses axes by default, accepts negative axes, and returns x for the identity', () => {
    const x = sampleTensor('int32', [2, 3, 4])
    const reversed = naiveTranspose(x, [2, 1, 0])
    expectTensor(transpose(x), 'int32', reversed.shape, reversed.values)
    const swapped = naiveTranspose(x, [0, 2, 1])
    expectTensor(transpose(x, [0, -1, -2]), 'int32', swapped.shape, swapped.values)
    expect(transpose(x, [0, 1, 2])).toBe(x)
    expect(transpose(x, [-3, -2, -1])).toBe(x)
    const s = sampleTensor('float32', [])
    expect(transpose(s)).toBe(s)
  })

  it('does not mutate its input', () => {
    const x = sampleTensor('float32', [40, 50])
    const before = Array.from(x.data)
    transpose(x)
    expect(Array.from(x.data)).toEqual(before)
  })

  it('rejects anything but a permutation with a typed error naming the shape', () => {
    const x = sampleTensor('float32', [2, 3])
    expectError(() => transpose(x, [0]), ValueError, 'transpose', ['[0]', '[2,3]'])
    expectError(() => transpose(x, [0, 0]), ValueError, 'transpose', ['[0,0]', '[2,3]'])
    expectError(() => transpose(x, [0, 2]), ValueError, 'transpose', ['2', '[2,3]'])
    expectError(() => transpose(x, [0, 1.5]), ValueError, 'transpose', ['1.5', '[2,3]'])
  })
})

describe('broadcastTo', () => {
  const compatible = shapeArb(4, 3).chain((target) =>
    fc.tuple(
      fc.constant(target),
      // x: a suffix of the target with some dimensions replaced by 1
      fc
        .integer({ min: 0, max: target.length })
        .chain((drop) =>
          fc
            .array(fc.boolean(), { minLength: target.length - drop, maxLength: target.length - drop })
            .map((ones) => target.slice(drop).map((dim, i) => (ones[i] ? 1 : dim))),
        ),
      dtypeArb,
    ),
  )

  it('equals the naive reference on compatible shapes', () => {
    fc.assert(
      fc.property(compatible, ([target, inShape, dtype]) => {
        const x = sampleTensor(dtype, inShape)
        expectTensor(broadcastTo(x, target), dtype, target, naiveBroadcast(x, target))
      }),
      { numRuns: 300 },
    )
  })

  it('handles long rows (the set/fill fast paths), size-0 targets and scalars', () => {
    for (const [inShape, target] of [
      [
        [1, 40],
        [3, 40],
      ],
      [
        [3, 1],
        [3, 40],
      ],
      [
        [40, 1, 1],
        [40, 2, 35],
      ],
      [[], [2, 3]],
      [[1], [0]],
      [
        [2, 1],
        [2, 0],
      ],
    ] as const) {
      const x = sampleTensor('float32', inShape)
      expectTensor(broadcastTo(x, target), 'float32', target, naiveBroadcast(x, target))
    }
  })

  it('returns x when the shape already matches', () => {
    const x = sampleTensor('float64', [2, 3])
    expect(broadcastTo(x, [2, 3])).toBe(x)
  })

  it('rejects incompatible shapes with a ShapeError naming both', () => {
    const x = sampleTensor('float32', [2, 3])
    expectError(() => broadcastTo(x, [2, 4]), ShapeError, 'broadcastTo', ['[2,3]', '[2,4]'])
    expectError(() => broadcastTo(x, [3]), ShapeError, 'broadcastTo', ['[2,3]', '[3]'])
    expectError(() => broadcastTo(x, [4, 3, 3]), ShapeError, 'broadcastTo', ['[2,3]', '[4,3,3]'])
    expectError(() => broadcastTo(x, [2, -3]), ValueError, 'broadcastTo', ['[2,-3]'])
  })
})

describe('expandDims', () => {
  it('inserts a size-1 axis at every valid position and shares data', () => {
    for (const dtype of DTYPES) {
      const x = sampleTensor(dtype, [2, 0, 3])
      const cases: Array<[number, number[]]> = [
        [0, [1, 2, 0, 3]],
        [1, [2, 1, 0, 3]],
        [3, [2, 0, 3, 1]],
        [-1, [2, 0, 3, 1]],
        [-4, [1, 2, 0, 3]],
        [-2, [2, 0, 1, 3]],
      ]
      for (const [axis, shape] of cases) {
        const y = expandDims(x, axis)
        expect(y.shape).toEqual(shape)
        expect(y.dtype).toBe(dtype)
        expect(y.data).toBe(x.data)
      }
    }
    expect(expandDims(sampleTensor('float32', []), 0).shape).toEqual([1])
  })

  it('rejects an axis outside [-(rank + 1), rank]', () => {
    const x = sampleTensor('float32', [2, 3])
    expectError(() => expandDims(x, 3), ValueError, 'expandDims', ['3', '[2,3]'])
    expectError(() => expandDims(x, -4), ValueError, 'expandDims', ['-4', '[2,3]'])
  })
})

describe('squeeze', () => {
  it('drops all size-1 axes by default, or just the named ones', () => {
    for (const dtype of DTYPES) {
      const x = sampleTensor(dtype, [1, 3, 1, 0, 1])
      expectTensor(squeeze(x), dtype, [3, 0], [])
      expect(squeeze(x, 0).shape).toEqual([3, 1, 0, 1])
      expect(squeeze(x, [-1, 2]).shape).toEqual([1, 3, 0])
      expect(squeeze(x, [0, 2, 4]).data).toBe(x.data)
    }
    const y = sampleTensor('float64', [1, 1])
    expectTensor(squeeze(y), 'float64', [], y.data)
    const z = sampleTensor('float64', [2, 3])
    expect(squeeze(z)).toBe(z)
  })

  it('rejects squeezing an axis whose size is not 1', () => {
    const x = sampleTensor('float32', [1, 3])
    expectError(() => squeeze(x, 1), ShapeError, 'squeeze', ['[1,3]', '3'])
    expectError(() => squeeze(x, 2), ValueError, 'squeeze', ['[1,3]'])
    expectError(() => squeeze(x, [0, -2]), ValueError, 'squeeze', ['[1,3]', 'repeat'])
  })
})
