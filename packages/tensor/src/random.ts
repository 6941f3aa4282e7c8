/**
 * Explicit, splittable, counter-based randomness: the same key gives the same numbers on every
 * platform, and keys and raw bits are identical to JAX's default (`threefry2x32`, non-partitionable
 * `jax.random.PRNGKey`) implementation.
 *
 * ## The generator
 *
 * Everything rests on one pure function, the Threefry-2x32 block cipher with 20 rounds (Salmon,
 * Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011): it maps a key of
 * two uint32 words and a counter of two uint32 words to two uint32 words. There is no hidden state;
 * a {@link Key} is just the two key words. The derived operations are JAX's, word for word:
 *
 * - `key(seed)` = `[floor(seed / 2^32), seed mod 2^32]` (JAX's `PRNGKey`; `key(0)` is `[0, 0]`).
 * - `randomBits(key, n)`: the counters `0 .. n-1` (padded with one `0` when `n` is odd) are cut in
 *   two halves `x0 = first half`, `x1 = second half`; block `i` encrypts `(x0[i], x1[i])`; the output
 *   is all first words followed by all second words (the pad's output dropped).
 * - `split(key, n)` = `randomBits(key, 2n)` read as `n` pairs.
 * - `foldIn(key, d)` = `threefry2x32(key, [0, d])`.
 *
 * ## Samplers
 *
 * - `uniform` (float32): the top 23 bits of each word become the mantissa of a float in `[1, 2)`,
 *   minus 1, then `u * (max - min) + min` in float32 arithmetic (emulated with `Math.fround`), all
 *   exactly as JAX, so results are bit-identical to `jax.random.uniform`. float64 uses JAX's 64-bit
 *   bits: word `i` of the first half and word `i` of the second half form one 64-bit value whose top
 *   52 bits are the mantissa. One deviation: when rounding would return `max` itself (possible only
 *   for some `min`/`max` pairs), the value is lowered to the largest float below `max`, so the
 *   interval really is half-open.
 * - `normal`: JAX's method, `√2 · erfinv(u)` with `u` uniform on `(-1, 1)` (the float32 uniform
 *   above with `min = nextafter(-1, 0)`, `max = 1`). `erfinv` is Giles' approximation ("Approximating
 *   the erfinv function", GPU Computing Gems, 2011) with the single-precision coefficients for float32
 *   and the double-precision ones for float64, the same polynomials XLA uses, so samples agree with
 *   `jax.random.normal` to within rounding of the last bit or two.
 * - `bernoulli(key, p, shape)`: `uniform(key, shape) < p` (float32), as JAX.
 * - `randint(key, shape, min, max)`: exactly uniform on `[min, max)` by rejection: a 32-bit word `w`
 *   is accepted when `w < 2^32 - (2^32 mod r)` (with `r = max - min`) and mapped to `min + w mod r`.
 *   Element `i` reads words from its own counter stream (`threefry2x32(k, [i, j])`, `j = 0, 1, ...`
 *   under a key `k` derived from the caller's), so the result does not depend on how many rejections
 *   other elements needed. (JAX's `randint` is slightly biased and so gives different numbers.)
 * - `permutation(key, n)`: JAX's `_shuffle`: `ceil(3 ln n / ln(2^32 - 1))` rounds; each round splits the
 *   key, draws one 32-bit word per position and stably sorts the positions by those words (an LSD
 *   radix sort here).
 * - `truncatedNormal`: exact rejection sampling in standard units, driven like `randint` by a
 *   per-element counter stream (two 52-bit uniforms per attempt) with Robert's proposals ("Simulation
 *   of truncated normal variables", Statistics and Computing, 1995): a normal proposal when the
 *   interval contains 0 and is wider than `√(2π)`, a uniform proposal for narrower intervals, an
 *   exponential proposal for tails; every proposal accepts at least about half the time. The
 *   acceptance tests compare `log u` with the log-density, so no `Math.exp` is needed. (JAX uses the
 *   inverse CDF, so these numbers differ from JAX's.)
 *
 * ## Determinism
 *
 * Bits are produced by uint32 additions, xors and rotations only, so they are exact everywhere. The
 * float transforms use `+ - * /`, `Math.fround`, `Math.sqrt` (correctly rounded by the standard) and
 * `Math.log`. The standard does not require `Math.log` to be correctly rounded: V8 (Node, Chrome) and
 * SpiderMonkey use ports of fdlibm and agree, but an engine built on the platform's own libm could
 * change `normal` or `truncatedNormal` samples in the last bit (and, very rarely, a rejection decision
 * in `truncatedNormal`). `uniform`, `bernoulli`, `randint` and `permutation` use no transcendental
 * function and are exact on every engine.
 *
 * @example
 * import { random } from '@backfold/tensor'
 * const [initKey, dropoutKey] = random.split(random.key(0))
 * const w = random.normal(initKey, [784, 128], { std: 0.05 })
 * const keep = random.bernoulli(dropoutKey, 0.9, [32, 128])
 * @since 0.1.0
 */
import { allocate } from './dtype'
import type { DType, TypedArray } from './dtype'
import { DTypeError, ShapeError, TraceError, ValueError, fmtShape } from './errors'
import { checkShape, sizeOf } from './shape'
import type { Shape } from './shape'
import { isAbstract, isTensor, requireConcrete, unsafeTensor } from './tensor'
import type { Tensor } from './tensor'

// ---------------------------------------------------------------------------------------------
// model
// ---------------------------------------------------------------------------------------------

/**
 * A PRNG key: the two uint32 key words of Threefry-2x32, `[hi, lo]`, exactly JAX's raw
 * `PRNGKey` data. Keys are values: using one twice gives the same numbers twice; use
 * {@link split} or {@link foldIn} to get independent streams.
 * @since 0.1.0
 */
export interface Key {
  readonly kind: 'backfold.key'
  /**
   * The two key words. Reading them throws a `TraceError` on a key made by {@link wrapKey} around a
   * value traced by a transformation (`vmap`, `grad`): such a key has no concrete words.
   */
  readonly words: readonly [number, number]
  /**
   * Present only on a key made by {@link wrapKey} around an abstract value (a key mapped by `vmap`
   * or traced by `grad`): that value, an int32 `[2]`. Draw from such a key with the random ops of
   * `@backfold/ops` (`randomNormal`, `randomSplit`, ...), which accept it.
   * @since 0.2.0
   */
  readonly data?: Tensor
}

/** Options of {@link uniform}. @since 0.1.0 */
export interface UniformOptions {
  /** Inclusive lower bound (default 0). */
  readonly min?: number
  /** Exclusive upper bound (default 1). */
  readonly max?: number
  /** `float32` (default) or `float64`. */
  readonly dtype?: DType
}

/** Options of {@link normal}. @since 0.1.0 */
export interface NormalOptions {
  /** Default 0. */
  readonly mean?: number
  /** Standard deviation, >= 0 (default 1). */
  readonly std?: number
  /** `float32` (default) or `float64`. */
  readonly dtype?: DType
}

