import { afterAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import {
  dot,
  linear,
  linearOp,
  matmul,
  matmulOp,
  outer,
  type LinearActivation,
  type LinearInputs,
  type MatmulParams,
} from '../src/linalg/index'
import { mul } from '../src/binary/mul'
import { sum } from '../src/reduce/sum'
import { grad } from '../src/transforms/grad'
import { hvp } from '../src/transforms/hvp'
import { anywhere } from './rows/domains'
import { batchingMismatches } from './batchingCases'
import { expectRuleMatchesForward, expectStagedMatchesEager } from './shapeRuleCases'
import { makeGraph } from '../src/staging/graph'

const f64 = (shape: ReadonlyArray<number>, values: ReadonlyArray<number>): Tensor =>
  T.unsafeTensor('float64', shape, Float64Array.from(values))
const values = (x: Tensor): number[] => Array.from(x.data)

const closeTo = (actual: ReadonlyArray<number>, expected: ReadonlyArray<number>, digits = 10): void => {
  expect(actual.length).toBe(expected.length)
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i]!, digits))
}

/**
 * Batched matmul of rank >= 2 operands by direct loops, with the gradient of Σ (out ⊙ g) in a and
 * b accumulated element by element (so batch broadcasting and transposes are handled by index
 * arithmetic only, independently of the code under test).
 */
const naiveMatmul = (
  a: Tensor,
  b: Tensor,
  transposeA: boolean,
  transposeB: boolean,
  g: Tensor,
): { out: number[]; outShape: number[]; da: number[]; db: number[] } => {
  const aRows = a.shape[a.shape.length - 2]!
  const aCols = a.shape[a.shape.length - 1]!
  const bRows = b.shape[b.shape.length - 2]!
  const bCols = b.shape[b.shape.length - 1]!
  const [m, k] = transposeA ? [aCols, aRows] : [aRows, aCols]
  const n = transposeB ? bRows : bCols
  const aBatch = a.shape.slice(0, -2)
  const bBatch = b.shape.slice(0, -2)
  const batch = T.broadcastShapes('naive', aBatch, bBatch)
  const batchSize = T.sizeOf(batch)
  const offsetIn = (batchIndex: number[], own: ReadonlyArray<number>, matrixSize: number): number => {
    let offset = 0
    let stride = matrixSize
    for (let i = own.length - 1; i >= 0; i--) {
      const idx = own[i] === 1 ? 0 : batchIndex[i + batch.length - own.length]!
      offset += idx * stride
      stride *= own[i]!
    }
    return offset
  }
  const out: number[] = []
  const da = new Array<number>(a.data.length).fill(0)
  const db = new Array<number>(b.data.length).fill(0)
  const batchIndex = new Array<number>(batch.length).fill(0)
  for (let t = 0; t < batchSize; t++) {
    const aOff = offsetIn(batchIndex, aBatch, aRows * aCols)
    const bOff = offsetIn(batchIndex, bBatch, bRows * bCols)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        const weight = g.data[out.length]!
        let acc = 0
        for (let p = 0; p < k; p++) {
          const ai = aOff + (transposeA ? p * aCols + i : i * aCols + p)
          const bi = bOff + (transposeB ? j * bCols + p : p * bCols + j)
          acc += a.data[ai]! * b.data[bi]!
          da[ai] = da[ai]! + weight * b.data[bi]!
          db[bi] = db[bi]! + weight * a.data[ai]!
        }
        out.push(acc)
      }
    for (let i = batch.length - 1; i >= 0; i--) {
      if (++batchIndex[i]! < batch[i]!) break
      batchIndex[i] = 0
    }
  }
  return { out, outShape: [...batch, m, n], da, db }
}

/** Random broadcast-compatible batch shapes, matrix sizes and flags. */
const matmulCase = fc.record({
  batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
  aKeep: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
  bKeep: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
  aRank: fc.integer({ min: 0, max: 2 }),
  bRank: fc.integer({ min: 0, max: 2 }),
  m: fc.integer({ min: 1, max: 3 }),
  n: fc.integer({ min: 1, max: 3 }),
  k: fc.integer({ min: 1, max: 3 }),
  transposeA: fc.boolean(),
  transposeB: fc.boolean(),
  seed: fc.integer({ min: 0, max: 10_000 }),
})

