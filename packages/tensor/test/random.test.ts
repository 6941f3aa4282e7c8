import { describe, it, expect, expectTypeOf } from 'vitest'
import fc from 'fast-check'
import type { DType } from '../src/dtype'
import { DTypeError, ShapeError, TraceError, ValueError } from '../src/errors'
import {
  bernoulli,
  bernoulliEach,
  foldIn,
  foldInEach,
  isKey,
  key,
  keyData,
  keysData,
  normal,
  normalEach,
  randomBitsEach,
  splitEach,
  truncatedNormalEach,
  uniformEach,
  wrapKey,
  permutation,
  randint,
  randomBits,
  split,
  threefry2x32,
  truncatedNormal,
  uniform,
} from '../src/random'
import type { Key } from '../src/random'
import { abstractValue, unsafeTensor } from '../src/tensor'
import type { Tensor } from '../src/tensor'

// ---- helpers and naive references ------------------------------------------------------------

const N = 100_000

const mean = (xs: ArrayLike<number>): number => {
  let sum = 0
  for (let i = 0; i < xs.length; i++) sum += xs[i]!
  return sum / xs.length
}

const minOf = (xs: ArrayLike<number>): number => {
  let m = Infinity
  for (let i = 0; i < xs.length; i++) m = Math.min(m, xs[i]!)
  return m
}

const maxOf = (xs: ArrayLike<number>): number => {
  let m = -Infinity
  for (let i = 0; i < xs.length; i++) m = Math.max(m, xs[i]!)
  return m
}

const variance = (xs: ArrayLike<number>): number => {
  const m = mean(xs)
  let sum = 0
  for (let i = 0; i < xs.length; i++) sum += (xs[i]! - m) ** 2
  return sum / xs.length
}

/** zlib's adler32, which JAX's tests use to derive the seed of each known-value case. */
const adler32 = (text: string): number => {
  let a = 1
  let b = 0
  for (const byte of new TextEncoder().encode(text)) {
    a = (a + byte) % 65521
    b = (b + a) % 65521
  }
  return (b * 65536 + a) >>> 0
}

/** JAX's threefry_2x32 over a counter vector, written from its definition with the block function. */
const naiveRandomBits = (k: Key, count: number): number[] => {
  const counters = Array.from({ length: count }, (_, i) => i)
  if (count % 2 === 1) counters.push(0)
  const half = counters.length / 2
  const first: number[] = []
  const second: number[] = []
  for (let i = 0; i < half; i++) {
    const [o0, o1] = threefry2x32(k.words, [counters[i]!, counters[half + i]!])
    first.push(o0)
    second.push(o1)
  }
  return [...first, ...second].slice(0, count)
}

/** Standard normal density and its moments on [a, b] by Simpson's rule (infinite ends cut at ±40). */
const truncatedMoments = (a: number, b: number): { mean: number; variance: number } => {
  const lo = Math.max(a, -40)
  const hi = Math.min(b, 40)
  const steps = 20000
  const h = (hi - lo) / steps
  let m0 = 0
  let m1 = 0
  let m2 = 0
  for (let i = 0; i <= steps; i++) {
    const z = lo + i * h
    const weight = i === 0 || i === steps ? 1 : i % 2 === 1 ? 4 : 2
    const density = weight * Math.exp((-z * z) / 2)
    m0 += density
    m1 += density * z
    m2 += density * z * z
  }
  const m = m1 / m0
  return { mean: m, variance: m2 / m0 - m * m }
}

