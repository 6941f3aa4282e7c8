import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import type { DType } from '../src/dtype'
import { DTypeError, ShapeError } from '../src/errors'
import { broadcastShapes } from '../src/shape'
import { unsafeTensor, type Tensor } from '../src/tensor'
import {
  add,
  astype,
  div,
  equal,
  greater,
  greaterEqual,
  less,
  lessEqual,
  maximum,
  minimum,
  mul,
  notEqual,
  pow,
  sub,
  where,
} from '../src/kernels/binary'
import {
  DTYPES,
  expectValues,
  mulberry32,
  product,
  stored,
  storedValues,
  tensorOf,
  unravel,
  withGetters,
} from './helpers'

// ---------- helpers (naive, independent of the code under test) ----------

/** Small values with many ties and zeros, so comparisons and division hit their edge cases. */
const randomValues = (random: () => number, n: number, dtype: DType): number[] =>
  storedValues(n, dtype, () =>
    dtype === 'int32' || random() < 0.4 ? Math.floor(random() * 9) - 4 : (random() - 0.5) * 8,
  )

/** NumPy's broadcasting rule, reimplemented: undefined when the shapes are incompatible. */
const numpyBroadcast = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number[] | undefined => {
  const rank = Math.max(a.length, b.length)
  const out: number[] = []
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1
    const db = b[b.length - rank + i] ?? 1
    if (da !== db && da !== 1 && db !== 1) return undefined
    out.push(da === 1 ? db : da)
  }
  return out
}

/** Flat index into an operand of `shape` for the output multi-index `outIndex` (divmod, no strides). */
const operandIndex = (outIndex: ReadonlyArray<number>, shape: ReadonlyArray<number>): number => {
  const lead = outIndex.length - shape.length
  let flat = 0
  for (let i = 0; i < shape.length; i++) {
    const size = shape[i]!
    flat = flat * size + (size === 1 ? 0 : outIndex[lead + i]!)
  }
  return flat
}

/** Naive broadcasting elementwise map over any number of operands. */
const broadcastMap = (
  shapes: ReadonlyArray<ReadonlyArray<number>>,
  values: ReadonlyArray<ReadonlyArray<number>>,
  outShape: ReadonlyArray<number>,
  f: (args: number[]) => number,
): number[] => {
  const out: number[] = []
  for (let flat = 0; flat < product(outShape); flat++) {
    const index = unravel(flat, outShape)
    out.push(f(shapes.map((shape, k) => values[k]![operandIndex(index, shape)]!)))
  }
  return out
}

const promoted = (a: DType, b: DType): DType =>
  a === b ? a : a === 'float64' || b === 'float64' ? 'float64' : 'float32'

type BinaryFn = (a: Tensor | number, b: Tensor | number) => Tensor

interface BinaryCase {
  readonly name: string
  readonly fn: BinaryFn
  readonly reference: (a: number, b: number) => number
  readonly kind: 'arithmetic' | 'division' | 'comparison'
}

const CASES: ReadonlyArray<BinaryCase> = [
  { name: 'add', fn: add, reference: (a, b) => a + b, kind: 'arithmetic' },
  { name: 'sub', fn: sub, reference: (a, b) => a - b, kind: 'arithmetic' },
  { name: 'mul', fn: mul, reference: (a, b) => a * b, kind: 'arithmetic' },
  { name: 'div', fn: div, reference: (a, b) => a / b, kind: 'division' },
  { name: 'pow', fn: pow, reference: (a, b) => a ** b, kind: 'division' },
  {
    name: 'maximum',
    fn: maximum,
    reference: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a > b ? a : b),
    kind: 'arithmetic',
  },
  {
    name: 'minimum',
    fn: minimum,
    reference: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? a : b),
    kind: 'arithmetic',
  },
  { name: 'equal', fn: equal, reference: (a, b) => (a === b ? 1 : 0), kind: 'comparison' },
  { name: 'notEqual', fn: notEqual, reference: (a, b) => (a !== b ? 1 : 0), kind: 'comparison' },
  { name: 'less', fn: less, reference: (a, b) => (a < b ? 1 : 0), kind: 'comparison' },
  { name: 'lessEqual', fn: lessEqual, reference: (a, b) => (a <= b ? 1 : 0), kind: 'comparison' },
  { name: 'greater', fn: greater, reference: (a, b) => (a > b ? 1 : 0), kind: 'comparison' },
  { name: 'greaterEqual', fn: greaterEqual, reference: (a, b) => (a >= b ? 1 : 0), kind: 'comparison' },
]

