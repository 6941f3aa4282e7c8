import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import type { DType } from '../src/dtype'
import type { Tensor } from '../src/tensor'
import { ShapeError } from '../src/errors'
import { unsafeTensor } from '../src/tensor'
import { matmul, matmulShape } from '../src/kernels/matmul'
import { expectMatches, mulberry32, randomInt, randomTensorWithin } from './helpers'
import type { Expected } from './helpers'

// ---------------------------------------------------------------------------------------------
// Test helpers: a seeded generator and a naive NumPy-matmul written from the definition.

/** Seeded tensors: uniform in [-1, 1) for floats, integers in [-9, 9] for int32. */
const randomTensor = randomTensorWithin(9)

/** Row-major flat index of `index` in `shape`, with size-1 axes broadcast (index read as 0). */
const flatIndex = (shape: ReadonlyArray<number>, index: ReadonlyArray<number>): number => {
  let flat = 0
  for (let axis = 0; axis < shape.length; axis++)
    flat = flat * shape[axis]! + (shape[axis] === 1 ? 0 : index[axis]!)
  return flat
}

/** All multi-indices of `shape` in row-major order. */
const indices = (shape: ReadonlyArray<number>): number[][] => {
  let out: number[][] = [[]]
  for (const dim of shape)
    out = out.flatMap((prefix) => Array.from({ length: dim }, (_, i) => [...prefix, i]))
  return out
}

const naiveMatmul = (a: Tensor, b: Tensor, transposeA = false, transposeB = false): Expected => {
  const wrap = a.dtype === 'int32' && b.dtype === 'int32'
  // Vectors become matrices; a transposed matrix is read with its last two indices swapped.
  const aIsVector = a.shape.length === 1
  const bIsVector = b.shape.length === 1
  const aShape = aIsVector ? [1, a.shape[0]!] : [...a.shape]
  const bShape = bIsVector ? [b.shape[0]!, 1] : [...b.shape]
  const tA = transposeA && !aIsVector
  const tB = transposeB && !bIsVector
  const m = tA ? aShape[aShape.length - 1]! : aShape[aShape.length - 2]!
  const k = tA ? aShape[aShape.length - 2]! : aShape[aShape.length - 1]!
  const n = tB ? bShape[bShape.length - 2]! : bShape[bShape.length - 1]!
  const aBatch = aShape.slice(0, -2)
  const bBatch = bShape.slice(0, -2)
  const rank = Math.max(aBatch.length, bBatch.length)
  const padded = (s: number[]): number[] => [...new Array<number>(rank - s.length).fill(1), ...s]
  const aB = padded(aBatch)
  const bB = padded(bBatch)
  const batch = aB.map((d, i) => Math.max(d, bB[i]!))
  const values: number[] = []
  const magnitude: number[] = []
  for (const bi of indices(batch)) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0
        let mag = 0
        for (let p = 0; p < k; p++) {
          const av = a.data[flatIndex([...aB, ...aShape.slice(-2)], [...bi, ...(tA ? [p, i] : [i, p])])]!
          const bv = b.data[flatIndex([...bB, ...bShape.slice(-2)], [...bi, ...(tB ? [j, p] : [p, j])])]!
          if (wrap) sum = (sum + Math.imul(av, bv)) | 0
          else sum += av * bv
          mag += Math.abs(av * bv)
        }
        values.push(sum)
        magnitude.push(mag)
      }
    }
  }
  const shape = [...batch, ...(aIsVector ? [] : [m]), ...(bIsVector ? [] : [n])]
  return { shape, values, magnitude }
}

const tolerance = (dtype: DType): number => (dtype === 'float32' ? 1e-5 : dtype === 'float64' ? 1e-14 : 0)

/** Stored shape of an operand whose logical matrix is rows × cols, transposed if `transposed`. */
const stored = (batch: number[], rows: number, cols: number, transposed: boolean): number[] =>
  transposed ? [...batch, cols, rows] : [...batch, rows, cols]

// ---------------------------------------------------------------------------------------------

