import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import type { DType } from '../src/dtype'
import { DTypeError, ValueError } from '../src/errors'
import type { Tensor } from '../src/tensor'
import {
  argmax,
  argmin,
  logsumexp,
  max,
  mean,
  min,
  prod,
  sum,
  type ReduceOptions,
} from '../src/kernels/reduce'
import { DTYPES, expectValues, mulberry32, product, stored, storedValues, tensorOf, unravel } from './helpers'

// ---------- helpers (naive, independent of the code under test) ----------

/** Small values with many ties; int32 values stay in [-3, 3] so products are exact in float64. */
const randomValues = (random: () => number, n: number, dtype: DType): number[] =>
  storedValues(n, dtype, () =>
    dtype === 'int32' || random() < 0.3 ? Math.floor(random() * 7) - 3 : (random() - 0.5) * 4,
  )

/**
 * Naive reduction: for each output position, the input values whose kept coordinates match,
 * in row-major order, folded by `f`. Returns the values and the reduced shape without kept dims.
 */
const naiveReduce = (
  shape: ReadonlyArray<number>,
  values: ReadonlyArray<number>,
  axes: ReadonlyArray<number>,
  f: (group: number[]) => number,
): { shape: number[]; values: number[] } => {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i))
  const outShape = kept.map((i) => shape[i]!)
  const groups: number[][] = Array.from({ length: product(outShape) }, () => [])
  for (let flat = 0; flat < values.length; flat++) {
    const index = unravel(flat, shape)
    let outFlat = 0
    for (const i of kept) outFlat = outFlat * shape[i]! + index[i]!
    groups[outFlat]!.push(values[flat]!)
  }
  return { shape: outShape, values: groups.map(f) }
}

const naiveSum = (g: number[]): number => {
  let s = 0
  for (const v of g) s += v
  return s
}
const naiveProd = (g: number[]): number => {
  let p = 1
  for (const v of g) p *= v
  return p
}
const naiveMax = (g: number[]): number => (g.some(Number.isNaN) ? NaN : Math.max(...g))
const naiveMin = (g: number[]): number => (g.some(Number.isNaN) ? NaN : Math.min(...g))
/** Textbook formula, valid for the small values the tests use (no overflow of exp). */
const naiveLogSumExp = (g: number[]): number => Math.log(naiveSum(g.map(Math.exp)))
const naiveArgmax = (g: number[]): number => {
  const nan = g.findIndex(Number.isNaN)
  return nan >= 0 ? nan : g.indexOf(Math.max(...g))
}
const naiveArgmin = (g: number[]): number => {
  const nan = g.findIndex(Number.isNaN)
  return nan >= 0 ? nan : g.indexOf(Math.min(...g))
}

// Inexact cases compare relative to max(|want|, 1): inputs are O(1), so a result near 0 (a logsumexp
// of values whose exponentials sum to about 1) carries absolute, not relative, rounding error.
const REL_FLOOR = 1

interface ReduceCase {
  readonly name: string
  readonly fn: (x: Tensor, opts?: ReduceOptions) => Tensor
  readonly reference: (g: number[]) => number
  readonly outDtype: (dtype: DType) => DType
  /** Reduction over no elements is allowed. */
  readonly emptyOk: boolean
  /** float32 tolerance when the kernel rounds more than once or uses another formula. */
  readonly relTol: (dtype: DType) => number
}

const same = (dtype: DType): DType => dtype
const floatOf = (dtype: DType): DType => (dtype === 'float64' ? 'float64' : 'float32')
const exact = (): number => 0

const CASES: ReadonlyArray<ReduceCase> = [
  { name: 'sum', fn: sum, reference: naiveSum, outDtype: same, emptyOk: true, relTol: exact },
  { name: 'prod', fn: prod, reference: naiveProd, outDtype: same, emptyOk: true, relTol: exact },
  { name: 'max', fn: max, reference: naiveMax, outDtype: same, emptyOk: false, relTol: exact },
  { name: 'min', fn: min, reference: naiveMin, outDtype: same, emptyOk: false, relTol: exact },
  {
    name: 'mean',
    fn: mean,
    reference: (g) => naiveSum(g) / g.length,
    outDtype: floatOf,
    emptyOk: true,
    // The float32 sum is rounded before the division.
    relTol: (dtype) => (dtype === 'float64' ? 0 : 2 ** -22),
  },
  {
    name: 'logsumexp',
    fn: logsumexp,
    reference: naiveLogSumExp,
    outDtype: floatOf,
    emptyOk: true,
    relTol: (dtype) => (dtype === 'float64' ? 1e-13 : 2 ** -22),
  },
]