const outDtypeOf = (c: BinaryCase, inDtype: DType): DType =>
  c.kind === 'comparison' ? 'int32' : c.kind === 'division' && inDtype === 'int32' ? 'float32' : inDtype

/** Shape pairs covering fast paths (equal, scalar) and the general path (every broadcast pattern). */
const SHAPE_PAIRS: ReadonlyArray<readonly [ReadonlyArray<number>, ReadonlyArray<number>]> = [
  [[3, 1], [4]],
  [[], [2, 3]],
  [[2, 3], []],
  [
    [2, 1, 3],
    [4, 1],
  ],
  [
    [2, 3],
    [2, 3],
  ],
  [[], []],
  [[7], [1]],
  [[1], [7]],
  [[5], [5]],
  [
    [0, 3],
    [1, 3],
  ],
  [
    [2, 0],
    [2, 1],
  ],
  [[0], []],
  [
    [4, 1, 3],
    [1, 5, 1],
  ],
  [
    [2, 1, 3, 1],
    [1, 4, 1, 2],
  ],
  [
    [3, 4],
    [1, 1],
  ],
  [
    [1, 1, 5],
    [3, 2, 5],
  ],
  [
    [3, 2, 5],
    [3, 1, 5],
  ],
  [
    [2, 3, 1, 1],
    [2, 3, 1, 1],
  ],
]

/** Expected values of `c(a, b)` computed naively in float64, stored into the output dtype. */
const expected = (
  c: BinaryCase,
  aShape: ReadonlyArray<number>,
  aValues: ReadonlyArray<number>,
  bShape: ReadonlyArray<number>,
  bValues: ReadonlyArray<number>,
  outDtype: DType,
): number[] => {
  const outShape = numpyBroadcast(aShape, bShape)!
  return broadcastMap([aShape, bShape], [aValues, bValues], outShape, ([x, y]) =>
    stored(outDtype, c.reference(x!, y!)),
  )
}

// ---------- tests ----------

describe('binary kernels against a naive broadcasting reference', () => {
  for (const c of CASES) {
    it(`${c.name} over every dtype pair and broadcast pattern`, () => {
      const random = mulberry32(c.name.length * 977)
      for (const [aShape, bShape] of SHAPE_PAIRS) {
        for (const aDtype of DTYPES) {
          for (const bDtype of DTYPES) {
            const inDtype = promoted(aDtype, bDtype)
            const outDtype = outDtypeOf(c, inDtype)
            const aValues = randomValues(random, product(aShape), aDtype)
            const bValues = randomValues(random, product(bShape), bDtype)
            const y = c.fn(tensorOf(aDtype, aShape, aValues), tensorOf(bDtype, bShape, bValues))
            expect(y.dtype).toBe(outDtype)
            expect(y.shape).toEqual(numpyBroadcast(aShape, bShape))
            // Inputs are exact in the promoted dtype, so the reference may use them as they are.
            expectValues(y, expected(c, aShape, aValues, bShape, bValues, outDtype))
          }
        }
      }
    })

    it(`${c.name} with a plain number operand (weak dtype)`, () => {
      const random = mulberry32(c.name.length * 13 + 5)
      for (const dtype of DTYPES) {
        const values = randomValues(random, 6, dtype)
        const x = tensorOf(dtype, [2, 3], values)
        const left = c.fn(x, 3)
        const right = c.fn(-2, x)
        expect(left.dtype).toBe(outDtypeOf(c, dtype))
        expect(right.dtype).toBe(outDtypeOf(c, dtype))
        expect(left.shape).toEqual([2, 3])
        expectValues(
          left,
          values.map((v) => stored(outDtypeOf(c, dtype), c.reference(v, 3))),
        )
        expectValues(
          right,
          values.map((v) => stored(outDtypeOf(c, dtype), c.reference(-2, v))),
        )
      }
      const both = c.fn(7, 2)
      expect(both.shape).toEqual([])
      expect(both.dtype).toBe(c.kind === 'comparison' ? 'int32' : 'float32')
      expectValues(both, [stored(both.dtype, c.reference(7, 2))])
    })
  }

  it('agrees with the reference on random broadcastable shapes (property)', () => {
    const dim = fc.integer({ min: 0, max: 4 })
    const compatiblePair = fc
      .array(fc.tuple(dim, fc.integer({ min: 0, max: 2 })), { maxLength: 4 })
      .chain((dims) =>
        fc.tuple(fc.constant(dims), fc.integer({ min: 0, max: dims.length }), fc.integer({ min: 0, max: 1 })),
      )
      .map(([dims, drop, dropFrom]) => {
        // Each axis: both sides equal (0), a broadcasts (1) or b broadcasts (2).
        const a = dims.map(([d, mode]) => (mode === 1 ? 1 : d))
        const b = dims.map(([d, mode]) => (mode === 2 ? 1 : d))
        // Leading axes may be missing entirely on one side.
        return dropFrom === 0 ? ([a.slice(drop), b] as const) : ([a, b.slice(drop)] as const)
      })
    fc.assert(
      fc.property(compatiblePair, fc.integer(), fc.constantFrom(...CASES), ([aShape, bShape], seed, c) => {
        const random = mulberry32(seed)
        const aValues = randomValues(random, product(aShape), 'float64')
        const bValues = randomValues(random, product(bShape), 'float64')
        const y = c.fn(tensorOf('float64', aShape, aValues), tensorOf('float64', bShape, bValues))
        expect(y.shape).toEqual(numpyBroadcast(aShape, bShape))
        expectValues(y, expected(c, aShape, aValues, bShape, bValues, outDtypeOf(c, 'float64')))
      }),
      { numRuns: 200 },
    )
  })

  it('does not mutate its inputs', () => {
    const a = tensorOf('float32', [2, 1], [1, 2])
    const b = tensorOf('float32', [3], [3, 4, 5])
    for (const c of CASES) c.fn(a, b)
    expect(Array.from(a.data)).toEqual([1, 2])
    expect(Array.from(b.data)).toEqual([3, 4, 5])
  })

  it('accepts tensor-like objects with getters (traced values)', () => {
    const inner = tensorOf('float64', [2, 1], [1, 2])
    const traced = withGetters(inner)
    expectValues(add(traced, tensorOf('float64', [2], [10, 20])), [11, 21, 12, 22])
  })
})