/** Options of {@link truncatedNormal}. Bounds are in standard deviations from the mean. @since 0.1.0 */
export interface TruncatedNormalOptions {
  /** Lower bound in standard units (default -2); may be `-Infinity`. */
  readonly lower?: number
  /** Upper bound in standard units (default 2); may be `Infinity`. Must exceed `lower`. */
  readonly upper?: number
  /** Default 0. */
  readonly mean?: number
  /** Standard deviation, >= 0 (default 1). */
  readonly std?: number
  /** `float32` (default) or `float64`. */
  readonly dtype?: DType
}

const UINT32_RANGE = 4294967296
const MAX_ELEMENTS = 2147483647
// 2 ** -23, 2 ** -52, 2 ** -53 written as literals (exact): a bundler keeps an unused arithmetic
// expression at module level (it cannot rule out side effects), so it would ship in every bundle.
const TWO_POW_M23 = 1.1920928955078125e-7
const TWO_POW_M52 = 2.220446049250313e-16
const TWO_POW_M53 = 1.1102230246251565e-16

// Stream tags for the samplers that consume a variable number of words per element. They key a
// derived stream `threefry2x32(key, [tag, 0])`, a counter that `foldIn` (always `[0, d]`) never uses.
const RANDINT_TAG = 0x72616e64 // 'rand'
const TRUNCATED_NORMAL_TAG = 0x74726e63 // 'trnc'

// ---------------------------------------------------------------------------------------------
// the block function
// ---------------------------------------------------------------------------------------------

/**
 * Threefry-2x32, 20 rounds, on key `(k0, k1)` and counter `(x0, x1)`; stores the two output words
 * at `out[at0]` and `out[at1]` so bulk callers allocate nothing per block. Rotation constants and
 * key schedule are those of Random123 and JAX (`jax._src.prng._threefry2x32_lowering`).
 */
const threefryInto = (
  k0: number,
  k1: number,
  x0: number,
  x1: number,
  out: Uint32Array,
  at0: number,
  at1: number,
): void => {
  const k2 = (k0 ^ k1 ^ 0x1bd11bda) >>> 0
  let a = (x0 + k0) >>> 0
  let b = (x1 + k1) >>> 0
  // Each round: a += b; b = rotl(b, r) ^ a. Rotations cycle [13, 15, 26, 6] / [17, 29, 16, 24];
  // after every 4 rounds the key schedule (k0, k1, k2 rotated) and the round-group number are injected.
  a = (a + b) >>> 0
  b = (((b << 13) | (b >>> 19)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 15) | (b >>> 17)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 26) | (b >>> 6)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 6) | (b >>> 26)) ^ a) >>> 0
  a = (a + k1) >>> 0
  b = (b + k2 + 1) >>> 0

  a = (a + b) >>> 0
  b = (((b << 17) | (b >>> 15)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 29) | (b >>> 3)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 16) | (b >>> 16)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 24) | (b >>> 8)) ^ a) >>> 0
  a = (a + k2) >>> 0
  b = (b + k0 + 2) >>> 0

  a = (a + b) >>> 0
  b = (((b << 13) | (b >>> 19)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 15) | (b >>> 17)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 26) | (b >>> 6)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 6) | (b >>> 26)) ^ a) >>> 0
  a = (a + k0) >>> 0
  b = (b + k1 + 3) >>> 0

  a = (a + b) >>> 0
  b = (((b << 17) | (b >>> 15)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 29) | (b >>> 3)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 16) | (b >>> 16)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 24) | (b >>> 8)) ^ a) >>> 0
  a = (a + k1) >>> 0
  b = (b + k2 + 4) >>> 0

  a = (a + b) >>> 0
  b = (((b << 13) | (b >>> 19)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 15) | (b >>> 17)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 26) | (b >>> 6)) ^ a) >>> 0
  a = (a + b) >>> 0
  b = (((b << 6) | (b >>> 26)) ^ a) >>> 0
  a = (a + k2) >>> 0
  b = (b + k0 + 5) >>> 0

  out[at0] = a
  out[at1] = b
}

const isUint32 = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < UINT32_RANGE

const describe = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'object' && value !== null) return 'an object'
  return String(value)
}

const checkWords = (op: string, what: string, words: unknown): readonly [number, number] => {
  if (!Array.isArray(words) || words.length !== 2 || !isUint32(words[0]) || !isUint32(words[1]))
    throw new ValueError(op, `${what} must be two uint32 words [hi, lo], got ${describe(words)}`)
  return [words[0], words[1]]
}

const makeKey = (hi: number, lo: number): Key =>
  Object.freeze({ kind: 'backfold.key' as const, words: Object.freeze([hi, lo] as const) })

/**
 * The raw Threefry-2x32 block function (20 rounds): encrypts `counter` under `key`, both pairs of
 * uint32 words. Everything in this module is built on it; it is exported for known-answer tests and
 * for users who need JAX-compatible counter-based bits of their own.
 * @example
 * random.threefry2x32([0, 0], [0, 0]) // [0x6b200159, 0x99ba4efe]
 * @since 0.1.0
 */
export const threefry2x32 = (
  key: readonly [number, number],
  counter: readonly [number, number],
): [number, number] => {
  const [k0, k1] = checkWords('threefry2x32', 'key', key)
  const [x0, x1] = checkWords('threefry2x32', 'counter', counter)
  const out = new Uint32Array(2)
  threefryInto(k0, k1, x0, x1, out, 0, 1)
  return [out[0]!, out[1]!]
}

// ---------------------------------------------------------------------------------------------
// keys
// ---------------------------------------------------------------------------------------------

/** True for values made by {@link key}, {@link split} or {@link foldIn}. @since 0.1.0 */
export const isKey = (value: unknown): value is Key => {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as { kind?: unknown; words?: unknown; data?: unknown } // why: probing an unknown record
  // A wrapped traced key is checked by its data: its words cannot be read.
  if (candidate.kind === 'backfold.key' && 'data' in candidate) return isKeyTensor(candidate.data)
  return (
    candidate.kind === 'backfold.key' &&
    Array.isArray(candidate.words) &&
    candidate.words.length === 2 &&
    isUint32(candidate.words[0]) &&
    isUint32(candidate.words[1])
  )
}

const checkKey = (op: string, value: unknown): Key => {
  if (!isKey(value))
    throw new ValueError(
      op,
      `key must be a Key made by random.key(seed), random.split or random.foldIn, got ${describe(value)}`,
    )
  if (value.data !== undefined) throw tracedKeyError(op)
  return value
}

const tracedKeyError = (op: string): TraceError =>
  new TraceError(
    op,
    'the key wraps a value traced by a transformation (a key mapped by vmap, or traced by grad), so ' +
      'it has no concrete words to draw from here; draw with the random ops of @backfold/ops ' +
      '(randomNormal(key, shape), randomUniform, randomSplit, ...), which take such keys',
  )

