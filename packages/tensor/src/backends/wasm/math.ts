import type { Code, Local } from './emitter'

// Float64 math on f64x2 lanes for generated elementwise programs (program.ts). WebAssembly has no
// exp or log, so each function is written out here: range reduction plus a polynomial, in the
// classic fdlibm style, with special values (±0, ±Inf, NaN, subnormals, overflow) handled by lane
// masks rather than branches. Every function is accurate to a few float64 ulps (the tests sweep
// them against Math.* over wide ranges), far below a float32 ulp: a float32 program that applies
// them rounds once, at its store, to the float32 nearest its float64 value, so it differs from the
// reference loop (Math.* in float64, rounded once) only when that value lies within a few float64
// ulps of a float32 rounding boundary, and then by one float32 ulp.

/**
 * What a kernel gives its lane functions: an i32 local that a function sets to nonzero when some
 * lane is outside the range it computes accurately (sin and cos of |x| > 1e6); the kernel returns
 * it, and the caller then runs the whole call on the reference loop instead.
 */
export interface LaneContext {
  readonly outOfRange: Local
}

/** Pushes `fn(x)` (f64x2) for the local `x`, declaring whatever temporary locals it needs. */
export type LaneFunction = (f: Code, x: Local, context: LaneContext) => void

/** The 16 bytes of an f64x2 with `value` in both lanes (little-endian, as wasm memory). */
export const f64Pair = (value: number): number[] =>
  Array.from(new Uint8Array(new Float64Array([value, value]).buffer))

/** The 16 bytes of an i64x2 with the 64-bit pattern `high:low` (two 32-bit halves) in both lanes. */
const bitsPair = (high: number, low: number): number[] => {
  const view = new DataView(new ArrayBuffer(16))
  for (const at of [0, 8]) {
    view.setUint32(at, low >>> 0, true)
    view.setUint32(at + 4, high >>> 0, true)
  }
  return Array.from(new Uint8Array(view.buffer))
}

const constant = (f: Code, value: number): Code => f.v128Const(f64Pair(value))

/** Evaluates the top of the stack into a fresh local and returns it. */
const keep = (f: Code): Local => {
  const local = f.local('v128')
  f.set(local)
  return local
}

/** Pushes `c[0] + z·(c[1] + z·(… + z·c[n]))`. */
const horner = (f: Code, z: Local, coefficients: ReadonlyArray<number>): void => {
  constant(f, coefficients[coefficients.length - 1]!)
  for (let i = coefficients.length - 2; i >= 0; i--)
    constant(f.get(z).f64x2Mul(), coefficients[i]!).f64x2Add()
}

const SIGN = bitsPair(0x80000000, 0)
const MANTISSA = bitsPair(0x000fffff, 0xffffffff)
const TWO_52 = 2 ** 52
/** 2^52 + 2^51: adding it to an integer-valued double below 2^51 in magnitude puts the integer in the low bits. */
const ROUNDING_MAGIC = 2 ** 52 + 2 ** 51
const LOG2E = Math.LOG2E
// ln 2 in two parts (fdlibm): the high part has 32 significant bits, so n · LN2_HIGH is exact for |n| < 2^20.
const LN2_HIGH = 6.9314718036912381649e-1
const LN2_LOW = 1.90821492927058770002e-10
/** 1/k! for k = 1 … 13: exp(r) - 1 = r·Σ r^(k-1)/k!, truncation below 2^-57 for |r| ≤ ln2/2. */
const EXPM1_TAYLOR = Array.from({ length: 13 }, (_, k) => {
  let factorial = 1
  for (let j = 2; j <= k + 1; j++) factorial *= j
  return 1 / factorial
})
// fdlibm's log: log(1 + f) = f - f²/2 + s·(f²/2 + R(s²)), s = f / (2 + f), |R error| < 2^-58.
const LOG_POLY = [
  6.66666666666673513e-1, 3.999999999940941908e-1, 2.857142874366239149e-1, 2.222219843214978396e-1,
  1.818357216161805012e-1, 1.531383769920937332e-1, 1.479819860511658591e-1,
]
const MIN_NORMAL = 2.2250738585072014e-308

/**
 * Pushes the same polynomial as `horner` as four interleaved Horner chains in z⁴ (coefficients i,
 * i + 4, i + 8, …), joined by one more Horner step in z: a quarter of the dependent latency, for
 * long polynomials of positive terms (erf's series in x² ≥ 0), where no chain cancels. (exp's
 * 13 Taylor terms in a signed r lose an ulp of expm1 this way, so exp keeps one chain.)
 */
