import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import type { MatmulSpec } from '../../src/backend'
import type { DType } from '../../src/dtype'
import type { Tensor } from '../../src/tensor'
import { referenceBackend } from '../../src/backends/reference/index'
import { wasmAvailable, wasmBackend } from '../../src/backends/wasm/index'
import { wasmMatmulFloat32 } from '../../src/backends/wasm/matmul'
import { expectClose, mulberry32, product, randomTensor } from './helpers'

// The wasm GEMM against a naive triple loop (in float64) and against the reference backend, on
// sizes that straddle the 4×8 register tile, the 4-lane vectors and the 256 / 128 cache blocks.

interface Case {
  readonly aShape: number[]
  readonly bShape: number[]
  readonly spec: MatmulSpec
}

const makeCase = (
  m: number,
  n: number,
  k: number,
  transposeA: boolean,
  transposeB: boolean,
  aBatch: number[] = [],
  bBatch: number[] = [],
): Case => {
  const rank = Math.max(aBatch.length, bBatch.length)
  const padded = (s: number[]): number[] => [...new Array<number>(rank - s.length).fill(1), ...s]
  const batchShape = padded(aBatch).map((d, i) => Math.max(d, padded(bBatch)[i]!))
  return {
    aShape: [...aBatch, ...(transposeA ? [k, m] : [m, k])],
    bShape: [...bBatch, ...(transposeB ? [n, k] : [k, n])],
    spec: { transposeA, transposeB, batchShape, m, n, k },
  }
}

/** Values and per-element magnitudes Σ|a·b| of the product, straight from the definition. */
const naive = (a: Tensor, b: Tensor, { transposeA, transposeB, batchShape, m, n, k }: MatmulSpec) => {
  const rank = batchShape.length
  const count = product(batchShape)
  const values = new Float64Array(count * m * n)
  const scale = new Float64Array(count * m * n)
  // The flat offset of batch `t`'s matrix in an operand whose batch axes are right-aligned and broadcast.
  const matrixOffset = (shape: ReadonlyArray<number>, t: number): number => {
    const own = shape.slice(0, -2)
    let rest = t
    let offset = 0
    let stride = 1
    for (let axis = rank - 1; axis >= 0; axis--) {
      const index = rest % batchShape[axis]!
      rest = Math.floor(rest / batchShape[axis]!)
      const ownAxis = axis - (rank - own.length)
      if (ownAxis < 0) continue
      const dim = own[ownAxis]!
      if (dim !== 1) offset += index * stride
      stride *= dim
    }
    return offset * shape[shape.length - 1]! * shape[shape.length - 2]!
  }
  for (let t = 0; t < count; t++) {
    const aOffset = matrixOffset(a.shape, t)
    const bOffset = matrixOffset(b.shape, t)
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0
        let magnitude = 0
        for (let p = 0; p < k; p++) {
          const x = a.data[aOffset + (transposeA ? p * m + i : i * k + p)]!
          const y = b.data[bOffset + (transposeB ? j * k + p : p * n + j)]!
          sum += x * y
          magnitude += Math.abs(x * y)
        }
        values[(t * m + i) * n + j] = sum
        scale[(t * m + i) * n + j] = magnitude
      }
    }
  }
  return { values, scale }
}

const check = (rand: () => number, c: Case, matmul = wasmMatmulFloat32): void => {
  const a = randomTensor(rand, 'float32', c.aShape)
  const b = randomTensor(rand, 'float32', c.bShape)
  const aCopy = a.data.slice()
  const bCopy = b.data.slice()
  const result = matmul(a, b, c.spec)
  const expected = naive(a, b, c.spec)
  expect(result.dtype).toBe('float32')
  expect(result.shape).toEqual([...c.spec.batchShape, c.spec.m, c.spec.n])
  expectClose(result.data, expected.values, expected.scale)
  expectClose(result.data, referenceBackend.matmul(a, b, c.spec).data, expected.scale)
  expect(a.data).toEqual(aCopy)
  expect(b.data).toEqual(bCopy)
}

const FLAGS: ReadonlyArray<readonly [boolean, boolean]> = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
]