describe('broadcasting shape rules (property)', () => {
  const shape = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 })
  const zerosOf = (s: ReadonlyArray<number>): Tensor =>
    tensorOf('float32', s, new Array<number>(product(s)).fill(0))

  it('equals the NumPy rule, is symmetric, and is idempotent', () => {
    fc.assert(
      fc.property(shape, shape, (a, b) => {
        const want = numpyBroadcast(a, b)
        if (want === undefined) {
          expect(() => broadcastShapes('add', a, b)).toThrow(ShapeError)
          expect(() => add(zerosOf(a), zerosOf(b))).toThrow(ShapeError)
          expect(() => add(zerosOf(b), zerosOf(a))).toThrow(ShapeError)
          return
        }
        expect(broadcastShapes('add', a, b)).toEqual(want)
        expect(broadcastShapes('add', b, a)).toEqual(want)
        expect(add(zerosOf(a), zerosOf(b)).shape).toEqual(want)
        expect(mul(zerosOf(b), zerosOf(a)).shape).toEqual(want)
        // Broadcasting to the result shape changes nothing further.
        expect(broadcastShapes('add', want, a)).toEqual(want)
        expect(broadcastShapes('add', b, want)).toEqual(want)
        expect(broadcastShapes('add', want, want)).toEqual(want)
      }),
      { numRuns: 300 },
    )
  })

  it('is compatible with shapes generated to be compatible', () => {
    fc.assert(
      fc.property(shape, fc.array(fc.boolean(), { maxLength: 4 }), (a, ones) => {
        // Replacing any axes of `a` by 1 gives a shape that broadcasts back to `a`.
        const b = a.map((d, i) => (ones[i] === true ? 1 : d))
        expect(numpyBroadcast(a, b)).toEqual(a)
        expect(add(zerosOf(a), zerosOf(b)).shape).toEqual(a)
      }),
      { numRuns: 100 },
    )
  })
})

