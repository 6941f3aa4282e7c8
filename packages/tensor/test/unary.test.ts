import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import type { DType } from '../src/dtype'
import { DTypeError } from '../src/errors'
import { unsafeTensor, type Tensor } from '../src/tensor'
import {
  abs,
  ceil,
  cos,
  erf,
  exp,
  expm1,
  floor,
  log,
  log1p,
  neg,
  reciprocal,
  relu,
  round,
  tan,
  asin,
  acos,
  atan,
  sinh,
  cosh,
  rsqrt,
  sigmoid,
  sign,
  sin,
  softplus,
  sqrt,
  square,
  tanh,
} from '../src/kernels/unary'
import {
  arrayFor,
  DTYPES,
  expectValues,
  mulberry32,
  product,
  stored,
  storedValues,
  tensorOf,
  withGetters,
} from './helpers'

// ---------- helpers (naive, independent of the code under test) ----------

/** Values that hit the interesting cases: halves, integers, zero, small and moderately large. */
const randomValues = (random: () => number, n: number, dtype: DType): number[] =>
  storedValues(n, dtype, () => {
    const kind = random()
    if (dtype === 'int32') return Math.floor(random() * 21) - 10
    if (kind < 0.3) return (Math.floor(random() * 25) - 12) / 4 // multiples of 0.25, includes halves
    if (kind < 0.4) return 0
    if (kind < 0.5) return (random() - 0.5) * 1e-6
    return (random() - 0.5) * 12
  })

/** Relative tolerances are measured against max(|want|, REL_FLOOR): effectively |want| alone. */
const REL_FLOOR = 1e-30

/** Naive half-to-even rounding, written differently from the kernel on purpose. */
const roundHalfEven = (v: number): number => {
  if (!Number.isFinite(v)) return v
  const f = Math.floor(v)
  const frac = v - f
  if (frac < 0.5) return f
  if (frac > 0.5) return f + 1
  return f % 2 === 0 ? f : f + 1
}

interface UnaryCase {
  readonly name: string
  readonly fn: (x: Tensor) => Tensor
  readonly reference: (v: number) => number
  /** True when int32 input gives float32. */
  readonly realValued: boolean
  /** Relative tolerance when the reference formula differs from the kernel's. */
  readonly relTol?: number
}

const CASES: ReadonlyArray<UnaryCase> = [
  { name: 'neg', fn: neg, reference: (v) => -v, realValued: false },
  { name: 'abs', fn: abs, reference: (v) => (v < 0 ? -v : v), realValued: false },
  { name: 'sign', fn: sign, reference: (v) => (v > 0 ? 1 : v < 0 ? -1 : v), realValued: false },
  { name: 'exp', fn: exp, reference: Math.exp, realValued: true },
  { name: 'expm1', fn: expm1, reference: Math.expm1, realValued: true },
  { name: 'log', fn: log, reference: Math.log, realValued: true },
  { name: 'log1p', fn: log1p, reference: Math.log1p, realValued: true },
  { name: 'sqrt', fn: sqrt, reference: Math.sqrt, realValued: true },
  { name: 'rsqrt', fn: rsqrt, reference: (v) => 1 / Math.sqrt(v), realValued: true },
  { name: 'square', fn: square, reference: (v) => v * v, realValued: false },
  { name: 'reciprocal', fn: reciprocal, reference: (v) => 1 / v, realValued: true },
  { name: 'sin', fn: sin, reference: Math.sin, realValued: true },
  { name: 'cos', fn: cos, reference: Math.cos, realValued: true },
  { name: 'tanh', fn: tanh, reference: Math.tanh, realValued: true },
  { name: 'sigmoid', fn: sigmoid, reference: (v) => 1 / (1 + Math.exp(-v)), realValued: true, relTol: 1e-14 },
  { name: 'relu', fn: relu, reference: (v) => (v > 0 ? v : 0), realValued: false },
  {
    name: 'softplus',
    fn: softplus,
    reference: (v) => Math.log(1 + Math.exp(v)),
    realValued: true,
    // log(1 + e^v) loses relative accuracy for very negative v; the data stay within |v| <= 6.
    relTol: 1e-9,
  },
  { name: 'floor', fn: floor, reference: Math.floor, realValued: false },
  { name: 'ceil', fn: ceil, reference: Math.ceil, realValued: false },
  { name: 'round', fn: round, reference: roundHalfEven, realValued: false },
  // Identities rather than the same Math call the kernel makes.
  { name: 'tan', fn: tan, reference: (v) => Math.sin(v) / Math.cos(v), realValued: true, relTol: 1e-12 },
  {
    name: 'asin',
    fn: asin,
    reference: (v) => Math.atan2(v, Math.sqrt(1 - v * v)),
    realValued: true,
    relTol: 1e-12,
  },
  {
    name: 'acos',
    fn: acos,
    reference: (v) => Math.atan2(Math.sqrt(1 - v * v), v),
    realValued: true,
    relTol: 1e-12,
  },
  { name: 'atan', fn: atan, reference: (v) => Math.atan2(v, 1), realValued: true },
  // (e^v − e^−v)/2 cancels near 0, where the Maclaurin series (to v^9, exact to rounding for |v| < 0.1) takes over.
  {
    name: 'sinh',
    fn: sinh,
    reference: (v) =>
      Math.abs(v) < 0.1
        ? v * (1 + ((v * v) / 6) * (1 + ((v * v) / 20) * (1 + ((v * v) / 42) * (1 + (v * v) / 72))))
        : (Math.exp(v) - Math.exp(-v)) / 2,
    realValued: true,
    relTol: 1e-12,
  },
  {
    name: 'cosh',
    fn: cosh,
    reference: (v) => (Math.exp(v) + Math.exp(-v)) / 2,
    realValued: true,
    relTol: 1e-12,
  },
]