/** An int32 tensor of shape [2] (concrete or abstract): what a wrapped key holds. */
const isKeyTensor = (value: unknown): value is Tensor =>
  isTensor(value) && value.dtype === 'int32' && value.shape.length === 1 && value.shape[0] === 2

/**
 * A key from an integer seed, as JAX's `PRNGKey(seed)`: words `[hi32(seed), lo32(seed)]`.
 * Seeds are non-negative safe integers (`0 <= seed <= 2^53 - 1`); anything else is a `ValueError`.
 * @example
 * random.key(0).words // [0, 0]
 * random.key(2 ** 32 + 5).words // [1, 5]
 * @since 0.1.0
 */
export const key = (seed: number): Key => {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0)
    throw new ValueError(
      'key',
      `seed must be an integer in [0, ${Number.MAX_SAFE_INTEGER}], got ${describe(seed)}`,
    )
  return makeKey(Math.floor(seed / UINT32_RANGE), seed % UINT32_RANGE)
}

const checkCount = (op: string, what: string, n: unknown): number => {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_ELEMENTS)
    throw new ValueError(op, `${what} must be an integer in [0, ${MAX_ELEMENTS}], got ${describe(n)}`)
  return n
}

const bitsFor = (k0: number, k1: number, count: number): Uint32Array => {
  const padded = count + (count % 2)
  const half = padded / 2
  const out = new Uint32Array(padded)
  for (let i = 0; i < half; i++) {
    // JAX pads an odd-length counter vector with a single 0, which lands at the end of the second half.
    const counter1 = half + i < count ? half + i : 0
    threefryInto(k0, k1, i, counter1, out, i, half + i)
  }
  return padded === count ? out : out.slice(0, count)
}

/**
 * `count` random 32-bit words, identical to JAX's `random_bits(key, 32, (count,))` (threefry2x32
 * over the counters `0 .. count-1` split into two halves; see the module notes).
 * @example
 * random.randomBits(random.key(1701), 3) // Uint32Array [56197195, 4200222568, 961309823]
 * @since 0.1.0
 */
export const randomBits = (key: Key, count: number): Uint32Array => {
  const [k0, k1] = checkKey('randomBits', key).words
  return bitsFor(k0, k1, checkCount('randomBits', 'count', count))
}

/** A tuple of `N` items of `A`, built one item at a time (only used for `N` ≤ 8). */
type TupleOf<A, N extends number, Acc extends A[] = []> = Acc['length'] extends N
  ? Acc
  : TupleOf<A, N, [...Acc, A]>

/**
 * What `split(key, n)` returns: a tuple `[Key, Key, Key]` for a literal count from 0 to 8, so
 * `const [a, b, c] = split(k, 3)` needs no `!`; `Key[]` for a count known only at run time.
 * @example
 * type Three = random.SplitKeys<3> // [Key, Key, Key]
 * type Many = random.SplitKeys<number> // Key[]
 * @since 0.2.0
 */
export type SplitKeys<N extends number> = N extends 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8
  ? number extends N
    ? Key[]
    : TupleOf<Key, N>
  : Key[]

/**
 * `n` new keys (default 2), independent of each other and of `key`, as JAX's `split`.
 * Do not use `key` itself again after splitting it. Typed as a tuple for a literal `n` up to 8
 * (`SplitKeys`), so destructuring needs no non-null assertions.
 * @example
 * const [paramsKey, dataKey] = random.split(random.key(0)) // [Key, Key]
 * const [a, b, c] = random.split(random.key(1), 3) // [Key, Key, Key]
 * random.split(random.key(0)).map((k) => k.words) // [[4146024105, 967050713], [2718843009, 1272950319]]
 * @since 0.1.0
 */
export const split = <N extends number = 2>(key: Key, n?: N): SplitKeys<N> => {
  const [k0, k1] = checkKey('split', key).words
  const count = checkCount('split', 'n', n ?? 2)
  const bits = bitsFor(k0, k1, 2 * count)
  const keys = new Array<Key>(count)
  for (let i = 0; i < count; i++) keys[i] = makeKey(bits[2 * i]!, bits[2 * i + 1]!)
  // `keys` holds exactly `n` keys, which is what SplitKeys<N> says for a literal `n` (else Key[]).
  return keys as SplitKeys<N>
}

/**
 * A new key determined by `key` and `data` (a uint32), as JAX's `fold_in`: handy for per-step or
 * per-layer keys, `foldIn(key, step)`.
 * @example
 * random.foldIn(random.key(0), 4).words // [2285895361, 433833334]
 * @since 0.1.0
 */
export const foldIn = (key: Key, data: number): Key => {
  const [k0, k1] = checkKey('foldIn', key).words
  if (!isUint32(data))
    throw new ValueError('foldIn', `data must be an integer in [0, 2^32 - 1], got ${describe(data)}`)
  const out = new Uint32Array(2)
  threefryInto(k0, k1, 0, data, out, 0, 1)
  return makeKey(out[0]!, out[1]!)
}

/** The key words of the stream a variable-consumption sampler reads (see the tags above). */
const streamKey = (k0: number, k1: number, tag: number): Uint32Array => {
  const out = new Uint32Array(2)
  threefryInto(k0, k1, tag, 0, out, 0, 1)
  return out
}

// ---------------------------------------------------------------------------------------------
// argument checks
// ---------------------------------------------------------------------------------------------

const checkSampleShape = (op: string, shape: Shape): number => {
  checkShape(op, shape)
  const size = sizeOf(shape)
  if (size > MAX_ELEMENTS)
    throw new ValueError(
      op,
      `shape ${fmtShape(shape)} has ${size} elements; at most ${MAX_ELEMENTS} are supported`,
    )
  return size
}

const checkFloatDType = (op: string, dtype: unknown): 'float32' | 'float64' => {
  if (dtype === 'float32' || dtype === 'float64') return dtype
  if (dtype === 'int32')
    throw new DTypeError(op, `dtype must be float32 or float64, got int32; use random.randint for integers`)
  throw new DTypeError(op, `dtype must be 'float32' or 'float64', got ${describe(dtype)}`)
}

const checkFinite = (op: string, what: string, value: unknown): number => {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new ValueError(op, `${what} must be a finite number, got ${describe(value)}`)
  return value
}

const checkStd = (op: string, std: unknown): number => {
  const value = checkFinite(op, 'std', std)
  if (value < 0) throw new ValueError(op, `std must be >= 0, got ${value}`)
  return value
}

const shapeCopy = (shape: Shape): number[] => Array.from(shape)

// ---------------------------------------------------------------------------------------------
// uniform and normal
// ---------------------------------------------------------------------------------------------