const SHAPES: ReadonlyArray<ReadonlyArray<number>> = [
  [],
  [0],
  [1],
  [5],
  [2, 3],
  [3, 1, 4],
  [2, 3, 4],
  [2, 0, 3],
  [4, 1, 5, 2],
  [3, 2, 1, 3],
]

/** Every subset of the axes of a rank-`rank` tensor. */
const subsets = (rank: number): number[][] => {
  const out: number[][] = []
  for (let mask = 0; mask < 1 << rank; mask++)
    out.push([...Array(rank).keys()].filter((i) => (mask >> i) & 1))
  return out
}

/** True when some output would reduce over zero elements. */
const emptyGroups = (shape: ReadonlyArray<number>, axes: ReadonlyArray<number>): boolean =>
  axes.some((a) => shape[a] === 0) && shape.every((d, i) => axes.includes(i) || d > 0)

// ---------- tests ----------

describe('reductions against a naive reference', () => {
  for (const c of CASES) {
    for (const dtype of DTYPES) {
      it(`${c.name} on ${dtype} over every subset of axes`, () => {
        const random = mulberry32(c.name.length * 101 + DTYPES.indexOf(dtype))
        for (const shape of SHAPES) {
          const values = randomValues(random, product(shape), dtype)
          const x = tensorOf(dtype, shape, values)
          const outDtype = c.outDtype(dtype)
          for (const axes of [undefined, ...subsets(shape.length)]) {
            const all = axes ?? [...shape.keys()]
            if (!c.emptyOk && emptyGroups(shape, all)) {
              expect(() => c.fn(x, axes === undefined ? {} : { axes })).toThrow(ValueError)
              continue
            }
            const want = naiveReduce(shape, values, all, (g) => stored(outDtype, c.reference(g)))
            for (const keepDims of [false, true]) {
              // Negative axes must mean the same thing.
              const negative = axes?.map((a) => a - shape.length)
              const opts: ReduceOptions =
                axes === undefined ? { keepDims } : { axes: keepDims ? axes : negative!, keepDims }
              const y = c.fn(x, opts)
              expect(y.dtype).toBe(outDtype)
              expect(y.shape).toEqual(keepDims ? shape.map((d, i) => (all.includes(i) ? 1 : d)) : want.shape)
              expectValues(y, want.values, c.relTol(dtype), REL_FLOOR)
            }
          }
        }
      })
    }
  }

  it('agree with the reference on random shapes, axes and special values (property)', () => {
    const shapeAndAxes = fc
      .array(fc.integer({ min: 1, max: 4 }), { maxLength: 5 })
      .chain((shape) => fc.tuple(fc.constant(shape), fc.subarray([...shape.keys()])))
    const specials = [0, 1, -1, 0.5, NaN, Infinity, -Infinity, 2]
    fc.assert(
      fc.property(shapeAndAxes, fc.integer(), fc.boolean(), ([shape, axes], seed, withSpecials) => {
        const random = mulberry32(seed)
        const values = randomValues(random, product(shape), 'float64')
        if (withSpecials) {
          for (let i = 0; i < values.length; i++)
            if (random() < 0.2) values[i] = specials[Math.floor(random() * specials.length)]!
        }
        const x = tensorOf('float64', shape, values)
        for (const c of CASES) {
          const want = naiveReduce(shape, values, axes, c.reference)
          expectValues(c.fn(x, { axes }), want.values, c.relTol('float64'), REL_FLOOR)
        }
        if (axes.length === 1) {
          const axis = axes[0]!
          expectValues(argmax(x, { axis }), naiveReduce(shape, values, axes, naiveArgmax).values)
          expectValues(argmin(x, { axis }), naiveReduce(shape, values, axes, naiveArgmin).values)
        }
      }),
      { numRuns: 200 },
    )
  })

  it('does not mutate its input', () => {
    const values = [3, 1, 2, 5, 4, 0]
    const x = tensorOf('float32', [2, 3], values)
    for (const c of CASES) c.fn(x, { axes: 1 })
    argmax(x)
    expect(Array.from(x.data)).toEqual(values)
  })
})