describe('binary dtype rules', () => {
  it('promotes tensor dtypes with the promotion table', () => {
    const table: ReadonlyArray<readonly [DType, DType, DType]> = [
      ['int32', 'int32', 'int32'],
      ['int32', 'float32', 'float32'],
      ['float32', 'int32', 'float32'],
      ['int32', 'float64', 'float64'],
      ['float32', 'float64', 'float64'],
      ['float64', 'float32', 'float64'],
      ['float32', 'float32', 'float32'],
      ['float64', 'float64', 'float64'],
    ]
    for (const [a, b, want] of table) {
      expect(add(tensorOf(a, [1], [1]), tensorOf(b, [1], [2])).dtype).toBe(want)
      expect(less(tensorOf(a, [1], [1]), tensorOf(b, [1], [2])).dtype).toBe('int32')
    }
  })

  it('keeps the tensor dtype for a plain number (weak typing)', () => {
    expect(mul(tensorOf('int32', [2], [3, 4]), 2).dtype).toBe('int32')
    expect(add(tensorOf('float64', [1], [1]), 1).dtype).toBe('float64')
    expect(add(1, tensorOf('float32', [1], [1])).dtype).toBe('float32')
    expect(add(1, 2).dtype).toBe('float32')
    // float64 precision is kept: 0.1 is not rounded to float32 on the way in.
    expectValues(add(tensorOf('float64', [1], [0]), 0.1), [0.1])
  })

  it('promotes int32 to float32 for a number that is not an int32 value (as JAX and PyTorch)', () => {
    const x = tensorOf('int32', [3], [1, 2, 3])
    const y = add(x, 0.5)
    expect(y.dtype).toBe('float32')
    expectValues(y, [1.5, 2.5, 3.5])
    expectValues(equal(x, 2.5), [0, 0, 0])
    expect(maximum(x, -Infinity).dtype).toBe('float32')
    expectValues(mul(x, NaN), [NaN, NaN, NaN])
    expect(add(x, 2 ** 31).dtype).toBe('float32')
    expect(add(x, -(2 ** 31)).dtype).toBe('int32')
  })

  it('div and pow of int32 give float32', () => {
    const a = tensorOf('int32', [3], [7, -7, 1])
    const b = tensorOf('int32', [3], [2, 2, 0])
    expect(div(a, b).dtype).toBe('float32')
    expectValues(div(a, b), [3.5, -3.5, Infinity])
    expect(pow(a, b).dtype).toBe('float32')
    expectValues(pow(a, tensorOf('int32', [3], [2, -1, 5])), [49, Math.fround(-1 / 7), 1])
  })

  it('int32 add, sub and mul wrap around like C', () => {
    const big = tensorOf('int32', [2], [2147483647, -2147483648])
    expectValues(add(big, 1), [-2147483648, -2147483647])
    expectValues(sub(big, 1), [2147483646, 2147483647])
    const factors = [46341, 65536, -123456789, 987654321]
    const x = tensorOf('int32', [4], factors)
    expectValues(
      mul(x, x),
      factors.map((v) => Number(BigInt.asIntN(32, BigInt(v) * BigInt(v)))),
    )
  })
})

describe('binary edge cases', () => {
  it('maximum and minimum propagate NaN from either side', () => {
    const a = tensorOf('float32', [4], [NaN, 1, NaN, 2])
    const b = tensorOf('float32', [4], [1, NaN, NaN, -1])
    expectValues(maximum(a, b), [NaN, NaN, NaN, 2])
    expectValues(minimum(a, b), [NaN, NaN, NaN, -1])
    expectValues(maximum(tensorOf('float64', [2], [-0, 0]), 0), [0, 0])
  })

  it('comparisons with NaN are false except notEqual', () => {
    const a = tensorOf('float64', [1], [NaN])
    expectValues(equal(a, a), [0])
    expectValues(notEqual(a, a), [1])
    expectValues(less(a, 1), [0])
    expectValues(greaterEqual(a, 1), [0])
  })

  it('pow follows IEEE 754 for base 1 and -1', () => {
    expectValues(
      pow(
        tensorOf('float64', [4], [1, 1, -1, -1]),
        tensorOf('float64', [4], [NaN, Infinity, Infinity, -Infinity]),
      ),
      [1, 1, 1, 1],
    )
    expectValues(pow(tensorOf('float64', [3], [NaN, -8, 0]), tensorOf('float64', [3], [0, 1 / 3, -1])), [
      1,
      NaN,
      Infinity,
    ])
  })

  it('division by zero gives ±Infinity and NaN', () => {
    expectValues(div(tensorOf('float32', [3], [1, -1, 0]), 0), [Infinity, -Infinity, NaN])
  })
})