describe('matmul', () => {
  it('value and both gradients match direct loops for every flag combination and batch broadcasting', () => {
    fc.assert(
      fc.property(matmulCase, (c) => {
        // Each operand takes a suffix of the batch shape, with some dimensions broadcast from 1.
        const ownBatch = (rank: number, keep: ReadonlyArray<boolean>): number[] =>
          c.batch.slice(c.batch.length - Math.min(rank, c.batch.length)).map((d, i) => (keep[i] ? d : 1))
        const aShape = [...ownBatch(c.aRank, c.aKeep), ...(c.transposeA ? [c.k, c.m] : [c.m, c.k])]
        const bShape = [...ownBatch(c.bRank, c.bKeep), ...(c.transposeB ? [c.n, c.k] : [c.k, c.n])]
        const a = anywhere(c.seed, aShape)
        const b = anywhere(c.seed + 1, bShape)
        const flags = { transposeA: c.transposeA, transposeB: c.transposeB }
        const y = matmul(a, b, flags)
        const g = anywhere(c.seed + 2, y.shape)
        const reference = naiveMatmul(a, b, c.transposeA, c.transposeB, g)
        expect(y.shape).toEqual(reference.outShape)
        closeTo(values(y), reference.out)
        const [da, db] = grad((x: Tensor, w: Tensor) => sum(mul(matmul(x, w, flags), g)), {
          argnums: [0, 1],
        })(a, b)
        expect(da.shape).toEqual(aShape)
        expect(db.shape).toEqual(bShape)
        closeTo(values(da), reference.da)
        closeTo(values(db), reference.db)
      }),
      { numRuns: 60 },
    )
  })

  it('follows NumPy for 1-D operands (and ignores flags on them)', () => {
    const v = f64([2], [1, 2])
    const m = f64([2, 2], [1, 2, 3, 4])
    expect(matmul(v, m).shape).toEqual([2])
    expect(values(matmul(v, m))).toEqual([7, 10])
    expect(values(matmul(m, v))).toEqual([5, 11])
    expect(values(matmul(m, v, { transposeA: true }))).toEqual([7, 10])
    expect(values(matmul(v, m, { transposeA: true }))).toEqual([7, 10])
    const scalarProduct = matmul(v, v)
    expect(scalarProduct.shape).toEqual([])
    expect(values(scalarProduct)).toEqual([5])
    const batched = matmul(f64([2, 1, 2], [1, 0, 0, 1]), v)
    expect(batched.shape).toEqual([2, 1])
    expect(values(batched)).toEqual([1, 2])
  })

  it('gives gradients shaped like 1-D operands', () => {
    const v = f64([2], [1, 2])
    const m = f64([2, 3], [1, 2, 3, 4, 5, 6])
    const [dv, dm] = grad((x: Tensor, w: Tensor) => sum(matmul(x, w)), { argnums: [0, 1] })(v, m)
    expect(values(dv)).toEqual([6, 15])
    expect(values(dm)).toEqual([1, 1, 1, 2, 2, 2])
  })

  it('is twice differentiable: Hessian of xᵀ A x is A + Aᵀ', () => {
    const a = f64([2, 2], [1, 2, 5, 3])
    const quadratic = (x: Tensor): Tensor => matmul(x, matmul(a, x))
    const [column] = hvp(quadratic)([f64([2], [0.3, -0.7])], [f64([2], [1, 0])])
    expect(values(column)).toEqual([2, 7])
  })

  it('rejects scalars and mismatched inner dimensions with ShapeErrors naming both shapes', () => {
    const m = f64([2, 3], [1, 2, 3, 4, 5, 6])
    expect(() => matmul(f64([], [1]), m)).toThrow(T.ShapeError)
    expect(() => matmul(f64([], [1]), m)).toThrow(/matmul.*\[\].*\[2,3\]/)
    expect(() => matmul(f64([2], [1, 2]), m, { transposeB: true })).toThrow(/matmul.*\[2\].*\[2,3\]/)
    expect(() => matmul(m, f64([2], [1, 2]))).toThrow(T.ShapeError)
    expect(() => matmul(m, m)).toThrow(T.ShapeError)
  })
})