const SHAPES: ReadonlyArray<ReadonlyArray<number>> = [
  [],
  [0],
  [1],
  [7],
  [2, 3],
  [3, 1, 5],
  [2, 0, 3],
  [4, 3, 2, 3],
]

const outDtypeOf = (c: UnaryCase, dtype: DType): DType =>
  c.realValued && dtype === 'int32' ? 'float32' : dtype

// ---------- tests ----------

describe('unary kernels against Math.* references', () => {
  for (const c of CASES) {
    for (const dtype of DTYPES) {
      it(`${c.name} on ${dtype}`, () => {
        const random = mulberry32(c.name.length * 31 + DTYPES.indexOf(dtype))
        for (const shape of SHAPES) {
          const values = randomValues(random, product(shape), dtype)
          const x = tensorOf(dtype, shape, values)
          const y = c.fn(x)
          const outDtype = outDtypeOf(c, dtype)
          expect(y.dtype).toBe(outDtype)
          expect(y.shape).toEqual(shape)
          expect(y.data).toBeInstanceOf(arrayFor(outDtype, []).constructor)
          // float32 results are rounded once from a float64 result, so a float64 reference
          // differing in the last bits may round to the neighbouring float32.
          const relTol = c.relTol === undefined ? 0 : outDtype === 'float32' ? 2 ** -23 : c.relTol
          expectValues(
            y,
            values.map((v) => stored(outDtype, c.reference(v))),
            relTol,
            REL_FLOOR,
          )
        }
      })
    }
  }

  it('matches the references on arbitrary float64 values (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { maxLength: 20 }), (values) => {
        const x = tensorOf('float64', [values.length], values)
        for (const c of CASES) {
          if (c.name === 'softplus') continue // naive log(1 + e^v) is inaccurate at v = -50
          // sin/cos near a pole of tan, and asin/acos outside [-1, 1] (NaN both ways), are covered by the fixed data.
          if (c.name === 'tan') continue
          expectValues(
            c.fn(x),
            values.map((v) => c.reference(v)),
            c.relTol ?? 0,
            REL_FLOOR,
          )
        }
      }),
      { numRuns: 50 },
    )
  })

  it('does not mutate its input', () => {
    const values = [-2.5, -1, 0, 0.5, 3]
    const x = tensorOf('float32', [5], values)
    for (const c of CASES) c.fn(x)
    expect(Array.from(x.data)).toEqual(values)
    expect(x.shape).toEqual([5])
  })

  it('accepts tensor-like objects with getters (traced values)', () => {
    const inner = tensorOf('float64', [2], [-1, 4])
    const traced = withGetters(inner)
    expectValues(sqrt(traced), [NaN, 2])
    expectValues(relu(traced), [0, 4])
  })
})