/** erf by its all-positive series erf(x) = 2/√π e^{-x²} Σ 2^n x^{2n+1} / (1·3···(2n+1)), for |x| < 6. */
const naiveErf = (x: number): number => {
  let term = x
  let sum = x
  for (let n = 1; n < 400 && Math.abs(term) > 1e-18 * Math.abs(sum); n++) {
    term *= (2 * x * x) / (2 * n + 1)
    sum += term
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum
}

const words = (k: Key): readonly [number, number] => k.words

// ---- the block function and keys -------------------------------------------------------------

describe('threefry2x32', () => {
  it('reproduces the Random123 known answers (as tested by JAX)', () => {
    expect(threefry2x32([0x13198a2e, 0x03707344], [0x243f6a88, 0x85a308d3])).toEqual([0xc4923a9c, 0x483df7a0])
    expect(threefry2x32([0, 0], [0, 0])).toEqual([0x6b200159, 0x99ba4efe])
    expect(threefry2x32([-1 >>> 0, -1 >>> 0], [-1 >>> 0, -1 >>> 0])).toEqual([0x1cb996fc, 0xbb002be7])
  })

  it('rejects words that are not uint32', () => {
    expect(() => threefry2x32([-1, 0], [0, 0])).toThrow(ValueError)
    expect(() => threefry2x32([0, 0], [2 ** 32, 0])).toThrow(ValueError)
    expect(() => threefry2x32([0, 0.5], [0, 0])).toThrow(ValueError)
  })
})

describe('key', () => {
  it("splits the seed into [hi, lo] like JAX's PRNGKey", () => {
    expect(words(key(0))).toEqual([0, 0])
    expect(words(key(1701))).toEqual([0, 1701])
    expect(words(key(2 ** 32 + 5))).toEqual([1, 5])
    expect(words(key(Number.MAX_SAFE_INTEGER))).toEqual([2 ** 21 - 1, 2 ** 32 - 1])
    expect(key(7).kind).toBe('backfold.key')
    expect(isKey(key(7))).toBe(true)
    expect(isKey({ kind: 'backfold.key', words: [1, -1] })).toBe(false)
    expect(isKey([0, 0])).toBe(false)
  })

  it('rejects negative, fractional, unsafe and non-number seeds', () => {
    for (const seed of [-1, 1.5, NaN, Infinity, 2 ** 53, '3' as unknown as number])
      expect(() => key(seed)).toThrow(ValueError)
  })

  it('is immutable', () => {
    const k = key(3)
    expect(Object.isFrozen(k)).toBe(true)
    expect(Object.isFrozen(k.words)).toBe(true)
  })
})

describe('split and foldIn', () => {
  it("match JAX's documented outputs", () => {
    expect(split(key(0)).map(words)).toEqual([
      [4146024105, 967050713],
      [2718843009, 1272950319],
    ])
    expect(split(key(0), 4).map(words)).toEqual([
      [2285895361, 1501764800],
      [1518642379, 4090693311],
      [433833334, 4221794875],
      [839183663, 3740430601],
    ])
    expect(words(foldIn(key(0), 4))).toEqual([2285895361, 433833334])
  })

  it('equal the threefry definitions', () => {
    const k = key(42)
    const bits = naiveRandomBits(k, 6)
    expect(split(k, 3).map(words)).toEqual([
      [bits[0], bits[1]],
      [bits[2], bits[3]],
      [bits[4], bits[5]],
    ])
    expect(words(foldIn(k, 123))).toEqual(threefry2x32(k.words, [0, 123]))
  })

  it('are typed as tuples for a literal count up to 8, so destructuring needs no `!`', () => {
    const [a, b] = split(key(2))
    expectTypeOf(a).toEqualTypeOf<Key>()
    expectTypeOf(b).toEqualTypeOf<Key>()
    expectTypeOf(split(key(2), 3)).toEqualTypeOf<[Key, Key, Key]>()
    expectTypeOf(split(key(2), 8)).toEqualTypeOf<[Key, Key, Key, Key, Key, Key, Key, Key]>()
    expectTypeOf(split(key(2), 0)).toEqualTypeOf<[]>()
    expectTypeOf(split(key(2), 9)).toEqualTypeOf<Key[]>()
    const count: number = 3
    expectTypeOf(split(key(2), count)).toEqualTypeOf<Key[]>()
    // The tuple type tells the truth: as many keys as it says, all distinct.
    const eight = split(key(2), 8)
    expect(eight).toHaveLength(8)
    expect(new Set(eight.map((k) => words(k).join(','))).size).toBe(8)
  })

  it('handle n = 0 and n = 1 and reject bad n', () => {
    expect(split(key(1), 0)).toEqual([])
    expect(split(key(1), 1)).toHaveLength(1)
    expect(() => split(key(1), -1)).toThrow(ValueError)
    expect(() => split(key(1), 1.5)).toThrow(ValueError)
  })

  it('give keys whose streams differ from each other and from the parent', () => {
    const parent = key(5)
    const children = split(parent, 3)
    const streams = [parent, ...children].map((k) => Array.from(uniform(k, [64]).data))
    for (let i = 0; i < streams.length; i++)
      for (let j = i + 1; j < streams.length; j++) {
        const equal = streams[i]!.filter((v, n) => v === streams[j]![n]).length
        expect(equal).toBeLessThan(2)
      }
  })

  it('foldIn(k, i) differs for i = 0..99', () => {
    const k = key(2024)
    const seen = new Set<string>([k.words.join(',')])
    for (let i = 0; i < 100; i++) seen.add(foldIn(k, i).words.join(','))
    expect(seen.size).toBe(101)
  })

  it('reject bad data and things that are not keys', () => {
    expect(() => foldIn(key(0), -1)).toThrow(ValueError)
    expect(() => foldIn(key(0), 2 ** 32)).toThrow(ValueError)
    expect(() => split(0 as unknown as Key)).toThrow(ValueError)
    expect(() => uniform([0, 0] as unknown as Key, [2])).toThrow(ValueError)
    expect(() => uniform([0, 0] as unknown as Key, [2])).toThrow('random.key(seed)')
  })
})

describe('randomBits', () => {
  it("matches JAX's random_bits known values", () => {
    expect(Array.from(randomBits(key(1701), 3))).toEqual([56197195, 4200222568, 961309823])
    // JAX's RandomValuesCase("bits", "threefry2x32", (5,), uint32): seed adler32("bitsthreefry2x32")
    expect(Array.from(randomBits(key(adler32('bitsthreefry2x32')), 5))).toEqual([
      1978747883, 4134381225, 3628107870, 689687174, 2788938207,
    ])
  })

  it("pairs the halves into JAX's 64-bit words", () => {
    const bits = randomBits(key(1701), 6)
    const wide = [0, 1, 2].map((i) => ((BigInt(bits[i]!) << 32n) | BigInt(bits[3 + i]!)).toString())
    expect(wide).toEqual(['3982329540505020460', '16822122385914693683', '7882654074788531506'])
  })

  it('equals the threefry definition for every count, odd and even', () => {
    const k = key(99)
    for (let count = 0; count <= 9; count++)
      expect(Array.from(randomBits(k, count))).toEqual(naiveRandomBits(k, count))
  })

  it('rejects bad counts', () => {
    expect(() => randomBits(key(0), -1)).toThrow(ValueError)
    expect(() => randomBits(key(0), 2.5)).toThrow(ValueError)
  })
})

// ---- samplers --------------------------------------------------------------------------------

describe('determinism', () => {
  const samplers: ReadonlyArray<readonly [string, (k: Key) => Tensor]> = [
    ['uniform', (k) => uniform(k, [3, 50])],
    ['uniform64', (k) => uniform(k, [150], { dtype: 'float64' })],
    ['normal', (k) => normal(k, [150])],
    ['normal64', (k) => normal(k, [150], { dtype: 'float64' })],
    ['bernoulli', (k) => bernoulli(k, 0.5, [150])],
    ['randint', (k) => randint(k, [150], -5, 1000)],
    ['permutation', (k) => permutation(k, 150)],
    ['truncatedNormal', (k) => truncatedNormal(k, [150])],
  ]

  it('same key, same numbers; another key, other numbers', () => {
    for (const [name, sample] of samplers) {
      const first = Array.from(sample(key(11)).data)
      expect(Array.from(sample(key(11)).data), name).toEqual(first)
      expect(Array.from(sample(key(12)).data), name).not.toEqual(first)
    }
  })
})

describe('uniform', () => {
  it("is bit-identical to JAX's uniform (JAX's RandomValuesCase, printed to 6 decimals)", () => {
    const u = uniform(key(adler32('uniformthreefry2x32')), [5])
    const expected = [0.298671, 0.073213, 0.873356, 0.260549, 0.412797]
    u.data.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThan(5e-7))
  })

  it('builds float32 values from the top 23 bits and float64 values from 52 bits, exactly', () => {
    const k = key(8)
    const bits = naiveRandomBits(k, 10)
    const u32 = uniform(k, [10])
    u32.data.forEach((v, i) => expect(v).toBe((bits[i]! >>> 9) / 2 ** 23))
    const u64 = uniform(k, [5], { dtype: 'float64' })
    u64.data.forEach((v, i) => {
      const wide = (BigInt(bits[i]!) << 32n) | BigInt(bits[5 + i]!)
      expect(v).toBe(Number(wide >> 12n) / 2 ** 52)
    })
  })

  it('has the moments of U(0, 1) on 100k samples, for both float dtypes', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const u = uniform(key(1), [N], { dtype })
      expect(u.dtype).toBe(dtype)
      expect(u.shape).toEqual([N])
      expect(Math.abs(mean(u.data) - 0.5)).toBeLessThan(0.01)
      expect(Math.abs(variance(u.data) - 1 / 12)).toBeLessThan(0.002)
      expect(minOf(u.data)).toBeGreaterThanOrEqual(0)
      expect(maxOf(u.data)).toBeLessThan(1)
      // roughly flat: each tenth holds ~10%
      const bins = new Array<number>(10).fill(0)
      for (const v of u.data) bins[Math.floor(v * 10)]!++
      for (const count of bins) expect(Math.abs(count - N / 10)).toBeLessThan(600)
    }
  })

  it('scales to [min, max) and never returns max, even when rounding would', () => {
    const u = uniform(key(2), [1000], { min: -3, max: 5 })
    expect(minOf(u.data)).toBeGreaterThanOrEqual(-3)
    expect(maxOf(u.data)).toBeLessThan(5)
    // float32 spacing at 1e8 is 8, so u * 16 + 1e8 would round up to 1e8 + 16 for a quarter of draws
    const coarse = uniform(key(3), [1000], { min: 1e8, max: 1e8 + 16 })
    expect(minOf(coarse.data)).toBe(1e8)
    expect(maxOf(coarse.data)).toBe(1e8 + 8)
  })

  it('handles shapes with zero size and rank 0', () => {
    expect(uniform(key(0), [2, 0]).data.length).toBe(0)
    expect(uniform(key(0), []).shape).toEqual([])
    expect(uniform(key(0), []).data.length).toBe(1)
  })

  it('rejects bad shapes, bounds and dtypes', () => {
    expect(() => uniform(key(0), [-1])).toThrow(ValueError)
    expect(() => uniform(key(0), [1.5])).toThrow(ValueError)
    expect(() => uniform(key(0), [2], { min: 1, max: 1 })).toThrow(ValueError)
    expect(() => uniform(key(0), [2], { min: 0, max: Infinity })).toThrow(ValueError)
    expect(() => uniform(key(0), [2], { min: -3e38, max: 3e38 })).toThrow(ValueError)
    expect(
      uniform(key(0), [2], { min: -3e38, max: 3e38, dtype: 'float64' }).data.every(Number.isFinite),
    ).toBe(true)
    expect(() => uniform(key(0), [2], { dtype: 'int32' })).toThrow(DTypeError)
    expect(() => uniform(key(0), [2], { dtype: 'bf16' as DType })).toThrow(DTypeError)
  })
})

