import { describe, it, expect } from 'vitest'
import { Code, encodeModule } from '../../src/backends/wasm/emitter'
import { APPROXIMATE_UNARY, type LaneFunction } from '../../src/backends/wasm/math'
import { wasmAvailable } from '../../src/backends/wasm/runtime'
import { erfScalar } from '../../src/backends/reference/elementwise'

// The float64 lane functions of generated programs, on their own: each one run over float64 inputs
// in a tiny module and compared with Math.* (computed here, per element) in float64 ulps.

/** Runs `fn` over `xs` (float64) in a module of its own: the results, and whether a lane was out of range. */
const runLanesFlagged = (
  fn: LaneFunction,
  xs: ReadonlyArray<number>,
): { readonly values: Float64Array; readonly outOfRange: boolean } => {
  const f = new Code(['i32', 'i32', 'i32'], ['i32'])
  const [src, dst, pairs] = [f.param(0), f.param(1), f.param(2)]
  const x = f.local('v128')
  const context = { outOfRange: f.local('i32') }
  f.block((exit) =>
    exit.loop((again) => {
      again.get(pairs).i32Eqz().brIf(1)
      again.get(src).v128Load().set(x)
      again.get(dst)
      fn(again, x, context)
      again.v128Store()
      again.get(src).i32Const(16).i32Add().set(src)
      again.get(dst).i32Const(16).i32Add().set(dst)
      again.get(pairs).i32Const(1).i32Sub().set(pairs).br(0)
    }),
  )
  f.get(context.outOfRange)
  const n = xs.length + (xs.length % 2)
  const pages = Math.ceil((2 * n * 8) / 65536) + 1
  const { exports } = new WebAssembly.Instance(
    new WebAssembly.Module(encodeModule([{ name: 'run', code: f }], pages)),
  )
  const memory = exports.memory as WebAssembly.Memory
  const heap = new Float64Array(memory.buffer)
  heap.set(xs)
  const flag = (exports.run as (a: number, b: number, c: number) => number)(0, n * 8, n / 2)
  return { values: heap.slice(n, n + xs.length), outOfRange: flag !== 0 }
}

/** Distance in float64 ulps (units of the spacing at the expected value), 0 for equal specials. */
const ulps = (got: number, expected: number): number => {
  if (Object.is(got, expected)) return 0
  if (Number.isNaN(expected) || Number.isNaN(got) || !Number.isFinite(expected) || !Number.isFinite(got))
    return Infinity
  if (got === expected) return Infinity // +0 against -0
  const magnitude = Math.max(Math.abs(expected), 2 ** -1022)
  const spacing = 2 ** (Math.floor(Math.log2(magnitude)) - 52)
  return Math.abs(got - expected) / spacing
}

const SPECIAL = [
  0,
  -0,
  Infinity,
  -Infinity,
  NaN,
  5e-324,
  -5e-324,
  2.2250738585072014e-308,
  1e-300,
  -1e-300,
  1e-20,
  -1e-20,
  1e300,
  -1e300,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
]

/** A wide sweep: ±(spread of magnitudes from 1e-30 to 1e3), plus a dense grid around zero. */
const sweep = (): number[] => {
  const xs: number[] = [...SPECIAL]
  for (let e = -30; e <= 3; e += 0.01) {
    const v = 10 ** e
    xs.push(v, -v)
  }
  for (let i = -20000; i <= 20000; i++) xs.push(i / 997)
  for (let i = 0; i < 20000; i++) xs.push(Math.sin(i * 12.9898) * 800)
  return xs
}

const SIGMOID = (v: number): number => {
  const z = Math.exp(-Math.abs(v))
  return v >= 0 ? 1 / (1 + z) : z / (1 + z)
}
const SOFTPLUS = (v: number): number => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)))

const APPROXIMATE: ReadonlyArray<readonly [string, number, (x: number) => number]> = [
  ['exp', 2, Math.exp],
  ['expm1', 4, Math.expm1],
  ['log', 2, Math.log],
  ['log1p', 4, Math.log1p],
  ['tanh', 4, Math.tanh],
  ['sigmoid', 4, SIGMOID],
  ['softplus', 4, SOFTPLUS],
  ['sin', 2, Math.sin],
  ['cos', 2, Math.cos],
  // The reference backend's erf (the definition generated programs must match): itself ~9 ulps from
  // the true erf near 2 (see the high-precision test below), the wasm lanes within 5.
  ['erf', 12, erfScalar],
]