const hornerFourWay = (f: Code, z: Local, coefficients: ReadonlyArray<number>): void => {
  const z2 = keep(f.get(z).get(z).f64x2Mul())
  const z4 = keep(f.get(z2).get(z2).f64x2Mul())
  const chains = [0, 1, 2, 3].map((start) => {
    const own = coefficients.filter((_, i) => i % 4 === start)
    horner(f, z4, own)
    return keep(f)
  })
  f.get(chains[3]!)
  for (let j = 2; j >= 0; j--) f.get(z).f64x2Mul().get(chains[j]!).f64x2Add()
}

/** Pushes 2^n for a local `n` of integer-valued lanes in [-1022, 1023]: n placed in the exponent bits. */
const pow2 = (f: Code, n: Local): void => {
  constant(f.get(n), ROUNDING_MAGIC).f64x2Add().i32Const(52).i64x2Shl().v128Const(f64Pair(1)).i64x2Add()
}

/**
 * exp(x) = 2^n · (1 + q) with n = round(x / ln 2), r = x - n·ln 2 (Cody–Waite, two parts) and
 * q = e^r - 1 by its Taylor series on |r| ≤ ln 2 / 2. x is clamped to [-746, 710] first (beyond
 * which e^x is 0 or +Inf in float64; NaN passes through the clamp; lanes below -746 give 0
 * without computing), and 2^n is applied as two
 * factors so that subnormal results and the overflow to +Inf come out as one multiply rounds them.
 */
const expParts = (
  f: Code,
  x: Local,
): { readonly n: Local; readonly q: Local; readonly scaled: () => void } => {
  // Lanes below -746 (−∞ included: a masked logit) are 0: computed from -700 instead, so that no
  // multiply underflows (x86 takes a slow microcode assist for every subnormal or underflowing
  // result), then replaced.
  const underflow = keep(constant(f.get(x), -746).f64x2Lt())
  constant(f, -700)
  constant(constant(f.get(x), 710).f64x2Min(), -746).f64x2Max()
  f.get(underflow).v128Bitselect()
  const clamped = keep(f)
  // + 0 turns n = -0 (from x = -0) into +0, so that r = x - n·ln 2 keeps the sign of a zero x.
  const n = keep(constant(constant(f.get(clamped), LOG2E).f64x2Mul().f64x2Nearest(), 0).f64x2Add())
  constant(f.get(clamped).get(n), LN2_HIGH).f64x2Mul().f64x2Sub()
  const r = keep(constant(f.get(n), LN2_LOW).f64x2Mul().f64x2Sub())
  horner(f, r, EXPM1_TAYLOR)
  const q = keep(f.get(r).f64x2Mul())
  const half = keep(constant(f.get(n), 0.5).f64x2Mul().f64x2Floor())
  const rest = keep(f.get(n).get(half).f64x2Sub())
  const scaled = (): void => {
    constant(f.get(q), 1).f64x2Add()
    pow2(f, half)
    f.f64x2Mul()
    pow2(f, rest)
    f.f64x2Mul()
    const value = keep(f)
    constant(f, 0).get(value).get(underflow).v128Bitselect()
  }
  return { n, q, scaled }
}

const exp = (f: Code, x: Local): void => expParts(f, x).scaled()

/** e^x - 1: q itself when n = 0 (|x| < ln 2 / 2, no cancellation), else 2^n·(1 + q) - 1. */
const expm1 = (f: Code, x: Local): void => {
  const { n, q, scaled } = expParts(f, x)
  f.get(q)
  scaled()
  constant(f, 1).f64x2Sub()
  constant(f.get(n), 0).f64x2Eq().v128Bitselect()
}

/**
 * fdlibm's log: x = 2^k · m with m in [√2/2, √2) (subnormals scaled by 2^54 first), then
 * log x = k·ln 2 + log(1 + f), f = m - 1. Special lanes: log(±0) = -Inf, log(+Inf) = +Inf,
 * negative or NaN → NaN.
 */