describe('normal', () => {
  it("matches JAX's normal (JAX's RandomValuesCase, printed to 6 decimals)", () => {
    const z = normal(key(adler32('normalthreefry2x32')), [5])
    const expected = [-1.173234, -1.511662, 0.070593, -0.099764, 1.052845]
    z.data.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThan(2e-6))
  })

  it('inverts erf accurately: erf(z / √2) equals the underlying uniform', () => {
    const k = key(17)
    const z64 = normal(k, [2000], { dtype: 'float64' })
    const u64 = uniform(k, [2000], { min: -1 + 2 ** -53, max: 1, dtype: 'float64' })
    const z32 = normal(k, [2000])
    const u32 = uniform(k, [2000], { min: Math.fround(-1 + 2 ** -24), max: 1 })
    for (let i = 0; i < 2000; i++) {
      if (Math.abs(u64.data[i]!) < 0.999)
        expect(Math.abs(naiveErf(z64.data[i]! / Math.SQRT2) - u64.data[i]!)).toBeLessThan(1e-14)
      if (Math.abs(u32.data[i]!) < 0.999)
        expect(Math.abs(naiveErf(z32.data[i]! / Math.SQRT2) - u32.data[i]!)).toBeLessThan(2e-6)
    }
  })

  it('has mean 0 and std 1 on 100k samples, with normal tails, for both float dtypes', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const z = normal(key(3), [N], { dtype })
      expect(z.dtype).toBe(dtype)
      expect(Math.abs(mean(z.data))).toBeLessThan(0.01)
      expect(Math.abs(Math.sqrt(variance(z.data)) - 1)).toBeLessThan(0.01)
      let beyond2 = 0
      for (const v of z.data) if (Math.abs(v) > 2) beyond2++
      expect(Math.abs(beyond2 / N - 0.0455)).toBeLessThan(0.003)
      expect(z.data.every(Number.isFinite)).toBe(true)
    }
  })

  it('shifts and scales by mean and std', () => {
    const z = normal(key(4), [N], { mean: 3, std: 2 })
    expect(Math.abs(mean(z.data) - 3)).toBeLessThan(0.02)
    expect(Math.abs(Math.sqrt(variance(z.data)) - 2)).toBeLessThan(0.02)
    const fixed = normal(key(4), [4], { mean: 1, std: 0 })
    expect(Array.from(fixed.data)).toEqual([1, 1, 1, 1])
  })

  it('rejects bad parameters', () => {
    expect(() => normal(key(0), [2], { std: -1 })).toThrow(ValueError)
    expect(() => normal(key(0), [2], { mean: NaN })).toThrow(ValueError)
    expect(() => normal(key(0), [2], { dtype: 'int32' })).toThrow(DTypeError)
    expect(() => normal(key(0), [2, -2])).toThrow(ValueError)
  })
})