describe('dot and outer (composites)', () => {
  it('dot is the inner product with gradients b and a', () => {
    const a = f64([3], [1, 2, 3])
    const b = f64([3], [4, 5, 6])
    expect(values(dot(a, b))).toEqual([32])
    const [da, db] = grad(dot, { argnums: [0, 1] })(a, b)
    expect(values(da)).toEqual([4, 5, 6])
    expect(values(db)).toEqual([1, 2, 3])
  })

  it('outer matches a double loop, with gradients G b and Gᵀ a', () => {
    const a = f64([2], [1, -2])
    const b = f64([3], [3, 4, 0.5])
    expect(values(outer(a, b))).toEqual([3, 4, 0.5, -6, -8, -1])
    const g = f64([2, 3], [1, 0, 2, -1, 1, 1])
    const [da, db] = grad((x: Tensor, y: Tensor) => sum(mul(outer(x, y), g)), { argnums: [0, 1] })(a, b)
    expect(values(da)).toEqual([3 + 1, -3 + 4 + 0.5])
    expect(values(db)).toEqual([1 + 2, -2, 2 - 2])
  })

  it('reject anything but 1-D operands with ShapeErrors', () => {
    const m = f64([2, 2], [1, 2, 3, 4])
    expect(() => dot(m, m)).toThrow(/dot.*\[2,2\]/)
    expect(() => dot(f64([2], [1, 2]), f64([3], [1, 2, 3]))).toThrow(T.ShapeError)
    expect(() => outer(m, f64([2], [1, 2]))).toThrow(/outer.*\[2,2\]/)
  })
})