/** The largest float32 strictly below `x` (for finite non-zero-crossing use near `max`). */
const float32Below = (x: number): number => {
  const f = new Float32Array([x])
  const bits = new Int32Array(f.buffer)
  if (x > 0) bits[0] = bits[0]! - 1
  else if (x < 0) bits[0] = bits[0]! + 1
  else return -1.401298464324817e-45
  return f[0]!
}

/** The largest float64 strictly below `x`. */
const float64Below = (x: number): number => {
  const f = new Float64Array([x])
  const bits = new BigInt64Array(f.buffer)
  if (x > 0) bits[0] = bits[0]! - 1n
  else if (x < 0) bits[0] = bits[0]! + 1n
  else return -Number.MIN_VALUE
  return f[0]!
}

/**
 * Fills a new array with uniform samples on `[min, max)` exactly as `jax.random.uniform` computes
 * them (float32 arithmetic emulated with `Math.fround`).
 */
const uniformData = (
  k0: number,
  k1: number,
  size: number,
  min: number,
  max: number,
  dtype: 'float32' | 'float64',
): Float32Array | Float64Array => {
  if (dtype === 'float32') {
    const out = new Float32Array(size)
    const bits = bitsFor(k0, k1, size)
    const lo = Math.fround(min)
    const hi = Math.fround(max)
    const range = Math.fround(hi - lo)
    const top = float32Below(hi)
    for (let i = 0; i < size; i++) {
      // (bits >>> 9) | 0x3f800000 read as a float is 1 + m * 2^-23; minus 1 leaves m * 2^-23 exactly.
      const unit = (bits[i]! >>> 9) * TWO_POW_M23
      let value = Math.fround(Math.fround(unit * range) + lo)
      if (value < lo) value = lo
      else if (value >= hi) value = top
      out[i] = value
    }
    return out
  }
  const out = new Float64Array(size)
  const bits = bitsFor(k0, k1, 2 * size)
  const range = max - min
  const top = float64Below(max)
  for (let i = 0; i < size; i++) {
    // JAX's 64-bit word i is (first-half word i) << 32 | (second-half word i); its top 52 bits
    // are the mantissa: all 32 high bits and the top 20 of the low word.
    const mantissa = bits[i]! * 1048576 + (bits[size + i]! >>> 12)
    let value = mantissa * TWO_POW_M52 * range + min
    if (value < min) value = min
    else if (value >= max) value = top
    out[i] = value
  }
  return out
}

/**
 * Uniform samples on `[min, max)` (default `[0, 1)`), bit-identical to `jax.random.uniform`.
 * Throws `ValueError` unless `min < max` are finite, `DTypeError` for int32 (use {@link randint}).
 * @example
 * const u = random.uniform(random.key(0), [2, 3]) // float32 in [0, 1)
 * const angles = random.uniform(random.key(1), [100], { min: -Math.PI, max: Math.PI, dtype: 'float64' })
 * @since 0.1.0
 */
export const uniform = (key: Key, shape: Shape, opts: UniformOptions = {}): Tensor => {
  const [k0, k1] = checkKey('uniform', key).words
  return drawOne(uniformSampler('uniform', shape, opts), k0, k1)
}

const uniformSampler = (op: string, shape: Shape, opts: UniformOptions): Sampler => {
  const size = checkSampleShape(op, shape)
  const dtype = checkFloatDType(op, opts.dtype ?? 'float32')
  const min = checkFinite(op, 'min', opts.min ?? 0)
  const max = checkFinite(op, 'max', opts.max ?? 1)
  const lo = dtype === 'float32' ? Math.fround(min) : min
  const hi = dtype === 'float32' ? Math.fround(max) : max
  if (!(lo < hi))
    throw new ValueError(op, `min must be less than max (in ${dtype}), got min ${min}, max ${max}`)
  const width = dtype === 'float32' ? Math.fround(hi - lo) : hi - lo
  if (!Number.isFinite(width))
    throw new ValueError(op, `max - min overflows ${dtype} (min ${min}, max ${max}); use a narrower range`)
  return { dtype, shape: shapeCopy(shape), draw: (k0, k1) => uniformData(k0, k1, size, min, max, dtype) }
}

// Giles' single-precision erfinv coefficients (the ones XLA's ErfInv32 uses), highest degree first.
const ERFINV32_CENTRAL = [
  2.81022636e-8, 3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 0.00021858087, -0.00125372503, -0.00417768164,
  0.246640727, 1.50140941,
]
const ERFINV32_TAIL = [
  -0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
  1.00167406, 2.83297682,
]
// Giles' double-precision erfinv coefficients (XLA's ErfInv64), highest degree first.
const ERFINV64_CENTRAL = [
  -3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18, 1.115787767802518096e-17,
  -1.333171662854620906e-16, 2.0972767875968561637e-17, 6.6376381343583238325e-15, -4.0545662729752068639e-14,
  -8.1519341976054721522e-14, 2.6335093153082322977e-12, -1.2975133253453532498e-11,
  -5.4154120542946279317e-11, 1.051212273321532285e-9, -4.1126339803469836976e-9, -2.9070369957882005086e-8,
  4.2347877827932403518e-7, -1.3654692000834678645e-6, -1.3882523362786468719e-5, 0.0001867342080340571352,
  -0.00074070253416626697512, -0.0060336708714301490533, 0.24015818242558961693, 1.6536545626831027356,
]
const ERFINV64_MIDDLE = [
  2.2137376921775787049e-9, 9.0756561938885390979e-8, -2.7517406297064545428e-7, 1.8239629214389227755e-8,
  1.5027403968909827627e-6, -4.013867526981545969e-6, 2.9234449089955446044e-6, 1.2475304481671778723e-5,
  -4.7318229009055733981e-5, 6.8284851459573175448e-5, 2.4031110387097893999e-5, -0.0003550375203628474796,
  0.00095328937973738049703, -0.0016882755560235047313, 0.0024914420961078508066, -0.0037512085075692412107,
  0.005370914553590063617, 1.0052589676941592334, 3.0838856104922207635,
]
const ERFINV64_TAIL = [
  -2.7109920616438573243e-11, -2.5556418169965252055e-10, 1.5076572693500548083e-9, -3.7894654401267369937e-9,
  7.6157012080783393804e-9, -1.4960026627149240478e-8, 2.9147953450901080826e-8, -6.7711997758452339498e-8,
  2.2900482228026654717e-7, -9.9298272942317002539e-7, 4.5260625972231537039e-6, -1.9681778105531670567e-5,
  7.5995277030017761139e-5, -0.00021503011930044477347, -0.00013871931833623122026, 1.0103004648645343977,
  4.8499064014085844221,
]

const horner = (coefficients: ReadonlyArray<number>, w: number): number => {
  let p = 0
  for (let i = 0; i < coefficients.length; i++) p = p * w + coefficients[i]!
  return p
}