describe('matmul', () => {
  it('broadcasts batch dimensions: [2,1,3,4] @ [5,4,2] -> [2,5,3,2]', () => {
    const rand = mulberry32(1)
    const a = randomTensor(rand, 'float64', [2, 1, 3, 4])
    const b = randomTensor(rand, 'float64', [5, 4, 2])
    const out = matmul(a, b)
    expect(out.shape).toEqual([2, 5, 3, 2])
    expectMatches(out, naiveMatmul(a, b), 1e-14)
  })

  it('broadcasts a shared matrix against a stack on either side', () => {
    const rand = mulberry32(2)
    for (const [aShape, bShape] of [
      [
        [3, 4, 5],
        [5, 6],
      ],
      [
        [4, 5],
        [3, 5, 6],
      ],
      [
        [2, 1, 4, 5],
        [1, 3, 5, 2],
      ],
      [
        [1, 4, 5],
        [3, 5, 2],
      ],
    ] as const) {
      const a = randomTensor(rand, 'float64', aShape)
      const b = randomTensor(rand, 'float64', bShape)
      expectMatches(matmul(a, b), naiveMatmul(a, b), 1e-14)
    }
  })

  it('treats a 1-D a as a row and a 1-D b as a column, dropping those axes', () => {
    const rand = mulberry32(3)
    const cases: Array<[number[], number[], number[]]> = [
      [[4], [4, 3], [3]],
      [[3, 4], [4], [3]],
      [[4], [4], []],
      [[2, 3, 4], [4], [2, 3]],
      [[4], [2, 4, 3], [2, 3]],
    ]
    for (const [aShape, bShape, outShape] of cases) {
      const a = randomTensor(rand, 'float64', aShape)
      const b = randomTensor(rand, 'float64', bShape)
      const out = matmul(a, b)
      expect(out.shape).toEqual(outShape)
      expectMatches(out, naiveMatmul(a, b), 1e-14)
    }
  })

  it('1-D @ 1-D is the dot product, a scalar', () => {
    const a = unsafeTensor('float64', [3], Float64Array.of(1, 2, 3))
    const b = unsafeTensor('float64', [3], Float64Array.of(4, -5, 6))
    const out = matmul(a, b)
    expect(out.shape).toEqual([])
    expect([...out.data]).toEqual([12])
  })

  it('ignores the transpose flags of 1-D operands', () => {
    const rand = mulberry32(4)
    const v = randomTensor(rand, 'float64', [4])
    const m = randomTensor(rand, 'float64', [4, 3])
    const flagged = matmul(v, m, { transposeA: true })
    expectMatches(flagged, naiveMatmul(v, m), 1e-14)
    const flaggedB = matmul(randomTensor(rand, 'float64', [3, 4]), v, { transposeB: true })
    expect(flaggedB.shape).toEqual([3])
  })

  it('computes all four transpose combinations against the naive product', () => {
    const rand = mulberry32(5)
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        for (const dtype of ['float32', 'float64', 'int32'] as const) {
          const [m, k, n] = [randomInt(rand, 1, 9), randomInt(rand, 1, 9), randomInt(rand, 1, 9)]
          const a = randomTensor(rand, dtype, stored([2, 1], m, k, transposeA))
          const b = randomTensor(rand, dtype, stored([3], k, n, transposeB))
          const out = matmul(a, b, { transposeA, transposeB })
          expect(out.shape).toEqual([2, 3, m, n])
          expect(out.dtype).toBe(dtype)
          expectMatches(out, naiveMatmul(a, b, transposeA, transposeB), tolerance(dtype))
        }
      }
    }
  })

  it('matches the naive product for odd sizes 1..70', () => {
    const rand = mulberry32(6)
    const dtypes: DType[] = ['float32', 'float64', 'int32']
    for (let trial = 0; trial < 40; trial++) {
      const [m, k, n] = [randomInt(rand, 1, 70), randomInt(rand, 1, 70), randomInt(rand, 1, 70)]
      const dtype = dtypes[trial % 3]!
      const transposeA = rand() < 0.5
      const transposeB = rand() < 0.5
      const a = randomTensor(rand, dtype, stored([], m, k, transposeA))
      const b = randomTensor(rand, dtype, stored([], k, n, transposeB))
      expectMatches(
        matmul(a, b, { transposeA, transposeB }),
        naiveMatmul(a, b, transposeA, transposeB),
        tolerance(dtype),
      )
    }
  })

  it('matches the naive product across cache-block boundaries (k > 128, n > 256)', () => {
    const rand = mulberry32(7)
    for (const [m, k, n] of [
      [5, 130, 261],
      [9, 257, 300],
      [3, 129, 513],
    ] as const) {
      for (const [transposeA, transposeB] of [
        [false, false],
        [true, true],
        [false, true],
      ] as const) {
        const a = randomTensor(rand, 'float32', stored([], m, k, transposeA))
        const b = randomTensor(rand, 'float32', stored([], k, n, transposeB))
        expectMatches(
          matmul(a, b, { transposeA, transposeB }),
          naiveMatmul(a, b, transposeA, transposeB),
          1e-5,
        )
      }
    }
  })

  it('matches the naive product on random broadcast shapes (property)', () => {
    const dim = fc.integer({ min: 1, max: 4 })
    const batchDim = fc.constantFrom(1, 2, 3)
    fc.assert(
      fc.property(
        fc.array(batchDim, { maxLength: 2 }),
        fc.array(batchDim, { maxLength: 2 }),
        dim,
        dim,
        dim,
        fc.boolean(),
        fc.boolean(),
        fc.integer(),
        (aBatch, bBatch, m, k, n, transposeA, transposeB, seed) => {
          // Make the batch shapes broadcast-compatible: where both are > 1 they must agree.
          const rank = Math.min(aBatch.length, bBatch.length)
          for (let i = 1; i <= rank; i++) {
            const ai = aBatch.length - i
            const bi = bBatch.length - i
            if (aBatch[ai] !== 1 && bBatch[bi] !== 1) bBatch[bi] = aBatch[ai]!
          }
          const rand = mulberry32(seed)
          const a = randomTensor(rand, 'float64', stored(aBatch, m, k, transposeA))
          const b = randomTensor(rand, 'float64', stored(bBatch, k, n, transposeB))
          const out = matmul(a, b, { transposeA, transposeB })
          expectMatches(out, naiveMatmul(a, b, transposeA, transposeB), 1e-14)
          expect(matmulShape(a.shape, b.shape, { transposeA, transposeB })).toEqual([...out.shape])
        },
      ),
      { numRuns: 100 },
    )
  })

  it('gives zeros when k = 0 and empty results when m, n or a batch axis is 0', () => {
    const zeroK = matmul(
      unsafeTensor('float32', [3, 0], new Float32Array(0)),
      unsafeTensor('float32', [0, 4], new Float32Array(0)),
    )
    expect(zeroK.shape).toEqual([3, 4])
    expect([...zeroK.data]).toEqual(new Array<number>(12).fill(0))
    const zeroKT = matmul(
      unsafeTensor('float64', [0, 2], new Float64Array(0)),
      unsafeTensor('float64', [5, 0], new Float64Array(0)),
      { transposeA: true, transposeB: true },
    )
    expect(zeroKT.shape).toEqual([2, 5])
    expect([...zeroKT.data]).toEqual(new Array<number>(10).fill(0))
    const dot = matmul(
      unsafeTensor('int32', [0], new Int32Array(0)),
      unsafeTensor('int32', [0], new Int32Array(0)),
    )
    expect(dot.shape).toEqual([])
    expect([...dot.data]).toEqual([0])
    const zeroM = matmul(
      unsafeTensor('float32', [0, 3], new Float32Array(0)),
      unsafeTensor('float32', [3, 4], new Float32Array(12)),
    )
    expect(zeroM.shape).toEqual([0, 4])
    expect(zeroM.data.length).toBe(0)
    const zeroN = matmul(
      unsafeTensor('float32', [2, 3], new Float32Array(6)),
      unsafeTensor('float32', [3, 0], new Float32Array(0)),
    )
    expect(zeroN.shape).toEqual([2, 0])
    const zeroBatch = matmul(
      unsafeTensor('float32', [0, 2, 3], new Float32Array(0)),
      unsafeTensor('float32', [3, 4], new Float32Array(12)),
    )
    expect(zeroBatch.shape).toEqual([0, 2, 4])
  })

  it('wraps int32 products and sums like NumPy', () => {
    const big = 2 ** 30 + 7
    const a = unsafeTensor('int32', [1, 3], Int32Array.of(big, big, -big))
    const b = unsafeTensor('int32', [3, 1], Int32Array.of(big, 3, 5))
    const out = matmul(a, b)
    expect(out.dtype).toBe('int32')
    expectMatches(out, naiveMatmul(a, b), 0)
    const exact = BigInt(big) * BigInt(big) + BigInt(big) * 3n - BigInt(big) * 5n
    expect(out.data[0]).toBe(Number(BigInt.asIntN(32, exact)))
  })

  it('promotes dtypes: int32 @ float32 -> float32, float32 @ float64 -> float64', () => {
    const rand = mulberry32(8)
    const ints = randomTensor(rand, 'int32', [3, 4])
    const floats = randomTensor(rand, 'float32', [4, 2])
    const mixed = matmul(ints, floats)
    expect(mixed.dtype).toBe('float32')
    expect(mixed.data).toBeInstanceOf(Float32Array)
    expectMatches(mixed, naiveMatmul(ints, floats), 1e-5)
    const doubles = randomTensor(rand, 'float64', [2, 5])
    const wide = matmul(floats, doubles)
    expect(wide.dtype).toBe('float64')
    expect(wide.data).toBeInstanceOf(Float64Array)
    expectMatches(wide, naiveMatmul(floats, doubles), 1e-14)
  })

  it('does not mutate its inputs', () => {
    const rand = mulberry32(9)
    const a = randomTensor(rand, 'float32', [2, 3, 4])
    const b = randomTensor(rand, 'float64', [2, 5, 4])
    const aBefore = [...a.data]
    const bBefore = [...b.data]
    matmul(a, b, { transposeB: true })
    expect([...a.data]).toEqual(aBefore)
    expect([...b.data]).toEqual(bBefore)
    expect(a.shape).toEqual([2, 3, 4])
  })

  it('rejects scalars with a ShapeError', () => {
    const scalar = unsafeTensor('float32', [], Float32Array.of(2))
    const matrix = unsafeTensor('float32', [2, 2], new Float32Array(4))
    expect(() => matmul(scalar, matrix)).toThrow(ShapeError)
    expect(() => matmul(matrix, scalar)).toThrow(/matmul: .*\[\].*\[2,2\]|matmul: .*\[2,2\].*\[\]/)
  })

  it('rejects mismatched inner dimensions naming both shapes and the flags', () => {
    const a = unsafeTensor('float32', [2, 3], new Float32Array(6))
    const b = unsafeTensor('float32', [4, 5], new Float32Array(20))
    expect(() => matmul(a, b)).toThrow(ShapeError)
    expect(() => matmul(a, b)).toThrow(/^matmul: .*\[2,3\].*transposeA=false.*\[4,5\].*transposeB=false/)
    // With the flag, a contributes k = 2; still not 4.
    expect(() => matmul(a, b, { transposeA: true })).toThrow(/transposeA=true/)
    // Transposing b makes it [5,4], still not matching k = 3 ...
    expect(() => matmul(a, b, { transposeB: true })).toThrow(ShapeError)
    // ... while a = [2,4] against bᵀ = [5,4]ᵀ works.
    expect(
      matmul(unsafeTensor('float32', [2, 5], new Float32Array(10)), b, { transposeB: true }).shape,
    ).toEqual([2, 4])
    expect(() => matmul(unsafeTensor('float32', [3], new Float32Array(3)), b)).toThrow(/\[3\].*\[4,5\]/)
  })

  it('rejects batch dimensions that do not broadcast', () => {
    const a = unsafeTensor('float32', [2, 3, 4], new Float32Array(24))
    const b = unsafeTensor('float32', [3, 4, 5], new Float32Array(60))
    expect(() => matmul(a, b)).toThrow(ShapeError)
    expect(() => matmul(a, b)).toThrow(/\[2,3,4\].*\[3,4,5\]/)
    expect(() => matmulShape([2, 3, 4], [3, 4, 5])).toThrow(ShapeError)
  })
})