describe('bernoulli', () => {
  it('is 1 with probability p, as uniform < p', () => {
    const mask = bernoulli(key(5), 0.3, [N])
    expect(mask.dtype).toBe('int32')
    expect(mask.data.every((v) => v === 0 || v === 1)).toBe(true)
    expect(Math.abs(mean(mask.data) - 0.3)).toBeLessThan(0.01)
    const u = uniform(key(5), [N])
    const mismatches = mask.data.filter((v, i) => v !== (u.data[i]! < 0.3 ? 1 : 0)).length
    expect(mismatches).toBe(0)
  })

  it('handles p = 0 and p = 1 and shapes', () => {
    expect(bernoulli(key(6), 0, [100]).data.every((v) => v === 0)).toBe(true)
    expect(bernoulli(key(6), 1, [100]).data.every((v) => v === 1)).toBe(true)
    expect(bernoulli(key(6), 0.5, [2, 3]).shape).toEqual([2, 3])
  })

  it('rejects probabilities outside [0, 1]', () => {
    for (const p of [-0.1, 1.1, NaN]) expect(() => bernoulli(key(0), p, [2])).toThrow(ValueError)
  })
})

describe('randint', () => {
  it('stays in [min, max), hits every value, and is roughly uniform', () => {
    const x = randint(key(7), [N], -3, 7)
    expect(x.dtype).toBe('int32')
    expect(minOf(x.data)).toBe(-3)
    expect(maxOf(x.data)).toBe(6)
    const counts = new Array<number>(10).fill(0)
    for (const v of x.data) counts[v + 3]!++
    for (const count of counts) expect(Math.abs(count - N / 10)).toBeLessThan(600)
  })

  it('is unbiased for ranges that do not divide 2^32', () => {
    // r = 3 * 2^30: a plain `word % r` would make the lowest third twice as likely as the rest
    const min = -(2 ** 31)
    const x = randint(key(8), [30000], min, min + 3 * 2 ** 30)
    let low = 0
    for (const v of x.data) if (v < min + 2 ** 30) low++
    expect(Math.abs(low / 30000 - 1 / 3)).toBeLessThan(0.015)
  })

  it('covers the full int32 range and single-value ranges', () => {
    const x = randint(key(9), [1000], -(2 ** 31), 2 ** 31)
    expect(x.data.some((v) => v < 0)).toBe(true)
    expect(x.data.some((v) => v > 0)).toBe(true)
    expect(Array.from(randint(key(9), [5], 4, 5).data)).toEqual([4, 4, 4, 4, 4])
  })

  it('rejects empty or invalid ranges', () => {
    expect(() => randint(key(0), [2], 5, 5)).toThrow(ValueError)
    expect(() => randint(key(0), [2], 0, 1.5)).toThrow(ValueError)
    expect(() => randint(key(0), [2], 0, 2 ** 31 + 1)).toThrow(ValueError)
    expect(() => randint(key(0), [-2], 0, 2)).toThrow(ValueError)
  })
})