const log = (f: Code, x: Local): void => {
  const subnormal = keep(constant(f.get(x), MIN_NORMAL).f64x2Lt())
  constant(f.get(x), 2 ** 54)
    .f64x2Mul()
    .get(x)
    .get(subnormal)
    .v128Bitselect()
  const scaled = keep(f)
  // The biased exponent as a double: its 11 bits under the mantissa of 2^52, minus 2^52.
  f.get(scaled).i32Const(52).i64x2ShrU().v128Const(f64Pair(TWO_52)).v128Or()
  const exponent = keep(constant(f, TWO_52).f64x2Sub())
  f.get(scaled).v128Const(MANTISSA).v128And().v128Const(f64Pair(1)).v128Or()
  const unit = keep(f)
  const above = keep(constant(f.get(unit), Math.SQRT2).f64x2Gt())
  constant(f.get(unit), 0.5).f64x2Mul().get(unit).get(above).v128Bitselect()
  const m = keep(f)
  constant(f.get(exponent), -1023).f64x2Add()
  constant(constant(f, -54), 0).get(subnormal).v128Bitselect().f64x2Add()
  constant(constant(f, 1), 0).get(above).v128Bitselect().f64x2Add()
  const k = keep(f)
  const t = keep(constant(f.get(m), 1).f64x2Sub())
  const s = keep(f.get(t).get(t).v128Const(f64Pair(2)).f64x2Add().f64x2Div())
  const z = keep(f.get(s).get(s).f64x2Mul())
  horner(f, z, LOG_POLY)
  const polynomial = keep(f.get(z).f64x2Mul())
  const halfSquare = keep(constant(f.get(t), 0.5).f64x2Mul().get(t).f64x2Mul())
  // k·ln2_hi - ((hfsq - (s·(hfsq + R) + k·ln2_lo)) - f)
  constant(f.get(k), LN2_HIGH).f64x2Mul()
  f.get(halfSquare).get(s).get(halfSquare).get(polynomial).f64x2Add().f64x2Mul()
  constant(f.get(k), LN2_LOW).f64x2Mul().f64x2Add()
  f.f64x2Sub().get(t).f64x2Sub().f64x2Sub()
  const result = keep(f)
  constant(f, Infinity).get(result)
  constant(f.get(x), Infinity).f64x2Eq().v128Bitselect()
  const finite = keep(f)
  constant(f, -Infinity).get(finite)
  constant(f.get(x), 0).f64x2Eq().v128Bitselect()
  const signed = keep(f)
  constant(f.get(signed), NaN)
  constant(f.get(x), 0).f64x2Ge().v128Bitselect()
}

/** log(1 + x) = log(u) · x / (u - 1) with u = 1 + x (Goldberg), x itself when u - 1 = 0, +Inf at +Inf. */
const log1p = (f: Code, x: Local): void => {
  const u = keep(constant(f.get(x), 1).f64x2Add())
  const d = keep(constant(f.get(u), 1).f64x2Sub())
  log(f, u)
  f.get(x).get(d).f64x2Div().f64x2Mul()
  const general = keep(f)
  f.get(x).get(general)
  constant(f.get(d), 0).f64x2Eq().v128Bitselect()
  const small = keep(f)
  constant(f, Infinity).get(small)
  constant(f.get(x), Infinity).f64x2Eq().v128Bitselect()
}

/** tanh x = sign(x) · e / (e + 2) with e = expm1(2|x|), |x| clamped at 22 (where tanh is 1 in float64). */
const tanh = (f: Code, x: Local): void => {
  const twice = keep(constant(f.get(x).f64x2Abs(), 22).f64x2Min().v128Const(f64Pair(2)).f64x2Mul())
  expm1(f, twice)
  const e = keep(f)
  f.get(x).get(e).get(e).v128Const(f64Pair(2)).f64x2Add().f64x2Div().v128Const(SIGN).v128Bitselect()
}

/** The reference's formula: z = e^-|x|, then 1 / (1 + z) for x ≥ 0 and z / (1 + z) otherwise. */
const sigmoid = (f: Code, x: Local): void => {
  const negative = keep(f.get(x).f64x2Abs().f64x2Neg())
  exp(f, negative)
  const z = keep(f)
  constant(f, 1).get(z)
  constant(f.get(x), 0).f64x2Ge().v128Bitselect()
  constant(f.get(z), 1).f64x2Add().f64x2Div()
}

/** The reference's formula: max(x, 0) + log1p(e^-|x|). */
const softplus = (f: Code, x: Local): void => {
  const negative = keep(f.get(x).f64x2Abs().f64x2Neg())
  exp(f, negative)
  const z = keep(f)
  constant(f.get(x), 0).f64x2Max()
  log1p(f, z)
  f.f64x2Add()
}

