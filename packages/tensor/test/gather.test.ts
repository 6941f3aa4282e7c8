import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import type { Tensor } from '../src/tensor'
import { DTypeError, ShapeError, ValueError } from '../src/errors'
import { gather, oneHot, scatterAdd, scatterAddAlongAxis, takeAlongAxis } from '../src/kernels/gather'
import {
  at,
  dot,
  dtypeArb,
  DTYPES,
  expectError,
  expectTensor,
  product,
  ravelIndex,
  sampleTensor,
  unravel,
} from './helpers'

// ---------------------------------------------------------------------------------------------
// helpers and naive references (direct loops over multi-indices)

/** Deterministic pseudo-random doubles in (-1, 1), for the adjointness tests. */
const randomValues = (count: number, seed: number): number[] => {
  let state = (seed >>> 0) + 1
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 31 - 1
  })
}

/** NumPy `take`: out[pre, idx..., post] = x[pre, indices[idx...], post]. */
const naiveGather = (x: Tensor, indices: Tensor, axis: number) => {
  const shape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)]
  const values: number[] = []
  for (let flat = 0; flat < product(shape); flat++) {
    const index = unravel(flat, shape)
    const idx = index.splice(axis, indices.shape.length)
    index.splice(axis, 0, at(indices, idx))
    values.push(at(x, index))
  }
  return { shape, values }
}

/** Adjoint of `naiveGather`, accumulated element by element. */
const naiveScatterAdd = (updates: Tensor, indices: Tensor, axis: number, shape: ReadonlyArray<number>) => {
  const values = new Array<number>(product(shape)).fill(0)
  for (let flat = 0; flat < updates.data.length; flat++) {
    const index = unravel(flat, updates.shape)
    const idx = index.splice(axis, indices.shape.length)
    index.splice(axis, 0, at(indices, idx))
    values[ravelIndex(index, shape)]! += updates.data[flat]!
  }
  return values
}

/** NumPy `take_along_axis`: out[i] = x[i with axis coordinate replaced by indices[i]]. */
const naiveTakeAlongAxis = (x: Tensor, indices: Tensor, axis: number): number[] => {
  const values: number[] = []
  for (let flat = 0; flat < indices.data.length; flat++) {
    const index = unravel(flat, indices.shape)
    index[axis] = indices.data[flat]!
    values.push(at(x, index))
  }
  return values
}

/** x's shape (rank >= 1), an axis, and in-range int32 indices of rank 0..2 (empty when the axis is). */
const gatherCase = fc
  .tuple(
    fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 3 }),
    fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 0, maxLength: 2 }),
    fc.nat(),
    fc.array(fc.nat(), { minLength: 9, maxLength: 9 }),
    fc.integer(),
  )
  .map(([shape, requestedIndexShape, axisSeed, raw, seed]) => {
    const axis = axisSeed % shape.length
    const dim = shape[axis]!
    const indexShape = dim === 0 && product(requestedIndexShape) > 0 ? [0] : requestedIndexShape
    const indices = sampleTensor(
      'int32',
      indexShape,
      raw.slice(0, product(indexShape)).map((r) => r % dim),
    )
    return { shape, axis, indices, seed }
  })

/** x's shape (rank >= 1), an axis, and int32 indices of x's rank in range along the axis. */
const alongAxisCase = fc
  .tuple(
    fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 3 }),
    fc.nat(),
    fc.integer({ min: 0, max: 4 }),
    fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
    fc.integer(),
  )
  .map(([shape, axisSeed, requestedCount, raw, seed]) => {
    const axis = axisSeed % shape.length
    const dim = shape[axis]!
    const indexShape = shape.map((d, i) => (i === axis ? (dim === 0 ? 0 : requestedCount) : d))
    const indices = sampleTensor(
      'int32',
      indexShape,
      Array.from({ length: product(indexShape) }, (_, k) => raw[k % raw.length]! % dim),
    )
    return { shape, axis, indices, seed }
  })

// ---------------------------------------------------------------------------------------------

describe('gather', () => {
  it('equals the naive NumPy take for random shapes, axes, index shapes and dtypes', () => {
    fc.assert(
      fc.property(gatherCase, dtypeArb, ({ shape, axis, indices }, dtype) => {
        const x = sampleTensor(dtype, shape)
        const expected = naiveGather(x, indices, axis)
        expectTensor(gather(x, indices, axis), dtype, expected.shape, expected.values)
        expectTensor(gather(x, indices, axis - shape.length), dtype, expected.shape, expected.values)
      }),
      { numRuns: 300 },
    )
  })

  it('copies long inner blocks (the set fast path), takes scalar indices, and defaults to axis 0', () => {
    const x = sampleTensor('float64', [5, 40])
    const indices = sampleTensor('int32', [2, 3], [4, 0, 4, 1, 2, 3])
    const expected = naiveGather(x, indices, 0)
    expectTensor(gather(x, indices), 'float64', [2, 3, 40], expected.values)
    expectTensor(
      gather(x, sampleTensor('int32', [], [3]), 1),
      'float64',
      [5],
      naiveGather(x, sampleTensor('int32', [], [3]), 1).values,
    )
  })

  it('rejects float indices, out-of-range or negative indices and bad axes with typed errors', () => {
    const x = sampleTensor('float32', [3, 4])
    expectError(() => gather(x, sampleTensor('float32', [2], [0, 1])), DTypeError, 'gather', [
      'int32',
      'float32',
    ])
    expectError(() => gather(x, sampleTensor('int32', [2], [0, 3])), ValueError, 'gather', [
      'index 3',
      'size 3',
      '[3,4]',
    ])
    expectError(() => gather(x, sampleTensor('int32', [1], [-1]), 1), ValueError, 'gather', [
      'index -1',
      'size 4',
      'negative',
    ])
    expectError(() => gather(x, sampleTensor('int32', [1], [0]), 2), ValueError, 'gather', [
      'axis 2',
      '[3,4]',
    ])
    expectError(
      () => gather(sampleTensor('float32', []), sampleTensor('int32', [1], [0])),
      ValueError,
      'gather',
      ['[]'],
    )
  })
})