describe('argmax and argmin', () => {
  it('match the reference along every axis and over the flattened tensor', () => {
    const random = mulberry32(7)
    for (const shape of SHAPES) {
      for (const dtype of DTYPES) {
        const values = randomValues(random, product(shape), dtype)
        const x = tensorOf(dtype, shape, values)
        for (const [fn, reference] of [
          [argmax, naiveArgmax],
          [argmin, naiveArgmin],
        ] as const) {
          const all = [...shape.keys()]
          if (values.length === 0) expect(() => fn(x)).toThrow(ValueError)
          else {
            const y = fn(x)
            expect(y.dtype).toBe('int32')
            expect(y.shape).toEqual([])
            expectValues(y, [reference(values)])
            expect(fn(x, { keepDims: true }).shape).toEqual(shape.map(() => 1))
          }
          for (const axis of all) {
            if (emptyGroups(shape, [axis])) {
              expect(() => fn(x, { axis })).toThrow(ValueError)
              continue
            }
            const want = naiveReduce(shape, values, [axis], reference)
            for (const keepDims of [false, true]) {
              const y = fn(x, { axis: keepDims ? axis : axis - shape.length, keepDims })
              expect(y.dtype).toBe('int32')
              expect(y.shape).toEqual(keepDims ? shape.map((d, i) => (i === axis ? 1 : d)) : want.shape)
              expectValues(y, want.values)
            }
          }
        }
      }
    }
  })

  it('ties go to the first occurrence', () => {
    const x = tensorOf('float32', [2, 4], [1, 5, 5, 0, 2, 2, 2, 2])
    expectValues(argmax(x, { axis: 1 }), [1, 0])
    expectValues(argmin(x, { axis: 1 }), [3, 0])
    expectValues(argmax(x, { axis: 0 }), [1, 0, 0, 1])
    expectValues(argmax(x), [1])
    expectValues(argmax(tensorOf('float64', [3], [-Infinity, -Infinity, -Infinity])), [0])
    expectValues(argmin(tensorOf('float64', [3], [Infinity, Infinity, Infinity])), [0])
  })

  it('indexes into the flattened tensor when no axis is given', () => {
    const x = tensorOf('int32', [2, 3], [0, 1, 2, 9, 4, 9])
    expectValues(argmax(x), [3])
    expectValues(argmin(tensorOf('int32', [2, 2], [5, 4, -1, 7])), [2])
  })

  it('the first NaN wins, as in NumPy', () => {
    const x = tensorOf('float32', [5], [1, NaN, 7, NaN, -1])
    expectValues(argmax(x), [1])
    expectValues(argmin(x), [1])
  })
})