// erf: the reference's own formula (erfScalar in reference/elementwise.ts), lane by lane. Below
// |x| = 2.5: erf x = 2/√π · e^{-x²} · Σ 2ⁿ x^{2n+1} / (1·3···(2n+1)), all terms positive, as one
// polynomial in x² of 39 terms (the series' truncation is below 1e-17 of its sum there) in four
// interleaved chains. From 2.5:
// erfc by Laplace's continued fraction, computed only when a lane needs it, at depth 28 (the
// reference's 60 changes the result by at most a float64 ulp on [2.5, 6]). Beyond 6: ±1.
const ERF_SERIES_LIMIT = 2.5
const ERF_TAIL_LIMIT = 6
const ERF_CONTINUED_FRACTION_DEPTH = 28
const TWO_OVER_SQRT_PI = 1.1283791670955126
const SQRT_PI = 1.7724538509055159
/** 2ⁿ / (1·3···(2n+1)) for n = 0 … 38. */
const ERF_SERIES = Array.from({ length: 39 }, (_, n) => {
  let c = 1
  for (let k = 1; k <= n; k++) c *= 2 / (2 * k + 1)
  return c
})

/** erf x: the series below 2.5, the continued fraction up to 6, ±1 beyond; erf(-0) = +0 and NaN stays NaN, as in the reference. */
const erf = (f: Code, x: Local): void => {
  const ax = keep(f.get(x).f64x2Abs())
  const x2 = keep(f.get(ax).get(ax).f64x2Mul())
  const negative = keep(f.get(x2).f64x2Neg())
  exp(f, negative)
  const e = keep(f)
  // 2/√π · e^{-x²} · (|x| · S(x²)), in the reference's order: (2/√π · e^{-x²}) · sum.
  constant(f, TWO_OVER_SQRT_PI).get(e).f64x2Mul().get(ax)
  hornerFourWay(f, x2, ERF_SERIES)
  const magnitude = keep(f.f64x2Mul().f64x2Mul())
  // Lanes at or above 2.5: 1 - e^{-x²} / (√π · F), F the continued fraction, computed only
  // when some lane needs it (|x| > 6 is 1, below).
  const tail = keep(constant(f.get(ax), ERF_SERIES_LIMIT).f64x2Ge())
  f.get(tail)
    .v128AnyTrue()
    .ifElse((then) => {
      const fraction = keep(then.get(ax))
      for (let k = ERF_CONTINUED_FRACTION_DEPTH; k >= 1; k--)
        constant(then.get(ax), k / 2)
          .get(fraction)
          .f64x2Div()
          .f64x2Add()
          .set(fraction)
      constant(then, 1).get(e)
      constant(then, SQRT_PI).get(fraction).f64x2Mul().f64x2Div().f64x2Sub()
      then.get(magnitude).get(tail).v128Bitselect().set(magnitude)
      constant(then, 1).get(magnitude)
      constant(then.get(ax), ERF_TAIL_LIMIT).f64x2Gt()
      then.v128Bitselect().set(magnitude)
    })
  // x < 0 ? -r : r (so -0 gives +0, as the reference's comparison does).
  f.get(magnitude).f64x2Neg().get(magnitude)
  constant(f.get(x), 0).f64x2Lt().v128Bitselect()
}

// sin and cos (fdlibm): x = k·π/2 + r with π/2 in three parts (each k·part exact for |k| < 2^20),
// then the kernels sin r = r + r³·S(r²) and cos r = 1 - r²/2 + r⁴·C(r²) on |r| ≤ π/4, chosen and
// signed by k mod 4. Beyond |x| = 1e6 the three parts no longer suffice: the kernel says so.
const TRIG_LIMIT = 1e6
const PIO2_1 = 1.57079632673412561417
const PIO2_2 = 6.0771005063039659766e-11
const PIO2_3 = 2.0222662487111664558e-21
const SIN_POLY = [
  -1.66666666666666324348e-1, 8.33333333332248946124e-3, -1.98412698298579493134e-4,
  2.75573137070700676789e-6, -2.50507602534068634195e-8, 1.58969099521155010221e-10,
]
const COS_POLY = [
  4.16666666666666019037e-2, -1.38888888888741095749e-3, 2.48015872894767294178e-5,
  -2.75573143513906633035e-7, 2.0875723212981748279e-9, -1.13596475577881948265e-11,
]