describe.runIf(wasmAvailable())('float64 lane functions of generated programs', () => {
  it.each(APPROXIMATE)(
    '%s: within %s float64 ulps of Math.* over a wide sweep with special values',
    (name, bound, reference) => {
      // sin and cos reduce exactly up to |x| = 1e6 and flag larger lanes (see the test below).
      const trig = name === 'sin' || name === 'cos'
      const xs = sweep().filter((x) => !trig || !(Math.abs(x) > 1e6))
      const { values: got, outOfRange } = runLanesFlagged(APPROXIMATE_UNARY[name]!, xs)
      expect(outOfRange).toBe(false)
      let worst = 0
      let at = 0
      xs.forEach((x, i) => {
        const expected = reference(x)
        const error = ulps(got[i]!, expected)
        // Results below the normal range: absolute error within a subnormal ulp or two.
        const tiny =
          expected !== 0 && Math.abs(expected) < 2 ** -1022 && Math.abs(got[i]! - expected) <= 2 * 5e-324
        if (!tiny && error > worst) {
          worst = error
          at = x
        }
      })
      expect(worst, `worst at x = ${at}: ${got[xs.indexOf(at)]} vs ${reference(at)}`).toBeLessThanOrEqual(
        bound,
      )
    },
  )
})

describe.runIf(wasmAvailable())('sin and cos beyond their reduction range', () => {
  it.each(['sin', 'cos'])('%s flags a lane above 1e6 in magnitude (and ±Inf), and not 1e6 itself', (name) => {
    const fn = APPROXIMATE_UNARY[name]!
    expect(runLanesFlagged(fn, [0.5, 1e6, -1e6, NaN]).outOfRange).toBe(false)
    expect(runLanesFlagged(fn, [0.5, 1e6 + 1]).outOfRange).toBe(true)
    expect(runLanesFlagged(fn, [-Infinity, 2]).outOfRange).toBe(true)
  })
})

// erf to ~180 bits by BigInt fixed point, from its Maclaurin series 2/√π Σ (-1)ⁿ x^{2n+1} / (n! (2n+1))
// (π by Machin's formula, √π by Newton's method): independent of both implementations.
const BITS = 600n
const ONE = 1n << BITS
const arctanOfInverse = (n: bigint): bigint => {
  let sum = 0n
  let power = ONE / n
  for (let k = 0n; power !== 0n; k++, power /= n * n)
    sum += ((k % 2n === 0n ? 1n : -1n) * power) / (2n * k + 1n)
  return sum
}
const bigSqrt = (v: bigint): bigint => {
  let x = v
  for (let y = (x + 1n) >> 1n; y < x; y = (x + v / x) >> 1n) x = y
  return x
}
const SQRT_PI_FIXED = bigSqrt(4n * (4n * arctanOfInverse(5n) - arctanOfInverse(239n)) * ONE)
/** erf of a finite nonzero double, rounded to the nearest double (within an ulp). */
const erfHighPrecision = (x: number): number => {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, Math.abs(x))
  const bits = view.getBigUint64(0)
  const exponent = Number(bits >> 52n) - 1075
  const mantissa = (bits & ((1n << 52n) - 1n)) | (1n << 52n)
  const fixed =
    exponent >= 0 ? (mantissa << BigInt(exponent)) << BITS : (mantissa << BITS) >> BigInt(-exponent)
  const square = (fixed * fixed) >> BITS
  let sum = 0n
  let term = fixed
  for (let n = 1n; term !== 0n; n++) {
    sum += term / (2n * n - 1n)
    term = -((term * square) >> BITS) / n
  }
  const value = Number(((2n * sum * ONE) / SQRT_PI_FIXED) >> (BITS - 200n)) / 2 ** 200
  return x < 0 ? -value : value
}

describe.runIf(wasmAvailable())('erf lanes against a high-precision erf', () => {
  it('are within 6 float64 ulps of erf computed to ~180 bits on (-6, 6)', () => {
    const xs: number[] = []
    for (let i = 1; i < 1200; i++) xs.push(i / 200 + 1e-3, -(i / 200) - 1e-3)
    xs.push(1e-20, 2.5, 2.4999999999999996, 5.999999999999999)
    const { values } = runLanesFlagged(APPROXIMATE_UNARY.erf!, xs)
    let worst = 0
    xs.forEach((x, i) => {
      worst = Math.max(worst, ulps(values[i]!, erfHighPrecision(x)))
    })
    expect(worst).toBeLessThanOrEqual(6)
  })

  it('keep the reference special values: erf(±0) = +0, ±1 from |x| > 6, NaN stays NaN', () => {
    const { values } = runLanesFlagged(APPROXIMATE_UNARY.erf!, [
      0,
      -0,
      6.5,
      -6.5,
      Infinity,
      -Infinity,
      NaN,
      1,
    ])
    expect(Array.from(values.slice(0, 7))).toEqual([0, 0, 1, -1, 1, -1, NaN])
    expect(Object.is(values[1], 0)).toBe(true)
  })
})

describe('lane function coverage', () => {
  it('every approximate lane function is swept above', () => {
    expect(Object.keys(APPROXIMATE_UNARY).sort()).toEqual(APPROXIMATE.map(([name]) => name).sort())
  })
})