describe('batching rules (vmap)', () => {
  const examples =
    (shapes: ReadonlyArray<ReadonlyArray<number>>, seed: number) =>
    (arg: number, i: number): Tensor =>
      anywhere(seed + 10 * arg + i + 1, shapes[arg]!)

  it('matmul: every in-axes layout, every transpose flag, batch axes broadcast (value and vmap(grad))', () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<number>, ReadonlyArray<number>, boolean, boolean]> = [
      [[2, 3], [3, 4], false, false],
      [[3, 2], [3, 4], true, false],
      [[2, 3], [4, 3], false, true],
      [[3, 2], [4, 3], true, true],
      [[2, 2, 3], [3, 4], false, false],
      [[3, 2], [2, 4, 3], true, true],
      [[2, 1, 2, 3], [3, 3, 4], false, false],
      [[1, 3, 2], [2, 4, 3], true, true],
    ]
    cases.forEach(([aShape, bShape, transposeA, transposeB], n) => {
      const fn = (a: Tensor, b: Tensor): Tensor => matmul(a, b, { transposeA, transposeB })
      const failures = batchingMismatches(
        fn,
        [aShape.length, bShape.length],
        examples([aShape, bShape], 100 * n),
      )
      expect(
        failures,
        `a ${T.fmtShape(aShape)}, b ${T.fmtShape(bShape)}, flags ${transposeA} ${transposeB}`,
      ).toEqual([])
    })
  })

  it('matmul with vector operands, dot and outer keep their 1-D semantics per example', () => {
    const cases: ReadonlyArray<
      readonly [(a: Tensor, b: Tensor) => Tensor, ReadonlyArray<number>, ReadonlyArray<number>]
    > = [
      [(a, b) => matmul(a, b), [3], [3, 4]],
      [(a, b) => matmul(a, b), [2, 3], [3]],
      [(a, b) => matmul(a, b, { transposeB: true }), [3], [4, 3]],
      [(a, b) => matmul(a, b), [2, 2, 3], [3]],
      [(a, b) => matmul(a, b), [3], [3]],
      [dot, [4], [4]],
      [outer, [2], [3]],
    ]
    cases.forEach(([fn, aShape, bShape], n) => {
      const failures = batchingMismatches(
        fn,
        [aShape.length, bShape.length],
        examples([aShape, bShape], 900 + 10 * n),
      )
      expect(failures, `a ${T.fmtShape(aShape)}, b ${T.fmtShape(bShape)}`).toEqual([])
    })
  })

  it('linear: every layout of x, w and b, with and without bias and relu', () => {
    const shapes = [[2, 3], [4, 3], [4]]
    for (const activation of ['none', 'relu'] as const) {
      const withBias = batchingMismatches(
        (x, w, b) => linear(x, w, b, activation),
        [2, 2, 1],
        examples(shapes, activation === 'relu' ? 1500 : 1600),
      )
      expect(withBias, `with bias, ${activation}`).toEqual([])
      const noBias = batchingMismatches(
        (x, w) => linear(x, w, undefined, activation),
        [2, 2],
        examples(shapes, 1700),
      )
      expect(noBias, `without bias, ${activation}`).toEqual([])
    }
  })

  /** Calls a rule with a recording `self`, to see which products it asks for. */
  const recordMatmul = (
    a: Tensor,
    b: Tensor,
    axes: readonly [number | undefined, number | undefined],
    p: MatmulParams,
  ): { calls: number[][][]; outAxis: number | undefined; outShape: ReadonlyArray<number> } => {
    const calls: number[][][] = []
    const [out, outAxis] = matmulOp.batch([a, b], axes, p, (xs, q) => {
      calls.push(xs.map((x) => [...x.shape]))
      return matmulOp.forward(xs, q)
    })
    return { calls, outAxis, outShape: out.shape }
  }

  it('matmul folds one-sided examples into rows or columns: one product, no transpose', () => {
    const plain = { transposeA: false, transposeB: false }
    // a [B, m, k] with shared b [k, n]: one [B·m, k] @ [k, n] product.
    const rows = recordMatmul(anywhere(1, [5, 2, 3]), anywhere(2, [3, 4]), [0, undefined], plain)
    expect(rows.calls).toEqual([
      [
        [10, 3],
        [3, 4],
      ],
    ])
    expect([rows.outAxis, rows.outShape]).toEqual([0, [5, 2, 4]])
    // b [k, n, B] with shared a: the examples become more columns, [k, n·B].
    const cols = recordMatmul(anywhere(3, [2, 3]), anywhere(4, [3, 4, 5]), [undefined, 2], plain)
    expect(cols.calls).toEqual([
      [
        [2, 3],
        [3, 20],
      ],
    ])
    expect([cols.outAxis, cols.outShape]).toEqual([2, [2, 4, 5]])
    // Examples among a's batch axes stay there; b gets a size-1 axis where it would otherwise
    // line up with them (and none where broadcasting already leaves them alone).
    const inner = recordMatmul(anywhere(5, [5, 6, 2, 3]), anywhere(6, [4, 6, 3, 4]), [0, undefined], plain)
    expect(inner.calls).toEqual([
      [
        [5, 6, 2, 3],
        [4, 1, 6, 3, 4],
      ],
    ])
    expect([inner.outAxis, inner.outShape]).toEqual([1, [4, 5, 6, 2, 4]])
    const outer = recordMatmul(anywhere(5, [5, 6, 2, 3]), anywhere(6, [6, 3, 4]), [0, undefined], plain)
    expect(outer.calls).toEqual([
      [
        [5, 6, 2, 3],
        [6, 3, 4],
      ],
    ])
    expect([outer.outAxis, outer.outShape]).toEqual([0, [5, 6, 2, 4]])
  })

  it('linear folds the examples of x into its rows when the weights are shared', () => {
    const calls: number[][][] = []
    const x = anywhere(7, [5, 2, 3])
    const [out, outAxis] = linearOp.batch(
      [x, anywhere(8, [4, 3]), anywhere(9, [4])],
      [0, undefined, undefined],
      { activation: 'relu' },
      (xs, q) => {
        calls.push(xs.map((t) => [...t.shape]))
        return linearOp.forward(xs, q)
      },
    )
    expect(calls).toEqual([[[10, 3], [4, 3], [4]]])
    expect([outAxis, out.shape]).toEqual([0, [5, 2, 4]])
  })

  it('linear folds per-example weights and biases into its outputs when x is shared (still fused)', () => {
    const calls: number[][][] = []
    const x = anywhere(7, [2, 3])
    const [out, outAxis] = linearOp.batch(
      [x, anywhere(8, [5, 4, 3]), anywhere(9, [4])],
      [undefined, 0, undefined],
      { activation: 'relu' },
      (xs, q) => {
        calls.push(xs.map((t) => [...t.shape]))
        return linearOp.forward(xs, q)
      },
    )
    expect(calls).toEqual([[[2, 3], [20, 3], [20]]])
    expect([outAxis, out.shape]).toEqual([1, [2, 5, 4]])
  })
})