describe('scatterAdd', () => {
  it('equals the naive accumulation, with repeated indices adding up', () => {
    fc.assert(
      fc.property(gatherCase, dtypeArb, ({ shape, axis, indices }, dtype) => {
        const outShape = [...shape.slice(0, axis), ...indices.shape, ...shape.slice(axis + 1)]
        const updates = sampleTensor(dtype, outShape)
        const expected = naiveScatterAdd(updates, indices, axis, shape)
        expectTensor(scatterAdd(updates, indices, axis, shape), dtype, shape, expected)
      }),
      { numRuns: 300 },
    )
    const sums = scatterAdd(
      sampleTensor('int32', [4, 2], [1, 2, 3, 4, 5, 6, 7, 8]),
      sampleTensor('int32', [4], [1, 1, 0, 1]),
      0,
      [3, 2],
    )
    expectTensor(sums, 'int32', [3, 2], [5, 6, 1 + 3 + 7, 2 + 4 + 8, 0, 0])
  })

  it('is the adjoint of gather: <gather(x), y> = <x, scatterAdd(y)> in float64', () => {
    fc.assert(
      fc.property(gatherCase, ({ shape, axis, indices, seed }) => {
        const x = sampleTensor('float64', shape, randomValues(product(shape), seed))
        const gathered = gather(x, indices, axis)
        const y = sampleTensor('float64', gathered.shape, randomValues(product(gathered.shape), seed + 1))
        const lhs = dot(gathered.data, y.data)
        const rhs = dot(x.data, scatterAdd(y, indices, axis, shape).data)
        expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(lhs)))
      }),
      { numRuns: 200 },
    )
  })

  it('rejects updates of the wrong shape and bad indices with typed errors', () => {
    const indices = sampleTensor('int32', [2], [0, 2])
    expectError(
      () => scatterAdd(sampleTensor('float32', [3, 2]), indices, 0, [3, 2]),
      ShapeError,
      'scatterAdd',
      ['[3,2]', '[2]', '[2,2]'],
    )
    expectError(
      () => scatterAdd(sampleTensor('float32', [2, 2]), sampleTensor('int32', [2], [0, 3]), 0, [3, 2]),
      ValueError,
      'scatterAdd',
      ['index 3', 'size 3'],
    )
    expectError(
      () => scatterAdd(sampleTensor('float32', [2, 2]), sampleTensor('float64', [2]), 0, [3, 2]),
      DTypeError,
      'scatterAdd',
      ['float64'],
    )
    expectError(
      () => scatterAdd(sampleTensor('float32', [2, 2]), indices, 0, [3, -2]),
      ValueError,
      'scatterAdd',
      ['[3,-2]'],
    )
  })
})

describe('oneHot', () => {
  it('equals the naive encoding for every dtype and index shape', () => {
    for (const dtype of DTYPES) {
      for (const [shape, depth] of [
        [[], 3],
        [[4], 5],
        [[2, 3], 4],
        [[0, 2], 3],
        [[2], 1],
      ] as const) {
        const indices = sampleTensor(
          'int32',
          shape,
          Array.from({ length: product(shape) }, (_, k) => (k * 7 + 2) % depth),
        )
        const values: number[] = []
        for (let k = 0; k < indices.data.length; k++)
          for (let c = 0; c < depth; c++) values.push(indices.data[k] === c ? 1 : 0)
        expectTensor(oneHot(indices, depth, dtype), dtype, [...shape, depth], values)
      }
    }
    expect(oneHot(sampleTensor('int32', [1], [0]), 2).dtype).toBe('float32')
    expectTensor(oneHot(sampleTensor('int32', [0]), 0), 'float32', [0, 0], [])
  })

  it('rejects out-of-range indices, a bad depth and float indices with typed errors', () => {
    expectError(() => oneHot(sampleTensor('int32', [2], [1, 3]), 3), ValueError, 'oneHot', [
      'index 3',
      'size 3',
      '[2]',
    ])
    expectError(() => oneHot(sampleTensor('int32', [2], [1, -1]), 3), ValueError, 'oneHot', ['index -1'])
    expectError(() => oneHot(sampleTensor('int32', [2], [1, 0]), -1), ValueError, 'oneHot', [
      'depth -1',
      '[2]',
    ])
    expectError(() => oneHot(sampleTensor('int32', [2], [1, 0]), 2.5), ValueError, 'oneHot', ['depth 2.5'])
    expectError(() => oneHot(sampleTensor('float32', [2], [1, 0]), 3), DTypeError, 'oneHot', [
      'int32',
      'float32',
      '[2]',
    ])
  })
})