/** Giles' float32 erfinv for `|x| < 1` (evaluated in float64, rounded by the caller). */
const erfinv32 = (x: number): number => {
  const w = -Math.log((1 - x) * (1 + x))
  return w < 5 ? horner(ERFINV32_CENTRAL, w - 2.5) * x : horner(ERFINV32_TAIL, Math.sqrt(w) - 3) * x
}

/** Giles' float64 erfinv for `|x| < 1`. */
const erfinv64 = (x: number): number => {
  const w = -Math.log((1 - x) * (1 + x))
  if (w < 6.25) return horner(ERFINV64_CENTRAL, w - 3.125) * x
  if (w < 16) return horner(ERFINV64_MIDDLE, Math.sqrt(w) - 3.25) * x
  return horner(ERFINV64_TAIL, Math.sqrt(w) - 5) * x
}

/**
 * Normal samples with the given `mean` and `std` (defaults 0 and 1), by JAX's method:
 * `√2 · erfinv(u)` for `u` uniform on `(-1, 1)` (see the module notes for accuracy and determinism).
 * @example
 * const w = random.normal(random.key(0), [784, 128], { std: Math.sqrt(2 / 784) }) // He initialisation
 * @since 0.1.0
 */
export const normal = (key: Key, shape: Shape, opts: NormalOptions = {}): Tensor => {
  const [k0, k1] = checkKey('normal', key).words
  return drawOne(normalSampler('normal', shape, opts), k0, k1)
}

const normalSampler = (op: string, shape: Shape, opts: NormalOptions): Sampler => {
  const size = checkSampleShape(op, shape)
  const dtype = checkFloatDType(op, opts.dtype ?? 'float32')
  const mean = checkFinite(op, 'mean', opts.mean ?? 0)
  const std = checkStd(op, opts.std ?? 1)
  const draw = (k0: number, k1: number): TypedArray => {
    if (dtype === 'float32') {
      // nextafter(-1, 0) in float32: JAX keeps u off -1, where erfinv is infinite.
      const u = uniformData(k0, k1, size, -1 + 2 ** -24, 1, 'float32')
      const sqrt2 = Math.fround(Math.SQRT2)
      for (let i = 0; i < size; i++) {
        const z = Math.fround(sqrt2 * Math.fround(erfinv32(u[i]!)))
        u[i] = mean + std * z
      }
      return u
    }
    const u = uniformData(k0, k1, size, -1 + TWO_POW_M53, 1, 'float64')
    for (let i = 0; i < size; i++) u[i] = mean + std * (Math.SQRT2 * erfinv64(u[i]!))
    return u
  }
  return { dtype, shape: shapeCopy(shape), draw }
}

// ---------------------------------------------------------------------------------------------
// discrete samplers
// ---------------------------------------------------------------------------------------------

/**
 * An int32 mask of 0/1 where each element is 1 with probability `p`, as JAX's `bernoulli`
 * (`uniform(key, shape) < p`). `p` must lie in `[0, 1]`.
 * @example
 * const keep = random.bernoulli(random.key(0), 0.9, [32, 128]) // dropout mask
 * @since 0.1.0
 */
export const bernoulli = (key: Key, p: number, shape: Shape): Tensor => {
  const [k0, k1] = checkKey('bernoulli', key).words
  return drawOne(bernoulliSampler('bernoulli', p, shape), k0, k1)
}

const bernoulliSampler = (op: string, p: number, shape: Shape): Sampler => {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1))
    throw new ValueError(op, `p must be a probability in [0, 1], got ${describe(p)}`)
  const size = checkSampleShape(op, shape)
  const draw = (k0: number, k1: number): TypedArray => {
    const u = uniformData(k0, k1, size, 0, 1, 'float32')
    const out = new Int32Array(size)
    for (let i = 0; i < size; i++) out[i] = u[i]! < p ? 1 : 0
    return out
  }
  return { dtype: 'int32', shape: shapeCopy(shape), draw }
}

/**
 * int32 samples, exactly uniform on `[min, max)` (rejection sampling; see the module notes).
 * `min` and `max` are integers with `-2^31 <= min < max <= 2^31`.
 * @example
 * const labels = random.randint(random.key(0), [64], 0, 10)
 * @since 0.1.0
 */
export const randint = (key: Key, shape: Shape, min: number, max: number): Tensor => {
  const [k0, k1] = checkKey('randint', key).words
  const size = checkSampleShape('randint', shape)
  const inInt32 = (v: unknown): boolean =>
    typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483648
  if (!inInt32(min) || !inInt32(max) || !(min < max))
    throw new ValueError(
      'randint',
      `min and max must be integers with -2^31 <= min < max <= 2^31, got min ${describe(min)}, max ${describe(max)}`,
    )
  const range = max - min
  // Accepting w < limit keeps exactly floor(2^32 / range) copies of every residue.
  const limit = UINT32_RANGE - (UINT32_RANGE % range)
  const stream = streamKey(k0, k1, RANDINT_TAG)
  const s0 = stream[0]!
  const s1 = stream[1]!
  const words = new Uint32Array(2)
  const out = new Int32Array(size)
  for (let i = 0; i < size; i++) {
    for (let block = 0; ; block++) {
      threefryInto(s0, s1, i, block, words, 0, 1)
      const first = words[0]!
      if (first < limit) {
        out[i] = min + (first % range)
        break
      }
      const second = words[1]!
      if (second < limit) {
        out[i] = min + (second % range)
        break
      }
    }
  }
  return unsafeTensor('int32', shapeCopy(shape), out)
}

/** Stable LSD radix sort of `order` by `sortKeys[order[j]]` (4 passes of 8 bits); returns the sorted order. */
const radixSortBy = (order: Int32Array, sortKeys: Uint32Array): Int32Array => {
  const n = order.length
  let from = order
  let to: Int32Array = new Int32Array(n)
  const counts = new Int32Array(257)
  for (let shift = 0; shift < 32; shift += 8) {
    counts.fill(0)
    for (let j = 0; j < n; j++) counts[((sortKeys[from[j]!]! >>> shift) & 255) + 1]!++
    for (let b = 0; b < 256; b++) counts[b + 1]! += counts[b]!
    for (let j = 0; j < n; j++) {
      const index = from[j]!
      to[counts[(sortKeys[index]! >>> shift) & 255]!++] = index
    }
    const swap = from
    from = to
    to = swap
  }
  return from
}

/**
 * A random permutation of `0 .. n-1` as an int32 tensor of shape `[n]`, by JAX's sort-based
 * shuffle (see the module notes).
 * @example
 * const order = random.permutation(random.key(epoch), 60000) // shuffle a dataset
 * @since 0.1.0
 */