describe('shape and dtype rules (staging)', () => {
  const of = (dtype: T.DType, shape: ReadonlyArray<number>): Tensor => T.zeros(shape, dtype)
  const flags = (transposeA: boolean, transposeB: boolean): MatmulParams => ({ transposeA, transposeB })

  it('matmul: the kernel’s shape, promoted dtype and errors, batch broadcasting included', () => {
    const cases: ReadonlyArray<readonly [Tensor, Tensor, MatmulParams]> = [
      [of('float32', [2, 3]), of('float32', [3, 4]), flags(false, false)],
      [of('int32', [2, 1, 3, 4]), of('float64', [5, 4, 2]), flags(false, false)],
      [of('int32', [4, 3]), of('int32', [2, 4]), flags(true, true)],
      [of('float32', [2, 3]), of('float64', [4, 3]), flags(false, true)],
      [of('float32', [2, 3, 4]), of('float32', [3, 4, 5]), flags(false, false)], // batch 2 vs 3
      [of('float32', [2, 3]), of('float32', [2, 3]), flags(false, true)],
      [of('float32', [2, 3]), of('float32', [2, 3]), flags(false, false)], // inner 3 vs 2
    ]
    for (const [a, b, p] of cases) expectRuleMatchesForward(matmulOp, [a, b], p)
    const batched = (a: Tensor, b: Tensor): Tensor => matmul(a, b)
    expectStagedMatchesEager(batched, [of('float32', [2, 3, 4]), of('float32', [3, 4, 5])])
    expect(() => makeGraph(batched)(of('float32', [2, 3, 4]), of('float32', [3, 4, 5]))).toThrow(
      /while staging function batched: .*matmul.*batch dimensions do not broadcast/,
    )
    expectStagedMatchesEager(batched, [of('int32', [3]), of('float64', [3, 2])])
  })

  it('linear: [batch, out] in the promoted float dtype; int32, bad ranks and bad biases throw the kernel’s errors', () => {
    const cases: ReadonlyArray<readonly [LinearInputs, LinearActivation]> = [
      [[of('float32', [8, 3]), of('float32', [4, 3]), of('float32', [4])], 'relu'],
      [[of('int32', [8, 3]), of('float64', [4, 3])], 'none'],
      [[of('float32', [8, 3]), of('float32', [4, 3]), of('float64', [4])], 'none'],
      [[of('int32', [8, 3]), of('int32', [4, 3])], 'none'], // DTypeError
      [[of('float32', [8, 3]), of('float32', [4, 3]), of('float32', [5])], 'none'], // bias
      [[of('float32', [2, 8, 3]), of('float32', [4, 3])], 'none'], // rank
      [[of('float32', [8, 3]), of('float32', [4, 2])], 'relu'], // inner
    ]
    for (const [xs, activation] of cases) expectRuleMatchesForward(linearOp, xs, { activation })
    const layer = (x: Tensor, w: Tensor, b: Tensor): Tensor => linear(x, w, b, 'relu')
    expectStagedMatchesEager(layer, [of('float32', [8, 3]), of('float32', [4, 3]), of('float32', [4])])
    expectStagedMatchesEager(layer, [of('float32', [8, 3]), of('float32', [4, 3]), of('float32', [3])])
    expectStagedMatchesEager(layer, [of('int32', [8, 3]), of('int32', [4, 3]), of('int32', [4])])
  })
})