describe('permutation', () => {
  const isPermutation = (x: Tensor, n: number): boolean => {
    const sorted = Array.from(x.data).sort((a, b) => a - b)
    return sorted.length === n && sorted.every((v, i) => v === i)
  }

  /** JAX's _shuffle on arange(n), with a comparison sort as the stable sort. */
  const naivePermutation = (k: Key, n: number): number[] => {
    const rounds = n <= 1 ? 0 : Math.ceil((3 * Math.log(n)) / Math.log(2 ** 32 - 1))
    let values = Array.from({ length: n }, (_, i) => i)
    let current = k
    for (let round = 0; round < rounds; round++) {
      const [next, sub] = split(current) as [Key, Key]
      current = next
      const sortKeys = naiveRandomBits(sub, n)
      const order = values.map((_, i) => i).sort((a, b) => sortKeys[a]! - sortKeys[b]! || a - b)
      values = order.map((i) => values[i]!)
    }
    return values
  }

  it('returns a permutation of 0..n-1 as int32', () => {
    for (const n of [0, 1, 2, 10, 1000]) {
      const p = permutation(key(n), n)
      expect(p.dtype).toBe('int32')
      expect(p.shape).toEqual([n])
      expect(isPermutation(p, n)).toBe(true)
    }
  })

  it("follows JAX's sort-based shuffle, including the second round past n = 1625", () => {
    for (const n of [7, 100, 1625, 1626, 3000])
      expect(Array.from(permutation(key(n + 1), n).data)).toEqual(naivePermutation(key(n + 1), n))
  })

  it('moves elements around and differs between keys', () => {
    const a = Array.from(permutation(key(1), 100).data)
    const b = Array.from(permutation(key(2), 100).data)
    expect(a).not.toEqual(b)
    expect(a.filter((v, i) => v === i).length).toBeLessThan(10)
  })

  it('rejects bad n', () => {
    expect(() => permutation(key(0), -1)).toThrow(ValueError)
    expect(() => permutation(key(0), 2.5)).toThrow(ValueError)
  })
})