export const permutation = (key: Key, n: number): Tensor => {
  let [current0, current1] = checkKey('permutation', key).words
  const count = checkCount('permutation', 'n', n)
  // Smallest r with (2^32 - 1)^r >= n^3, i.e. JAX's ceil(3 ln n / ln(2^32 - 1)), computed exactly.
  const target = BigInt(Math.max(1, count)) ** 3n
  let rounds = 0
  while (4294967295n ** BigInt(rounds) < target) rounds++
  let values: Int32Array = new Int32Array(count)
  for (let i = 0; i < count; i++) values[i] = i
  let positions: Int32Array = new Int32Array(count)
  for (let round = 0; round < rounds; round++) {
    // split(current, 2) without building Key objects: words 0-1 are the next key, 2-3 the subkey.
    const keyBits = bitsFor(current0, current1, 4)
    current0 = keyBits[0]!
    current1 = keyBits[1]!
    const sortKeys = bitsFor(keyBits[2]!, keyBits[3]!, count)
    for (let i = 0; i < count; i++) positions[i] = i
    positions = radixSortBy(positions, sortKeys)
    const shuffled = new Int32Array(count)
    for (let j = 0; j < count; j++) shuffled[j] = values[positions[j]!]!
    values = shuffled
  }
  return unsafeTensor('int32', [count], values)
}

// ---------------------------------------------------------------------------------------------
// truncated normal
// ---------------------------------------------------------------------------------------------

// Math.sqrt(2 * Math.PI) as a literal (the same double): a bundler keeps arithmetic at module level,
// used or not (see TWO_POW_M23).
const SQRT_2PI = 2.5066282746310002

type Proposal = 'normal' | 'uniform' | 'exponential'

/**
 * Robert's choice of proposal for the standard normal on `[a, b]` with `a >= 0` or `a < 0 < b`.
 * Every branch accepts with probability >= ~0.49.
 */
const chooseProposal = (a: number, b: number): Proposal => {
  if (a < 0) return b - a < SQRT_2PI ? 'uniform' : 'normal'
  if (b === Infinity) return 'exponential'
  // Robert (1995), Proposition 2.3, compared in log space: the uniform proposal on [a, b] beats the
  // optimal exponential one when b - a < 2 / (a + s) * exp((a^2 - a s) / 4 + 1/2), s = sqrt(a^2 + 4).
  const s = Math.sqrt(a * a + 4)
  const logBound = Math.log(2 / (a + s)) + (-4 * a) / (a + s) / 4 + 0.5
  return Math.log(b - a) < logBound ? 'uniform' : 'exponential'
}

/**
 * Standard normal truncated to `[a, b]` (`a < b`), with `a >= 0` or `a < 0 < b`, by rejection. `i`
 * selects the element's counter stream under the stream key `(s0, s1)`; `words` is a 4-word scratch.
 */
const truncatedStandard = (
  a: number,
  b: number,
  proposal: Proposal,
  lambda: number,
  s0: number,
  s1: number,
  i: number,
  words: Uint32Array,
): number => {
  for (let attempt = 0; ; attempt++) {
    threefryInto(s0, s1, i, 2 * attempt, words, 0, 1)
    threefryInto(s0, s1, i, 2 * attempt + 1, words, 2, 3)
    // Two uniforms (m + 1/2) / 2^52 from 52-bit integers m: exact, and strictly inside (0, 1)
    // so the logs below and erfinv(2u - 1) stay finite.
    const u = ((words[0]! >>> 6) * 67108864 + (words[1]! >>> 6) + 0.5) * TWO_POW_M52
    const v = ((words[2]! >>> 6) * 67108864 + (words[3]! >>> 6) + 0.5) * TWO_POW_M52
    switch (proposal) {
      case 'normal': {
        const z = Math.SQRT2 * erfinv64(2 * u - 1)
        if (z >= a && z <= b) return z
        break
      }
      case 'uniform': {
        const z = a + (b - a) * u
        // density ratio: exp(-z^2/2) when 0 is inside, exp((a^2 - z^2)/2) when a >= 0
        const logRatio = a >= 0 ? ((a - z) * (a + z)) / 2 : (-z * z) / 2
        if (z <= b && Math.log(v) <= logRatio) return z
        break
      }
      case 'exponential': {
        const z = a - Math.log(u) / lambda
        const gap = z - lambda
        if (z <= b && Math.log(v) <= (-gap * gap) / 2) return z
        break
      }
    }
  }
}

/**
 * Normal samples truncated to `[mean + lower·std, mean + upper·std]`: `lower` and `upper` are in
 * standard deviations (defaults -2 and 2, the usual initialiser), as in JAX and TensorFlow, so
 * `truncatedNormal(k, s, { std: 0.02 })` is cut at ±0.04. Exact rejection sampling (see the module
 * notes); bounds may be infinite but need `lower < upper`.
 * @example
 * const w = random.truncatedNormal(random.key(0), [512, 512], { std: 0.02 })
 * @since 0.1.0
 */
export const truncatedNormal = (key: Key, shape: Shape, opts: TruncatedNormalOptions = {}): Tensor => {
  const [k0, k1] = checkKey('truncatedNormal', key).words
  return drawOne(truncatedNormalSampler('truncatedNormal', shape, opts), k0, k1)
}

const truncatedNormalSampler = (op: string, shape: Shape, opts: TruncatedNormalOptions): Sampler => {
  const size = checkSampleShape(op, shape)
  const dtype = checkFloatDType(op, opts.dtype ?? 'float32')
  const mean = checkFinite(op, 'mean', opts.mean ?? 0)
  const std = checkStd(op, opts.std ?? 1)
  const lower = opts.lower ?? -2
  const upper = opts.upper ?? 2
  if (
    typeof lower !== 'number' ||
    typeof upper !== 'number' ||
    !(lower < upper) ||
    lower === Infinity ||
    upper === -Infinity
  )
    throw new ValueError(
      op,
      `lower and upper must be numbers with lower < upper (infinite bounds allowed), got lower ${describe(lower)}, upper ${describe(upper)}`,
    )
  // Sample on [a, b] with a >= 0 or a < 0 < b; mirror when the interval lies left of 0.
  const mirrored = upper <= 0
  const a = mirrored ? -upper : lower
  const b = mirrored ? -lower : upper
  const proposal = chooseProposal(a, b)
  // Robert's optimal exponential rate, written so huge `a` cannot overflow: (a + sqrt(a^2 + 4)) / 2.
  const lambda = a + 2 / (a + Math.sqrt(a * a + 4))
  const lo = mean + std * lower
  const hi = mean + std * upper
  const draw = (k0: number, k1: number): TypedArray => {
    const stream = streamKey(k0, k1, TRUNCATED_NORMAL_TAG)
    const s0 = stream[0]!
    const s1 = stream[1]!
    const words = new Uint32Array(4)
    const out = allocate(dtype, size)
    for (let i = 0; i < size; i++) {
      const z = truncatedStandard(a, b, proposal, lambda, s0, s1, i, words)
      const value = mean + std * (mirrored ? -z : z)
      // Rounding of mean + std * z must not step outside the bounds.
      out[i] = value < lo ? lo : value > hi ? hi : value
    }
    return out
  }
  return { dtype, shape: shapeCopy(shape), draw }
}