// The dense op composes primitives (matmul, then bias and ReLU as one elementwise program): its
// values must be exactly those of the unfused kernels (same product, then the same float add and
// max), on every backend, NaN, infinities and -0 included.
const BACKENDS: ReadonlyArray<readonly [string, T.Backend]> = [
  ['reference', T.referenceBackend],
  ...(T.wasmAvailable() ? [['wasm', T.wasmBackend] as const] : []),
]
describe.each(BACKENDS)('linear from primitives on the %s backend', (_name, backend) => {
  afterAll(() => T.setBackend(undefined))
  it.each([
    [1, 1, 1],
    [3, 5, 4],
    [33, 70, 17],
    [128, 64, 130],
  ])(
    'equals relu(x wᵀ + b) and x wᵀ + b bit for bit: batch %i, in %i, out %i, both float dtypes',
    (m, k, n) => {
      T.setBackend(backend)
      for (const dtype of ['float32', 'float64'] as const) {
        const [kx, kw, kb] = T.random.split(T.random.key(m * 1000 + k * 10 + n), 3)
        const x = T.random.normal(kx!, [m, k], { dtype })
        const w = T.random.normal(kw!, [n, k], { dtype })
        const b = T.random.normal(kb!, [n], { dtype })
        const z = T.add(T.matmul(x, w, { transposeB: true }), b)
        expect(linear(x, w, b).data).toEqual(z.data)
        expect(linear(x, w, b, 'relu').data).toEqual(T.relu(z).data)
        expect(linear(x, w, undefined, 'relu').data).toEqual(
          T.relu(T.matmul(x, w, { transposeB: true })).data,
        )
        expect(linear(x, w).shape).toEqual([m, n])
        expect(linear(x, w, b).dtype).toBe(dtype)
      }
    },
  )

  it('treats NaN, infinities and -0 as the unfused kernels do (relu keeps NaN, maps -0 to 0)', () => {
    T.setBackend(backend)
    const [m, k, n] = [9, 13, 11] // sizes off the SIMD width, above the wasm thresholds
    const x = Float32Array.from(T.random.normal(T.random.key(7), [m, k]).data)
    const b = Float32Array.from(T.random.normal(T.random.key(8), [n]).data)
    x[0] = NaN
    x[k + 3] = Infinity
    b[2] = -Infinity
    b[5] = -0
    const xs = T.unsafeTensor('float32', [m, k], x)
    const bs = T.unsafeTensor('float32', [n], b)
    const w = T.random.normal(T.random.key(9), [n, k])
    const z = T.add(T.matmul(xs, w, { transposeB: true }), bs)
    const same = (got: Tensor, want: Tensor): void =>
      Array.from(got.data).forEach((v, i) =>
        expect(Object.is(v, want.data[i]), `element ${i}: ${v} vs ${want.data[i]}`).toBe(true),
      )
    same(linear(xs, w, bs), z)
    same(linear(xs, w, bs, 'relu'), T.relu(z))
  })

  it('rejects bad shapes and activations with messages naming both', () => {
    T.setBackend(backend)
    const x = T.random.normal(T.random.key(1), [2, 3])
    expect(() => linear(x, T.random.normal(T.random.key(2), [4, 5]))).toThrow(T.ShapeError)
    expect(() =>
      linear(x, T.random.normal(T.random.key(2), [4, 3]), T.random.normal(T.random.key(3), [3])),
    ).toThrow(/linear: b has shape \[3\]; expected \[4\]/)
    expect(() =>
      linear(T.random.normal(T.random.key(1), [3]), T.random.normal(T.random.key(2), [4, 3])),
    ).toThrow(/linear: x has shape \[3\] .*expected x \[batch, in\]/)
    expect(() => linear(T.tensor([[1, 2]], 'int32'), T.tensor([[1, 2]], 'int32'))).toThrow(T.DTypeError)
    // @ts-expect-error: only 'none' and 'relu' are applied
    expect(() => linear(x, T.random.normal(T.random.key(2), [4, 3]), undefined, 'tanh')).toThrow(/activation/)
  })
})

describe('matmul VJP of a shared matrix against a batch', () => {
  // w̄ = Σ over the batch of xᵢᵀ ḡᵢ, written out here element by element in float64.
  const x = f64(
    [2, 3, 4],
    Array.from({ length: 24 }, (_, i) => Math.sin(i + 1)),
  )
  const weightsOf = (shape: ReadonlyArray<number>): Tensor =>
    f64(
      shape,
      Array.from({ length: 20 }, (_, i) => Math.cos(2 * i + 1)),
    )
  const seed = f64(
    [2, 3, 5],
    Array.from({ length: 30 }, (_, i) => Math.cos(i * 0.7)),
  )
  const expectedWeightGrad = (transposeB: boolean): number[] => {
    const out = new Array<number>(20).fill(0)
    for (let b = 0; b < 2; b++)
      for (let m = 0; m < 3; m++)
        for (let k = 0; k < 4; k++)
          for (let n = 0; n < 5; n++) {
            const at = transposeB ? n * 4 + k : k * 5 + n
            out[at] = out[at]! + x.data[(b * 3 + m) * 4 + k]! * seed.data[(b * 3 + m) * 5 + n]!
          }
    return out
  }
  it.each([false, true])(
    'transposeB %s: the formula, as one product of the stacked rows (no batch sum)',
    (transposeB) => {
      const w = weightsOf(transposeB ? [5, 4] : [4, 5])
      const loss = (ww: Tensor, xx: Tensor): Tensor => sum(mul(matmul(xx, ww, { transposeB }), seed))
      closeTo(values(grad(loss)(w, x)), expectedWeightGrad(transposeB))
      const graph = makeGraph(grad(loss))(w, x)
      const products = graph.equations.filter((eq) => eq.op.name === 'matmul')
      // The forward product and the weight's: [6, 4]ᵀ [6, 5] (or [6, 5]ᵀ [6, 4]), no [2, ...] batch.
      expect(products.map((eq) => eq.output.shape)).toEqual([[2, 3, 5], transposeB ? [5, 4] : [4, 5]])
      expect(graph.equations.some((eq) => eq.op.name === 'sum' && eq.output.shape.length === 2)).toBe(false)
    },
  )
})