const trig =
  (cosine: boolean): LaneFunction =>
  (f, x, context) => {
    constant(f.get(x).f64x2Abs(), TRIG_LIMIT).f64x2Gt().v128AnyTrue()
    f.get(context.outOfRange).i32Or().set(context.outOfRange)
    // + 0 turns k = -0 into +0, so that r keeps the sign of a zero x.
    const k = keep(
      constant(
        constant(f.get(x), 2 / Math.PI)
          .f64x2Mul()
          .f64x2Nearest(),
        0,
      ).f64x2Add(),
    )
    constant(f.get(x).get(k), PIO2_1).f64x2Mul().f64x2Sub()
    constant(f.get(k), PIO2_2).f64x2Mul().f64x2Sub()
    constant(f.get(k), PIO2_3).f64x2Mul().f64x2Sub()
    const r = keep(f)
    const z = keep(f.get(r).get(r).f64x2Mul())
    // sin r = r + (r·z)·S(z)
    f.get(r).get(r).get(z).f64x2Mul()
    horner(f, z, SIN_POLY)
    const sine = keep(f.f64x2Mul().f64x2Add())
    // cos r = w + (((1 - w) - z/2) + z²·C(z)), w = 1 - z/2
    const halfZ = keep(constant(f.get(z), 0.5).f64x2Mul())
    const w = keep(constant(f, 1).get(halfZ).f64x2Sub())
    f.get(w)
    constant(f, 1).get(w).f64x2Sub().get(halfZ).f64x2Sub()
    f.get(z).get(z).f64x2Mul()
    horner(f, z, COS_POLY)
    const cosineOfR = keep(f.f64x2Mul().f64x2Add().f64x2Add())
    // The quadrant k mod 4 (of k + 1 for cosine) in the low bits of k + 2^52 + 2^51.
    f.get(k)
    if (cosine) constant(f, 1).f64x2Add()
    const quadrant = keep(constant(f, ROUNDING_MAGIC).f64x2Add())
    // An odd quadrant takes the other kernel; quadrants 2 and 3 flip the sign.
    f.get(cosineOfR).get(sine).get(quadrant).i32Const(63).i64x2Shl().i32Const(63).i64x2ShrS().v128Bitselect()
    f.get(quadrant).i32Const(1).i64x2ShrU().i32Const(63).i64x2Shl().v128Xor()
    if (cosine) return
    // sin(±0) = ±0, where the kernel's r + (r·z)·S(z) gives -0 + 0 = +0.
    const result = keep(f)
    f.get(x).get(result)
    constant(f.get(x), 0).f64x2Eq().v128Bitselect()
  }

/**
 * Unary steps wasm computes bit for bit as the reference loop does: IEEE-754 operations, correctly
 * rounded in float64 in both.
 */
export const EXACT_UNARY: Readonly<Record<string, LaneFunction>> = {
  neg: (f, x) => f.get(x).f64x2Neg(),
  abs: (f, x) => f.get(x).f64x2Abs(),
  sqrt: (f, x) => f.get(x).f64x2Sqrt(),
  rsqrt: (f, x) => constant(f, 1).get(x).f64x2Sqrt().f64x2Div(),
  square: (f, x) => f.get(x).get(x).f64x2Mul(),
  reciprocal: (f, x) => constant(f, 1).get(x).f64x2Div(),
  relu: (f, x) => constant(f.get(x), 0).f64x2Max(),
  floor: (f, x) => f.get(x).f64x2Floor(),
  ceil: (f, x) => f.get(x).f64x2Ceil(),
  // The reference rounds half to even, as f64x2.nearest does.
  round: (f, x) => f.get(x).f64x2Nearest(),
  // Math.sign: ±1, and ±0 or NaN unchanged.
  sign: (f, x) => {
    constant(f, -1).get(x)
    constant(f.get(x), 0).f64x2Lt().v128Bitselect()
    const negative = keep(f)
    constant(f, 1).get(negative)
    constant(f.get(x), 0).f64x2Gt().v128Bitselect()
  },
}

/**
 * Unary steps wasm computes with its own float64 functions above, within a few float64 ulps of
 * Math.* (so a float32 result is the reference's or one float32 ulp from it).
 */
export const APPROXIMATE_UNARY: Readonly<Record<string, LaneFunction>> = {
  exp,
  expm1,
  log,
  log1p,
  tanh,
  sigmoid,
  softplus,
  sin: trig(false),
  cos: trig(true),
  erf,
}