describe('truncatedNormal', () => {
  it('stays within the bounds, scaled by mean and std', () => {
    const x = truncatedNormal(key(10), [N], { mean: 1, std: 0.5 })
    expect(minOf(x.data)).toBeGreaterThanOrEqual(0)
    expect(maxOf(x.data)).toBeLessThanOrEqual(2)
    const y = truncatedNormal(key(10), [1000], { std: 0.02, dtype: 'float64' })
    expect(y.dtype).toBe('float64')
    expect(maxOf(y.data.map(Math.abs))).toBeLessThanOrEqual(0.04)
  })

  // One interval per proposal and mirror case; moments compared with numerical integration.
  const intervals: ReadonlyArray<readonly [number, number]> = [
    [-2, 2], // contains 0, wider than √(2π): normal proposal
    [-0.5, 0.5], // uniform proposal containing 0
    [0, 2], // a >= 0, too wide for the uniform proposal: exponential, rejecting z > b
    [1, 1.5], // narrow interval right of 0: uniform proposal
    [3, Infinity], // exponential tail
    [-Infinity, -3], // mirrored tail
    [-6, -5.9], // far, narrow, mirrored
    [-0.1, 5], // wide interval containing 0
    [-Infinity, Infinity],
  ]

  it('has the moments of the truncated normal on each kind of interval', () => {
    for (const [lower, upper] of intervals) {
      const x = truncatedNormal(key(11), [N], { lower, upper, dtype: 'float64' })
      const exact = truncatedMoments(lower, upper)
      const label = `[${lower}, ${upper}]`
      expect(minOf(x.data), label).toBeGreaterThanOrEqual(lower)
      expect(maxOf(x.data), label).toBeLessThanOrEqual(upper)
      const sd = Math.sqrt(exact.variance)
      expect(Math.abs(mean(x.data) - exact.mean), label).toBeLessThan(4 * (sd / Math.sqrt(N)) + 1e-9)
      expect(Math.abs(variance(x.data) / exact.variance - 1), label).toBeLessThan(0.03)
    }
  })

  it('matches the default ±2 cut in float32', () => {
    const x = truncatedNormal(key(12), [N])
    expect(x.dtype).toBe('float32')
    const exact = truncatedMoments(-2, 2)
    expect(Math.abs(mean(x.data))).toBeLessThan(0.01)
    expect(Math.abs(Math.sqrt(variance(x.data)) - Math.sqrt(exact.variance))).toBeLessThan(0.01)
    expect(x.data.every((v) => v >= -2 && v <= 2)).toBe(true)
  })

  it('rejects empty intervals, NaN bounds and bad parameters', () => {
    expect(() => truncatedNormal(key(0), [2], { lower: 1, upper: 1 })).toThrow(ValueError)
    expect(() => truncatedNormal(key(0), [2], { lower: 2, upper: 1 })).toThrow(ValueError)
    expect(() => truncatedNormal(key(0), [2], { lower: NaN })).toThrow(ValueError)
    expect(() => truncatedNormal(key(0), [2], { lower: Infinity, upper: Infinity })).toThrow(ValueError)
    expect(() => truncatedNormal(key(0), [2], { std: -1 })).toThrow(ValueError)
    expect(() => truncatedNormal(key(0), [2], { dtype: 'int32' })).toThrow(DTypeError)
  })
})