describe('reduction edge cases', () => {
  it('reducing a size-0 axis: sum 0, prod 1, mean NaN, logsumexp -Infinity', () => {
    for (const dtype of DTYPES) {
      const x = tensorOf(dtype, [0, 3], [])
      expectValues(sum(x, { axes: 0 }), [0, 0, 0])
      expectValues(prod(x, { axes: 0 }), [1, 1, 1])
      expectValues(mean(x, { axes: 0 }), [NaN, NaN, NaN])
      expectValues(logsumexp(x, { axes: 0 }), [-Infinity, -Infinity, -Infinity])
      expectValues(sum(x), [0])
      expect(sum(x, { axes: 1 }).shape).toEqual([0])
    }
  })

  it('max, min, argmax, argmin of nothing throw a ValueError naming the op and shape', () => {
    const x = tensorOf('float32', [0, 3], [])
    expect(() => max(x)).toThrow(ValueError)
    expect(() => min(x, { axes: 0 })).toThrow(/min: x of shape \[0,3\]/)
    expect(() => argmax(x)).toThrow(ValueError)
    expect(() => argmin(x, { axis: 0 })).toThrow(ValueError)
    // An empty result needs no element: reducing the non-empty axis is fine.
    expect(max(x, { axes: 1 }).shape).toEqual([0])
    expect(argmax(x, { axis: 1 }).shape).toEqual([0])
  })

  it('logsumexp is stable and handles infinities', () => {
    expectValues(logsumexp(tensorOf('float64', [2], [-Infinity, -Infinity])), [-Infinity])
    expectValues(logsumexp(tensorOf('float32', [2], [-Infinity, -Infinity])), [-Infinity])
    expectValues(logsumexp(tensorOf('float64', [2], [1000, 1000])), [1000 + Math.LN2])
    expectValues(logsumexp(tensorOf('float64', [2], [-1000, -1000])), [-1000 + Math.LN2])
    // exp(90) overflows float32; the shifted form does not.
    expectValues(
      logsumexp(tensorOf('float32', [3], [88, 89, 90])),
      [Math.fround(90 + Math.log1p(Math.exp(-1) + Math.exp(-2)))],
      2 ** -23,
      REL_FLOOR,
    )
    expectValues(logsumexp(tensorOf('float64', [3], [Infinity, 0, -Infinity])), [Infinity])
    expectValues(logsumexp(tensorOf('float64', [2], [Infinity, Infinity])), [Infinity])
    expectValues(logsumexp(tensorOf('float64', [3], [NaN, 0, Infinity])), [NaN])
    expectValues(logsumexp(tensorOf('float64', [2], [-Infinity, 0])), [0])
    // Rows and columns: both loop shapes (reduced innermost, kept innermost).
    const x = tensorOf('float64', [2, 2], [-Infinity, 1000, -Infinity, 1000])
    expectValues(logsumexp(x, { axes: 1 }), [1000, 1000])
    expectValues(logsumexp(x, { axes: 0 }), [-Infinity, 1000 + Math.LN2])
    expect(logsumexp(tensorOf('int32', [2], [0, 0])).dtype).toBe('float32')
  })

  it('propagates NaN through every reduction', () => {
    const x = tensorOf('float32', [2, 3], [1, NaN, 3, 4, 5, 6])
    for (const fn of [sum, prod, max, min, mean, logsumexp]) {
      // Rows reduce the innermost axis, columns the outer one: both loop shapes.
      expect(Array.from(fn(x, { axes: 1 }).data).map(Number.isNaN)).toEqual([true, false])
      expect(Array.from(fn(x, { axes: 0 }).data).map(Number.isNaN)).toEqual([false, true, false])
    }
    expectValues(max(tensorOf('float64', [3], [NaN, 1, 2])), [NaN])
    expectValues(min(tensorOf('float64', [3], [1, 2, NaN])), [NaN])
  })

  it('accumulates float32 sums in float64', () => {
    const values = [2 ** 24, ...new Array<number>(1000).fill(1)]
    // Sequential float32 accumulation would stay at 2^24: each +1 rounds away.
    expectValues(sum(tensorOf('float32', [values.length], values)), [2 ** 24 + 1000])
    const strided = tensorOf(
      'float32',
      [values.length, 1, 2],
      values.flatMap((v) => [v, v]),
    )
    expectValues(sum(strided, { axes: 0 }), [2 ** 24 + 1000, 2 ** 24 + 1000])
  })

  it('keeps int32 for sum, prod, max and min; mean of int32 is float32', () => {
    const x = tensorOf('int32', [2, 2], [1, 2, 3, 4])
    expect(sum(x).dtype).toBe('int32')
    expect(prod(x).dtype).toBe('int32')
    expect(max(x).dtype).toBe('int32')
    expect(min(x).dtype).toBe('int32')
    expect(mean(x).dtype).toBe('float32')
    expectValues(mean(x, { axes: 0 }), [2, 3])
    expectValues(mean(tensorOf('int32', [3], [1, 1, 2])), [Math.fround(4 / 3)])
  })

  it('reduces a scalar to itself and over no axes elementwise', () => {
    const s = tensorOf('float64', [], [-2.5])
    expectValues(sum(s), [-2.5])
    expectValues(logsumexp(s), [-2.5])
    expectValues(argmax(s), [0])
    const x = tensorOf('float64', [2, 2], [1, 2, 3, 4])
    expectValues(sum(x, { axes: [] }), [1, 2, 3, 4])
    expect(sum(x, { axes: [] }).shape).toEqual([2, 2])
    expectValues(argmin(x, { axis: 0, keepDims: true }), [0, 0])
  })
})

describe('reduction bad input', () => {
  const x = tensorOf('float32', [2, 3], [0, 1, 2, 3, 4, 5])

  it('an axis out of range, non-integer or repeated throws a ValueError', () => {
    for (const fn of [sum, mean, prod, max, min, logsumexp]) {
      expect(() => fn(x, { axes: 2 })).toThrow(ValueError)
      expect(() => fn(x, { axes: -3 })).toThrow(ValueError)
      expect(() => fn(x, { axes: [0.5] })).toThrow(ValueError)
      expect(() => fn(x, { axes: [1, -1] })).toThrow(ValueError)
    }
    expect(() => sum(x, { axes: 2 })).toThrow(/sum: axis 2 is out of range/)
    expect(() => argmax(x, { axis: 2 })).toThrow(ValueError)
    expect(() => argmin(x, { axis: -3 })).toThrow(/argmin/)
    expect(() => argmax(tensorOf('float32', [], [1]), { axis: 0 })).toThrow(ValueError)
  })

  it('a non-boolean keepDims throws a ValueError', () => {
    // Cast on purpose: the runtime check exists for callers outside TypeScript's reach.
    const opts = { keepDims: 'yes' } as unknown as ReduceOptions
    expect(() => sum(x, opts)).toThrow(ValueError)
    expect(() => mean(x, opts)).toThrow(ValueError)
    expect(() => argmax(x, opts)).toThrow(ValueError)
  })

  it('an unknown dtype throws a DTypeError', () => {
    // Cast on purpose: this is the malformed input the check exists for.
    const bad = { dtype: 'bool', shape: [1], data: new Int32Array(1) } as unknown as Tensor
    for (const fn of [sum, mean, prod, max, min, logsumexp, argmax, argmin])
      expect(() => fn(bad)).toThrow(DTypeError)
  })
})