// ---------------------------------------------------------------------------------------------
// keys as data
// ---------------------------------------------------------------------------------------------

/**
 * A key as an int32 tensor of shape `[2]`: its two uint32 words stored as their int32 bit patterns
 * (word `w` is stored as `w | 0` and read back as `x >>> 0`). Keys as data are what `vmap` maps and
 * what the random ops of `@backfold/ops` take; {@link wrapKey} is the inverse. A key made by
 * `wrapKey` around a traced value gives that value back.
 * @example
 * random.keyData(random.key(0)) // int32 [0, 0]
 * toArray(random.keyData(random.split(random.key(0))[0]!)) // [-148943191, 967050713] (4146024105 as int32)
 * @since 0.2.0
 */
export const keyData = (key: Key): Tensor => {
  if (!isKey(key))
    throw new ValueError(
      'keyData',
      `key must be a Key made by random.key(seed), random.split or random.foldIn, got ${describe(key)}`,
    )
  if (key.data !== undefined) return key.data
  return unsafeTensor('int32', [2], Int32Array.of(key.words[0] | 0, key.words[1] | 0))
}

/**
 * Several keys as one int32 tensor of shape `[n, 2]` (row `i` is `keyData(keys[i])`): a batch of
 * keys to map over with `vmap`, one example per key.
 * @example
 * const keys = random.keysData(random.split(random.key(0), 8)) // [8, 2]: eight independent keys as data
 * @since 0.2.0
 */
export const keysData = (keys: ReadonlyArray<Key>): Tensor => {
  if (!Array.isArray(keys))
    throw new ValueError('keysData', `keys must be an array of Keys, got ${describe(keys)}`)
  const out = new Int32Array(2 * keys.length)
  keys.forEach((k: unknown, i) => {
    const [hi, lo] = checkKey('keysData', k).words
    out[2 * i] = hi | 0
    out[2 * i + 1] = lo | 0
  })
  return unsafeTensor('int32', [keys.length, 2], out)
}

/**
 * The key held by an int32 tensor of shape `[2]` (as {@link keyData} makes; int32 bit patterns of
 * the two uint32 words). A concrete tensor gives an ordinary key. An abstract one (a key mapped by
 * `vmap` or traced by `grad`) gives a key that carries it as `data` and has no readable words: the
 * samplers of this module refuse it with a `TraceError`, and the random ops of `@backfold/ops` draw
 * from it, so code that takes a `Key` (a layer's `init`) can run under `vmap` over keys.
 * @example
 * random.wrapKey(random.keyData(random.key(7))).words // [0, 7]
 * // E models at once: vmap((k) => paramsOf(model.init(random.wrapKey(k), [64])))(random.keysData(random.split(random.key(0), E)))
 * @since 0.2.0
 */
export const wrapKey = (data: Tensor): Key => {
  const given: unknown = data
  if (!isKeyTensor(data))
    throw new ShapeError(
      'wrapKey',
      `a key is an int32 tensor of shape [2], got ${isTensor(given) ? `${given.dtype} ${fmtShape(given.shape)}` : describe(given)}` +
        '; map over a batch of keys [n, 2] with vmap, or take one row of it',
    )
  if (isAbstract(data)) {
    const traced: Key = Object.freeze({
      kind: 'backfold.key' as const,
      data,
      get words(): readonly [number, number] {
        throw tracedKeyError('Key.words')
      },
    })
    return traced
  }
  const words = data.data
  return makeKey(words[0]! >>> 0, words[1]! >>> 0)
}

// The samplers of a batch of keys: one draw per key, each exactly the single-key draw (the same
// closure runs for each key), laid out as [...keys.shape without its last axis, ...sample shape].

/** A validated sampler: what one key's draw has, and how to draw it from the key words. */
interface Sampler {
  readonly dtype: DType
  readonly shape: number[]
  readonly draw: (k0: number, k1: number) => TypedArray
}

const drawOne = (sampler: Sampler, k0: number, k1: number): Tensor =>
  unsafeTensor(sampler.dtype, sampler.shape, sampler.draw(k0, k1))

/** What a shape and dtype rule reads of a key batch: its shape and dtype (it may be abstract). */
type KeysAval = { readonly shape: Shape; readonly dtype: DType }

/** The batch shape of a key batch `[..., 2]` (its shape without the last axis); throws for anything else. */
const keyBatchShape = (op: string, keys: KeysAval): number[] => {
  if (keys.dtype !== 'int32')
    throw new DTypeError(op, `keys must be int32 (key words as made by random.keyData), got ${keys.dtype}`)
  if (keys.shape.length === 0 || keys.shape[keys.shape.length - 1] !== 2)
    throw new ShapeError(op, `keys must have shape [..., 2] (two words per key), got ${fmtShape(keys.shape)}`)
  return keys.shape.slice(0, -1)
}

/** What a draw for every key of `keys` gives: `[...batch, ...sample shape]` of the sampler's dtype. */
const eachOutput = (
  op: string,
  keys: KeysAval,
  sampler: Sampler,
): { readonly shape: number[]; readonly dtype: DType } => {
  const batch = keyBatchShape(op, keys)
  const count = sizeOf(batch)
  const per = sizeOf(sampler.shape)
  if (count * per > MAX_ELEMENTS)
    throw new ValueError(
      op,
      `${count} keys of ${fmtShape(sampler.shape)} samples make ${count * per} elements; at most ${MAX_ELEMENTS} are supported`,
    )
  return { shape: [...batch, ...sampler.shape], dtype: sampler.dtype }
}

const drawEach = (op: string, keys: Tensor, sampler: Sampler): Tensor => {
  if (!isTensor(keys))
    throw new ValueError(op, `keys must be an int32 tensor of shape [..., 2], got ${describe(keys)}`)
  requireConcrete(op, 'keys', keys)
  const { shape, dtype } = eachOutput(op, keys, sampler)
  const words = Uint32Array.from(keys.data, (w) => w >>> 0)
  const count = words.length / 2
  const per = sizeOf(sampler.shape)
  const out = allocate(dtype, count * per)
  for (let i = 0; i < count; i++) out.set(sampler.draw(words[2 * i]!, words[2 * i + 1]!), i * per)
  return unsafeTensor(dtype, shape, out)
}

const randomBitsSampler = (op: string, count: number): Sampler => {
  const n = checkCount(op, 'count', count)
  return { dtype: 'int32', shape: [n], draw: (k0, k1) => new Int32Array(bitsFor(k0, k1, n).buffer) }
}

const splitSampler = (op: string, n: number): Sampler => {
  const count = checkCount(op, 'n', n)
  return {
    dtype: 'int32',
    shape: [count, 2],
    // split(key, n) reads randomBits(key, 2n) as n pairs: the same words, in the same order.
    draw: (k0, k1) => new Int32Array(bitsFor(k0, k1, 2 * count).buffer),
  }
}