describe('samplers on random shapes', () => {
  it('return the requested shape and a fresh copy of it', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }), (shape) => {
        const size = shape.reduce((a, b) => a * b, 1)
        for (const x of [
          uniform(key(1), shape),
          normal(key(1), shape),
          bernoulli(key(1), 0.5, shape),
          randint(key(1), shape, 0, 3),
          truncatedNormal(key(1), shape),
        ]) {
          expect(x.shape).toEqual(shape)
          expect(x.shape).not.toBe(shape)
          expect(x.data.length).toBe(size)
        }
      }),
      { numRuns: 50 },
    )
  })
})

// ---- keys as data ------------------------------------------------------------------------------

describe('keys as data', () => {
  const keys = split(key(3), 5)
  /** The batch row `i` of a sampler's output (its leading axis). */
  const row = (t: Tensor, i: number): number[] => {
    const per = t.data.length / t.shape[0]!
    return Array.from(t.data.subarray(i * per, (i + 1) * per))
  }
  /** An abstract int32 [2], as a transformation's traced key looks to this package. */
  const abstractKey: Tensor = {
    dtype: 'int32',
    shape: [2],
    get data(): never {
      throw new Error('read')
    },
    [abstractValue]: 'a traced key (test)',
  }

  it('keyData and wrapKey round-trip every uint32 word through its int32 bit pattern', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (hi, lo) => {
          const k = split(key(hi), 1)[0]!
          const words = foldIn(k, lo).words
          const back = wrapKey(keyData(foldIn(k, lo)))
          expect(back.words).toEqual(words)
          expect(back).toEqual(foldIn(k, lo))
        },
      ),
      { numRuns: 200 },
    )
    expect(Array.from(keyData(key(2 ** 32 - 1 + 2 ** 32 * 5)).data)).toEqual([5, -1])
    expect(keysData(keys).shape).toEqual([5, 2])
    expect(row(keysData(keys), 3)).toEqual(Array.from(keyData(keys[3]!).data))
  })

  it('each batched sampler draws, per key, exactly the single-key draw', () => {
    const data = keysData(keys)
    keys.forEach((k, i) => {
      expect(row(uniformEach(data, [7], { min: -2, max: 3 }), i)).toEqual(
        Array.from(uniform(k, [7], { min: -2, max: 3 }).data),
      )
      expect(row(uniformEach(data, [2, 3], { dtype: 'float64' }), i)).toEqual(
        Array.from(uniform(k, [2, 3], { dtype: 'float64' }).data),
      )
      expect(row(normalEach(data, [9], { std: 0.5, mean: 1 }), i)).toEqual(
        Array.from(normal(k, [9], { std: 0.5, mean: 1 }).data),
      )
      expect(row(normalEach(data, [4], { dtype: 'float64' }), i)).toEqual(
        Array.from(normal(k, [4], { dtype: 'float64' }).data),
      )
      expect(row(truncatedNormalEach(data, [6], { std: 0.1 }), i)).toEqual(
        Array.from(truncatedNormal(k, [6], { std: 0.1 }).data),
      )
      expect(row(bernoulliEach(data, 0.3, [8]), i)).toEqual(Array.from(bernoulli(k, 0.3, [8]).data))
      expect(row(randomBitsEach(data, 5), i)).toEqual(Array.from(randomBits(k, 5), (w) => w | 0))
      expect(row(splitEach(data, 3), i)).toEqual(Array.from(keysData(split(k, 3)).data))
      expect(row(foldInEach(data, 77), i)).toEqual(Array.from(keyData(foldIn(k, 77)).data))
    })
  })

  it('keeps the batch shape of the keys in front of the sample shape', () => {
    const grid = unsafeTensor('int32', [2, 3, 2], keysData(split(key(1), 6)).data)
    expect(uniformEach(grid, [4, 5]).shape).toEqual([2, 3, 4, 5])
    expect(splitEach(grid, 4).shape).toEqual([2, 3, 4, 2])
    expect(normalEach(keyData(key(0)), [3]).data).toEqual(normal(key(0), [3]).data)
    expect(uniformEach(unsafeTensor('int32', [0, 2], new Int32Array(0)), [3]).shape).toEqual([0, 3])
  })

  it('refuses malformed key batches and options with the batched sampler named', () => {
    expect(() => uniformEach(unsafeTensor('int32', [3], Int32Array.of(1, 2, 3)), [2])).toThrow(ShapeError)
    expect(() => uniformEach(unsafeTensor('float32', [2], Float32Array.of(1, 2)), [2])).toThrow(DTypeError)
    expect(() => uniformEach(keyData(key(0)), [2], { min: 1, max: 0 })).toThrow(/uniformEach.*min/)
    expect(() => normalEach(abstractKey, [2])).toThrow(TraceError)
    expect(() => keysData([key(0), { kind: 'backfold.key', words: [1] } as unknown as Key])).toThrow(
      ValueError,
    )
  })

  it('wraps an abstract key so its words cannot be read, and the samplers refuse it', () => {
    const wrapped = wrapKey(abstractKey)
    expect(isKey(wrapped)).toBe(true)
    expect(wrapped.data).toBe(abstractKey)
    expect(keyData(wrapped)).toBe(abstractKey)
    expect(() => wrapped.words).toThrow(TraceError)
    expect(() => uniform(wrapped, [2])).toThrow(/traced.*random ops of @backfold\/ops/s)
    expect(() => split(wrapped)).toThrow(TraceError)
    expect(() => keysData([wrapped])).toThrow(TraceError)
    expect(() => wrapKey(unsafeTensor('int32', [3, 2], new Int32Array(6)))).toThrow(/shape \[2\]/)
    expect(() => wrapKey(unsafeTensor('float32', [2], new Float32Array(2)))).toThrow(ShapeError)
  })
})