describe('where', () => {
  it('selects with three-way broadcasting against a naive reference', () => {
    const random = mulberry32(42)
    const triples: ReadonlyArray<
      readonly [ReadonlyArray<number>, ReadonlyArray<number>, ReadonlyArray<number>]
    > = [
      [[3, 1], [4], []],
      [[2, 1, 3], [4, 1], [1]],
      [[], [2, 3], [2, 3]],
      [
        [2, 3],
        [2, 3],
        [2, 3],
      ],
      [[5], [], []],
      [[0, 2], [2], [1, 2]],
      [
        [1, 4, 1],
        [3, 1, 1],
        [1, 1, 2],
      ],
    ]
    for (const [cShape, aShape, bShape] of triples) {
      for (const condDtype of DTYPES) {
        for (const aDtype of DTYPES) {
          for (const bDtype of DTYPES) {
            const cValues = randomValues(random, product(cShape), condDtype).map((v) => (v > 0 ? v : 0))
            const aValues = randomValues(random, product(aShape), aDtype)
            const bValues = randomValues(random, product(bShape), bDtype)
            const y = where(
              tensorOf(condDtype, cShape, cValues),
              tensorOf(aDtype, aShape, aValues),
              tensorOf(bDtype, bShape, bValues),
            )
            const outShape = numpyBroadcast(numpyBroadcast(cShape, aShape)!, bShape)!
            expect(y.shape).toEqual(outShape)
            expect(y.dtype).toBe(promoted(aDtype, bDtype))
            expectValues(
              y,
              broadcastMap([cShape, aShape, bShape], [cValues, aValues, bValues], outShape, ([c, a, b]) =>
                c !== 0 ? a! : b!,
              ),
            )
          }
        }
      }
    }
  })

  it('treats any nonzero (NaN included) as true and -0 as false', () => {
    const cond = tensorOf('float32', [4], [NaN, -0, 0.5, -2])
    expectValues(where(cond, 1, 0), [1, 0, 1, 1])
  })

  it('takes weak numbers like the binary ops', () => {
    const cond = tensorOf('int32', [2], [1, 0])
    const y = where(cond, tensorOf('int32', [2], [5, 6]), -1)
    expect(y.dtype).toBe('int32')
    expectValues(y, [5, -1])
    expect(where(cond, tensorOf('int32', [2], [5, 6]), 0.5).dtype).toBe('float32')
    expect(where(cond, 1, 2).dtype).toBe('float32')
    expect(where(cond, tensorOf('float64', [1], [1]), 2).dtype).toBe('float64')
  })

  it('names the op and all three shapes when they do not broadcast', () => {
    const run = (): Tensor => where(tensorOf('int32', [2], [1, 0]), tensorOf('float32', [3], [1, 2, 3]), 0)
    expect(run).toThrow(ShapeError)
    expect(run).toThrow(/where/)
    expect(run).toThrow(/\[2\]/)
    expect(run).toThrow(/\[3\]/)
    expect(() =>
      where(
        tensorOf('int32', [2], [1, 0]),
        tensorOf('float32', [2], [1, 2]),
        tensorOf('float32', [4], [0, 0, 0, 0]),
      ),
    ).toThrow(/cond \[2\], a \[2\] and b \[4\]/)
  })
})

describe('astype', () => {
  it('returns the input itself when the dtype already matches', () => {
    for (const dtype of DTYPES) {
      const x = tensorOf(dtype, [2], [1, 2])
      expect(astype(x, dtype)).toBe(x)
    }
  })

  it('truncates toward zero into int32, maps NaN to 0 and saturates', () => {
    for (const from of ['float32', 'float64'] as const) {
      const x = tensorOf(from, [9], [-1.7, 1.7, -0.5, 2.5, NaN, 1e10, -1e10, Infinity, -Infinity])
      const y = astype(x, 'int32')
      expect(y.dtype).toBe('int32')
      expect(y.data).toBeInstanceOf(Int32Array)
      expect(y.shape).toEqual([9])
      expectValues(y, [-1, 1, 0, 2, 0, 2147483647, -2147483648, 2147483647, -2147483648])
    }
  })

  it('converts between float dtypes and from int32', () => {
    const x = tensorOf('float64', [2], [0.1, 1e300])
    const y = astype(x, 'float32')
    expect(y.data).toBeInstanceOf(Float32Array)
    expectValues(y, [Math.fround(0.1), Infinity])
    expectValues(astype(tensorOf('int32', [2], [16777217, -3]), 'float32'), [16777216, -3])
    expectValues(astype(tensorOf('int32', [2], [16777217, -3]), 'float64'), [16777217, -3])
    expectValues(astype(tensorOf('float32', [1], [0.1]), 'float64'), [Math.fround(0.1)])
    expect(astype(tensorOf('float32', [2, 0], []), 'int32').shape).toEqual([2, 0])
  })

  it('rejects an unknown dtype with a DTypeError', () => {
    const x = tensorOf('float32', [1], [1])
    // Casts on purpose: the runtime check exists for callers outside TypeScript's reach.
    expect(() => astype(x, 'int8' as DType)).toThrow(DTypeError)
    expect(() => astype(x, 'float16' as DType)).toThrow(/astype: unknown target dtype float16/)
  })
})