const foldInSampler = (op: string, data: number): Sampler => {
  if (!isUint32(data))
    throw new ValueError(op, `data must be an integer in [0, 2^32 - 1], got ${describe(data)}`)
  return {
    dtype: 'int32',
    shape: [2],
    draw: (k0, k1) => {
      const out = new Uint32Array(2)
      threefryInto(k0, k1, 0, data, out, 0, 1)
      return new Int32Array(out.buffer)
    },
  }
}

/**
 * {@link randomBits} for every key of a batch `keys` (int32 `[..., 2]`, see {@link keyData}):
 * int32 `[..., count]`, the words as int32 bit patterns.
 * @since 0.2.0
 */
export const randomBitsEach = (keys: Tensor, count: number): Tensor =>
  drawEach('randomBitsEach', keys, randomBitsSampler('randomBitsEach', count))

/**
 * {@link split} for every key of a batch `keys` (int32 `[..., 2]`): int32 `[..., n, 2]`, row `j`
 * of key `i` being `keyData(split(key_i, n)[j])`.
 * @example
 * random.splitEach(random.keyData(random.key(0)), 2) // [2, 2]: keyData of random.split(random.key(0)) stacked
 * @since 0.2.0
 */
export const splitEach = (keys: Tensor, n = 2): Tensor =>
  drawEach('splitEach', keys, splitSampler('splitEach', n))

/**
 * {@link foldIn} for every key of a batch `keys` (int32 `[..., 2]`): int32 `[..., 2]`.
 * @since 0.2.0
 */
export const foldInEach = (keys: Tensor, data: number): Tensor =>
  drawEach('foldInEach', keys, foldInSampler('foldInEach', data))

/**
 * {@link uniform} for every key of a batch `keys` (int32 `[..., 2]`): `[..., ...shape]`, the
 * samples of key `i` bit-identical to `uniform(key_i, shape, opts)`.
 * @example
 * random.uniformEach(random.keysData(random.split(random.key(0), 4)), [3]) // [4, 3]
 * @since 0.2.0
 */
export const uniformEach = (keys: Tensor, shape: Shape, opts: UniformOptions = {}): Tensor =>
  drawEach('uniformEach', keys, uniformSampler('uniformEach', shape, opts))

/**
 * {@link normal} for every key of a batch `keys` (int32 `[..., 2]`): `[..., ...shape]`, the
 * samples of key `i` bit-identical to `normal(key_i, shape, opts)`.
 * @since 0.2.0
 */
export const normalEach = (keys: Tensor, shape: Shape, opts: NormalOptions = {}): Tensor =>
  drawEach('normalEach', keys, normalSampler('normalEach', shape, opts))

/**
 * {@link truncatedNormal} for every key of a batch `keys` (int32 `[..., 2]`): `[..., ...shape]`,
 * the samples of key `i` bit-identical to `truncatedNormal(key_i, shape, opts)`.
 * @since 0.2.0
 */
export const truncatedNormalEach = (keys: Tensor, shape: Shape, opts: TruncatedNormalOptions = {}): Tensor =>
  drawEach('truncatedNormalEach', keys, truncatedNormalSampler('truncatedNormalEach', shape, opts))

/**
 * {@link bernoulli} for every key of a batch `keys` (int32 `[..., 2]`): int32 `[..., ...shape]`,
 * the mask of key `i` identical to `bernoulli(key_i, p, shape)`.
 * @since 0.2.0
 */
export const bernoulliEach = (keys: Tensor, p: number, shape: Shape): Tensor =>
  drawEach('bernoulliEach', keys, bernoulliSampler('bernoulliEach', p, shape))

// The shapes and dtypes of the samplers above, without drawing: the same validation (the same
// errors, naming the same sampler), for the shape rules of the random ops when they are staged
// (the keys may be abstract: only their shape and dtype are read).

/**
 * The shape and dtype {@link randomBitsEach} gives for `keys` (shape and dtype only): int32 `[..., count]`.
 * @example
 * random.randomBitsEachOutput({ shape: [4, 2], dtype: 'int32' }, 3) // { shape: [4, 3], dtype: 'int32' }
 * @since 0.2.0
 */
export const randomBitsEachOutput = (
  keys: KeysAval,
  count: number,
): { readonly shape: number[]; readonly dtype: DType } =>
  eachOutput('randomBitsEach', keys, randomBitsSampler('randomBitsEach', count))

/** The shape and dtype {@link splitEach} gives for `keys`: int32 `[..., n, 2]`. @since 0.2.0 */
export const splitEachOutput = (keys: KeysAval, n = 2): { readonly shape: number[]; readonly dtype: DType } =>
  eachOutput('splitEach', keys, splitSampler('splitEach', n))

/** The shape and dtype {@link foldInEach} gives for `keys`: int32 `[..., 2]`. @since 0.2.0 */
export const foldInEachOutput = (
  keys: KeysAval,
  data: number,
): { readonly shape: number[]; readonly dtype: DType } =>
  eachOutput('foldInEach', keys, foldInSampler('foldInEach', data))

/**
 * The shape and dtype {@link uniformEach} gives for `keys`: `[..., ...shape]` of `opts.dtype`.
 * @example
 * random.uniformEachOutput({ shape: [4, 2], dtype: 'int32' }, [3]) // { shape: [4, 3], dtype: 'float32' }
 * @since 0.2.0
 */
export const uniformEachOutput = (
  keys: KeysAval,
  shape: Shape,
  opts: UniformOptions = {},
): { readonly shape: number[]; readonly dtype: DType } =>
  eachOutput('uniformEach', keys, uniformSampler('uniformEach', shape, opts))

/** The shape and dtype {@link normalEach} gives for `keys`: `[..., ...shape]` of `opts.dtype`. @since 0.2.0 */
export const normalEachOutput = (
  keys: KeysAval,
  shape: Shape,
  opts: NormalOptions = {},
): { readonly shape: number[]; readonly dtype: DType } =>
  eachOutput('normalEach', keys, normalSampler('normalEach', shape, opts))

/**
 * The shape and dtype {@link truncatedNormalEach} gives for `keys`: `[..., ...shape]` of `opts.dtype`.
 * @since 0.2.0
 */
export const truncatedNormalEachOutput = (
  keys: KeysAval,
  shape: Shape,
  opts: TruncatedNormalOptions = {},
): { readonly shape: number[]; readonly dtype: DType } =>
  eachOutput('truncatedNormalEach', keys, truncatedNormalSampler('truncatedNormalEach', shape, opts))

/** The shape and dtype {@link bernoulliEach} gives for `keys`: int32 `[..., ...shape]`. @since 0.2.0 */
export const bernoulliEachOutput = (
  keys: KeysAval,
  p: number,
  shape: Shape,
): { readonly shape: number[]; readonly dtype: DType } =>
  eachOutput('bernoulliEach', keys, bernoulliSampler('bernoulliEach', p, shape))