describe('unary edge cases', () => {
  it('sigmoid is stable for large |x|', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const y = sigmoid(tensorOf(dtype, [6], [-1000, -100, 0, 100, 1000, Infinity]))
      expectValues(y, [0, stored(dtype, Math.exp(-100)), 0.5, 1, 1, 1])
      expect(Array.from(y.data).some(Number.isNaN)).toBe(false)
    }
    expectValues(sigmoid(tensorOf('float64', [2], [-Infinity, NaN])), [0, NaN])
  })

  it('softplus is stable for large |x|', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const y = softplus(tensorOf(dtype, [5], [-1000, -Infinity, 0, 1000, Infinity]))
      expectValues(y, [0, 0, stored(dtype, Math.LN2), 1000, Infinity])
    }
    // softplus(-40) = log1p(e^-40) ≈ e^-40, which naive log(1 + e^x) rounds to 0.
    expectValues(softplus(tensorOf('float64', [1], [-40])), [Math.exp(-40)], 1e-15, REL_FLOOR)
  })

  it('round goes half to even', () => {
    const x = tensorOf(
      'float64',
      [10],
      [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, 3.5, 1e300, NaN],
    )
    expectValues(round(x), [0, 2, 2, 0, -2, -2, 0, 4, 1e300, NaN])
    expect(Object.is(round(tensorOf('float64', [1], [-0.5])).data[0], -0)).toBe(true)
    expectValues(round(tensorOf('float32', [4], [0.5, 1.5, 2.5, -3.5])), [0, 2, 2, -4])
    expectValues(round(tensorOf('int32', [3], [-3, 0, 7])), [-3, 0, 7])
  })

  it('sign(0) is 0, relu(0) is 0, relu propagates NaN', () => {
    expectValues(sign(tensorOf('float32', [4], [0, -3, 2, NaN])), [0, -1, 1, NaN])
    expectValues(sign(tensorOf('int32', [3], [0, -3, 2])), [0, -1, 1])
    expectValues(relu(tensorOf('float32', [4], [0, -3, 2, NaN])), [0, 0, 2, NaN])
    expect(Object.is(relu(tensorOf('float64', [1], [-0])).data[0], 0)).toBe(true)
  })

  it('int32 stays int32 where the brief says so, and wraps like C', () => {
    const x = tensorOf('int32', [3], [-2147483648, -3, 46341])
    expect(neg(x).dtype).toBe('int32')
    expectValues(neg(x), [-2147483648, 3, -46341])
    expectValues(abs(x), [-2147483648, 3, 46341])
    // 46341^2 = 2147488281 wraps to 2147488281 - 2^32.
    expectValues(square(x), [0, 9, 2147488281 - 2 ** 32])
    expect(exp(x).dtype).toBe('float32')
    expect(sigmoid(tensorOf('int32', [1], [0])).data[0]).toBe(0.5)
  })

  it('real-valued functions of int32 give float32 values', () => {
    expectValues(sqrt(tensorOf('int32', [3], [4, 2, -1])), [2, Math.fround(Math.SQRT2), NaN])
    expectValues(reciprocal(tensorOf('int32', [2], [4, 0])), [0.25, Infinity])
    expectValues(log(tensorOf('int32', [2], [1, 0])), [0, -Infinity])
  })

  it('rejects an unknown dtype with a DTypeError', () => {
    // Cast on purpose: this is the malformed input the check exists for.
    const bad = { dtype: 'int8', shape: [1], data: new Int32Array(1) } as unknown as Tensor
    expect(() => exp(bad)).toThrow(DTypeError)
    expect(() => neg(bad)).toThrow(/neg: x has dtype int8/)
  })
})

describe('erf', () => {
  // Reference: the Maclaurin series with exact rational coefficients, summed in extended steps
  // for |x| <= 3 (alternating, but the test only needs ~1e-12), and known values from tables.
  const series = (x: number): number => {
    let term = x
    let sum = x
    for (let n = 1; n < 120; n++) {
      term *= (-x * x) / n
      sum += term / (2 * n + 1)
    }
    return (2 / Math.sqrt(Math.PI)) * sum
  }
  it('matches the Maclaurin series and tabulated values', () => {
    const xs = [-3, -1.7, -0.4, 0, 1e-8, 0.25, 1, 2.2, 2.5, 2.7, 3]
    const y = erf(unsafeTensor('float64', [xs.length], Float64Array.from(xs)))
    xs.forEach((x, i) => expect(y.data[i]).toBeCloseTo(series(x), 11))
    const table = erf(unsafeTensor('float64', [3], Float64Array.of(0.5, 1, 4)))
    expect(table.data[0]).toBeCloseTo(0.5204998778130465, 15)
    expect(table.data[1]).toBeCloseTo(0.8427007929497149, 15)
    expect(table.data[2]).toBeCloseTo(0.9999999845827421, 15)
    expect(erf(unsafeTensor('float64', [2], Float64Array.of(40, -Infinity))).data).toEqual(
      Float64Array.of(1, -1),
    )
  })
})