describe('binary bad input', () => {
  it('incompatible shapes throw a ShapeError naming the op and both shapes', () => {
    const a = tensorOf('float32', [2, 3], [0, 0, 0, 0, 0, 0])
    const b = tensorOf('float32', [4], [0, 0, 0, 0])
    for (const c of CASES) {
      let error: unknown
      try {
        c.fn(a, b)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(ShapeError)
      const message = (error as Error).message
      expect(message).toContain(c.name)
      expect(message).toContain('[2,3]')
      expect(message).toContain('[4]')
    }
  })

  it('an operand with an unknown dtype throws a DTypeError', () => {
    // Cast on purpose: this is the malformed input the check exists for.
    const bad = { dtype: 'uint8', shape: [1], data: new Int32Array(1) } as unknown as Tensor
    expect(() => add(bad, 1)).toThrow(DTypeError)
    expect(() => mul(tensorOf('float32', [1], [1]), bad)).toThrow(/mul: b has dtype uint8/)
    expect(() => where(bad, 1, 2)).toThrow(DTypeError)
  })
})

describe('float32 fast paths (row broadcasts, comparisons into masks)', () => {
  const f32 = (shape: number[], f: (i: number) => number): Tensor => {
    const n = shape.reduce((a, b) => a * b, 1)
    return unsafeTensor(
      'float32',
      shape,
      Float32Array.from({ length: n }, (_, i) => f(i)),
    )
  }
  it('adds, subtracts and multiplies a row vector into every row exactly as the general path does', () => {
    const cases: Array<[number[], number[]]> = [
      [[5, 7], [7]],
      [
        [5, 7],
        [1, 7],
      ],
      [
        [2, 3, 4],
        [3, 4],
      ],
      [[3, 1, 6], [6]],
    ]
    for (const [aShape, bShape] of cases) {
      const a = f32(aShape, (i) => Math.sin(i) * 3)
      const b = f32(bShape, (i) => Math.cos(i) - 0.5)
      const row = b.data.length
      for (const [fn, ref] of [
        [add, (x: number, y: number) => x + y],
        [sub, (x: number, y: number) => x - y],
        [mul, (x: number, y: number) => x * y],
      ] as const) {
        const got = fn(a, b)
        expect(got.shape).toEqual(aShape)
        const want = Float32Array.from(a.data, (v, i) => ref(v, b.data[i % row]!))
        expect(got.data).toEqual(want)
      }
    }
  })
  it('compares float32 with a scalar or an equal-shaped tensor into int32 masks, NaN comparing false', () => {
    const a = f32([9], (i) => (i === 4 ? NaN : i - 4))
    const b = f32([9], (i) => 4 - i)
    const zero = f32([], () => 0)
    for (const [fn, ref] of [
      [greater, (x: number, y: number) => x > y],
      [less, (x: number, y: number) => x < y],
      [greaterEqual, (x: number, y: number) => x >= y],
      [lessEqual, (x: number, y: number) => x <= y],
    ] as const) {
      const vsScalar = fn(a, zero)
      expect(vsScalar.dtype).toBe('int32')
      expect(Array.from(vsScalar.data)).toEqual(Array.from(a.data, (v) => (ref(v, 0) ? 1 : 0)))
      expect(Array.from(fn(a, b).data)).toEqual(Array.from(a.data, (v, i) => (ref(v, b.data[i]!) ? 1 : 0)))
    }
  })
})