describe('wasm matmul (float32)', () => {
  it('is available on this engine', () => {
    expect(wasmAvailable()).toBe(true)
  })

  it('matches the naive product for every size 1..70 on each axis, all transpose flags', () => {
    const rand = mulberry32(1)
    for (let size = 1; size <= 70; size++) {
      const [transposeA, transposeB] = FLAGS[size % 4]!
      // Each axis in turn takes `size`; the others are small and odd.
      check(rand, makeCase(size, 5, 3, transposeA, transposeB))
      check(rand, makeCase(3, size, 7, transposeA, transposeB))
      check(rand, makeCase(6, 9, size, transposeA, transposeB))
    }
  })

  it('matches across cache blocks and tile edges: 127, 129, 257 in every position and flag', () => {
    const rand = mulberry32(2)
    const shapes: ReadonlyArray<readonly [number, number, number]> = [
      [127, 129, 257],
      [257, 127, 129],
      [129, 257, 127],
      [131, 33, 300],
    ]
    for (const [m, n, k] of shapes) {
      for (const [transposeA, transposeB] of FLAGS) check(rand, makeCase(m, n, k, transposeA, transposeB))
    }
  })

  it('splits depth into equal blocks (257 → 129 + 128, 784 → 262 + 262 + 260) under tile edges', () => {
    const rand = mulberry32(6)
    const shapes: ReadonlyArray<readonly [number, number, number]> = [
      [5, 13, 257],
      [130, 10, 784],
      [33, 70, 785],
      [7, 9, 513],
    ]
    for (const [m, n, k] of shapes) {
      for (const [transposeA, transposeB] of FLAGS) check(rand, makeCase(m, n, k, transposeA, transposeB))
    }
  })

  it('broadcasts batch dimensions, with a shared operand on either side (stacked fast path included)', () => {
    const rand = mulberry32(3)
    for (const [transposeA, transposeB] of FLAGS) {
      check(rand, makeCase(5, 6, 7, transposeA, transposeB, [2, 1, 3], [4, 1]))
      check(rand, makeCase(9, 10, 11, transposeA, transposeB, [3], []))
      check(rand, makeCase(9, 10, 11, transposeA, transposeB, [], [3]))
      check(rand, makeCase(4, 8, 12, transposeA, transposeB, [2, 3], [2, 3]))
    }
  })

  it('matches the naive product on random shapes, flags and broadcasts (property)', () => {
    const dim = fc.integer({ min: 1, max: 40 })
    const batch = fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 })
    fc.assert(
      fc.property(
        fc.tuple(dim, dim, dim, fc.boolean(), fc.boolean(), batch, batch, fc.integer()),
        ([m, n, k, transposeA, transposeB, aBatch, bBatch, seed]) => {
          // Make the batch shapes broadcast-compatible: where they clash, the second becomes 1.
          const bFixed = bBatch.map((d, i) => {
            const other = aBatch[aBatch.length - bBatch.length + i]
            return other === undefined || other === d || other === 1 ? d : 1
          })
          check(mulberry32(seed), makeCase(m, n, k, transposeA, transposeB, aBatch, bFixed))
        },
      ),
      { numRuns: 60 },
    )
  })

  it('gives zeros for k = 0 and empty results for empty axes', () => {
    const rand = mulberry32(4)
    const zeros = wasmMatmulFloat32(
      randomTensor(rand, 'float32', [3, 0]),
      randomTensor(rand, 'float32', [0, 5]),
      makeCase(3, 5, 0, false, false).spec,
    )
    expect(Array.from(zeros.data)).toEqual(new Array<number>(15).fill(0))
    const empty = makeCase(0, 5, 4, false, false)
    expect(
      wasmMatmulFloat32(
        randomTensor(rand, 'float32', empty.aShape),
        randomTensor(rand, 'float32', empty.bShape),
        empty.spec,
      ).shape,
    ).toEqual([0, 5])
  })

  it('gives the same answers after a big call grew memory and after small calls reused it', () => {
    const rand = mulberry32(5)
    check(rand, makeCase(300, 280, 260, false, false))
    check(rand, makeCase(7, 9, 5, true, false))
    check(rand, makeCase(300, 280, 260, false, true))
  })
})

describe('wasmBackend.matmul', () => {
  it('routes float32 through the SIMD GEMM and agrees with the reference at every size', () => {
    const rand = mulberry32(6)
    for (const size of [2, 16, 17, 64, 100]) {
      for (const [transposeA, transposeB] of FLAGS) {
        check(rand, makeCase(size, size + 1, size + 2, transposeA, transposeB), wasmBackend.matmul)
      }
    }
  })

  it('falls back to the reference exactly for float64 and int32', () => {
    const rand = mulberry32(7)
    const dtypes: ReadonlyArray<DType> = ['float64', 'int32']
    for (const dtype of dtypes) {
      const c = makeCase(40, 33, 50, true, false, [2], [])
      const a = randomTensor(rand, dtype, c.aShape)
      const b = randomTensor(rand, dtype, c.bShape)
      const result = wasmBackend.matmul(a, b, c.spec)
      expect(result.dtype).toBe(dtype)
      expect(result.data).toEqual(referenceBackend.matmul(a, b, c.spec).data)
    }
  })
})