describe('takeAlongAxis and scatterAddAlongAxis', () => {
  it('takeAlongAxis equals the naive NumPy take_along_axis', () => {
    fc.assert(
      fc.property(alongAxisCase, dtypeArb, ({ shape, axis, indices }, dtype) => {
        const x = sampleTensor(dtype, shape)
        const expected = naiveTakeAlongAxis(x, indices, axis)
        expectTensor(takeAlongAxis(x, indices, axis), dtype, indices.shape, expected)
        expectTensor(takeAlongAxis(x, indices, axis - shape.length), dtype, indices.shape, expected)
      }),
      { numRuns: 300 },
    )
  })

  it('scatterAddAlongAxis equals the naive accumulation', () => {
    fc.assert(
      fc.property(alongAxisCase, dtypeArb, ({ shape, axis, indices }, dtype) => {
        const updates = sampleTensor(dtype, indices.shape)
        const expected = new Array<number>(product(shape)).fill(0)
        for (let flat = 0; flat < updates.data.length; flat++) {
          const index = unravel(flat, indices.shape)
          index[axis] = indices.data[flat]!
          expected[ravelIndex(index, shape)]! += updates.data[flat]!
        }
        expectTensor(scatterAddAlongAxis(updates, indices, axis, shape), dtype, shape, expected)
      }),
      { numRuns: 300 },
    )
  })

  it('are adjoint: <takeAlongAxis(x), y> = <x, scatterAddAlongAxis(y)> in float64', () => {
    fc.assert(
      fc.property(alongAxisCase, ({ shape, axis, indices, seed }) => {
        const x = sampleTensor('float64', shape, randomValues(product(shape), seed))
        const y = sampleTensor('float64', indices.shape, randomValues(product(indices.shape), seed + 7))
        const lhs = dot(takeAlongAxis(x, indices, axis).data, y.data)
        const rhs = dot(x.data, scatterAddAlongAxis(y, indices, axis, shape).data)
        expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(lhs)))
      }),
      { numRuns: 200 },
    )
  })

  it('pick per-row entries (the cross-entropy use)', () => {
    const logits = sampleTensor('float32', [2, 3], [0, 1, 2, 3, 4, 5])
    const labels = sampleTensor('int32', [2, 1], [2, 0])
    expectTensor(takeAlongAxis(logits, labels, 1), 'float32', [2, 1], [2, 3])
    expectTensor(
      scatterAddAlongAxis(sampleTensor('float32', [2, 1], [1, 1]), labels, -1, [2, 3]),
      'float32',
      [2, 3],
      [0, 0, 1, 1, 0, 0],
    )
  })

  it('reject mismatched shapes, float indices and out-of-range indices with typed errors', () => {
    const x = sampleTensor('float32', [2, 3])
    expectError(() => takeAlongAxis(x, sampleTensor('int32', [2], [0, 0]), 1), ShapeError, 'takeAlongAxis', [
      '[2]',
      '[2,3]',
    ])
    expectError(
      () => takeAlongAxis(x, sampleTensor('int32', [3, 1], [0, 0, 0]), 1),
      ShapeError,
      'takeAlongAxis',
      ['[3,1]', '[2,3]'],
    )
    expectError(
      () => takeAlongAxis(x, sampleTensor('int32', [2, 1], [0, 3]), 1),
      ValueError,
      'takeAlongAxis',
      ['index 3', 'size 3', '[2,3]'],
    )
    expectError(() => takeAlongAxis(x, sampleTensor('float64', [2, 1]), 1), DTypeError, 'takeAlongAxis', [
      'float64',
    ])
    expectError(
      () => takeAlongAxis(x, sampleTensor('int32', [2, 1], [0, 0]), 2),
      ValueError,
      'takeAlongAxis',
      ['axis 2', '[2,3]'],
    )
    const indices = sampleTensor('int32', [2, 1], [0, 1])
    expectError(
      () => scatterAddAlongAxis(sampleTensor('float32', [2, 2]), indices, 1, [2, 3]),
      ShapeError,
      'scatterAddAlongAxis',
      ['[2,2]', '[2,1]'],
    )
    expectError(
      () => scatterAddAlongAxis(sampleTensor('float32', [2, 1]), indices, 1, [3, 3]),
      ShapeError,
      'scatterAddAlongAxis',
      ['[2,1]', '[3,3]'],
    )
    expectError(
      () =>
        scatterAddAlongAxis(
          sampleTensor('float32', [2, 1]),
          sampleTensor('int32', [2, 1], [0, -2]),
          1,
          [2, 3],
        ),
      ValueError,
      'scatterAddAlongAxis',
      ['index -2', 'size 3'],
    )
  })
})
