import { expect } from 'vitest'
import fc from 'fast-check'
import type { DType, TypedArray } from '../src/dtype'
import type { BackfoldError } from '../src/errors'
import type { Padding2d } from '../src/kernels/conv'
import type { Tensor } from '../src/tensor'
import { allocate } from '../src/dtype'
import { unsafeTensor } from '../src/tensor'

// Shared by the kernel tests in this folder (the wasm tests keep their own, in wasm/helpers.ts):
// seeded data, tensor builders, index arithmetic and comparisons, all written naively and
// independently of the code under test.

// ---------- seeded randomness ----------

/** Deterministic PRNG (mulberry32): uniform doubles in [0, 1), so failures reproduce. */
export const mulberry32 = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A uniform integer in [lo, hi] (both inclusive), drawn from one call of `rand`. */
export const randomInt = (rand: () => number, lo: number, hi: number): number =>
  lo + Math.floor(rand() * (hi - lo + 1))

// ---------- shapes and indices ----------

/** Number of elements of a tensor of `shape` (1 for a scalar). */
export const product = (shape: ReadonlyArray<number>): number => shape.reduce((acc, d) => acc * d, 1)

/** Row-major multi-index of flat position `flat` in `shape` (divmod, no strides). */
export const unravel = (flat: number, shape: ReadonlyArray<number>): number[] => {
  const index = new Array<number>(shape.length).fill(0)
  for (let i = shape.length - 1; i >= 0; i--) {
    index[i] = flat % shape[i]!
    flat = Math.floor(flat / shape[i]!)
  }
  return index
}

/** Row-major flat position of multi-index `index` in `shape`; the inverse of `unravel`. */
export const ravelIndex = (index: ReadonlyArray<number>, shape: ReadonlyArray<number>): number => {
  let flat = 0
  for (let i = 0; i < shape.length; i++) flat = flat * shape[i]! + index[i]!
  return flat
}

/** The element of a contiguous row-major `x` at multi-index `index`. */
export const at = (x: Tensor, index: ReadonlyArray<number>): number => x.data[ravelIndex(index, x.shape)]!

// ---------- tensor builders ----------

/** Every dtype, in the order the tests iterate them. */
export const DTYPES: ReadonlyArray<DType> = ['float32', 'float64', 'int32']

/** `values` converted into a new typed array of `dtype`'s array type. */
export const arrayFor = (dtype: DType, values: ReadonlyArray<number>): TypedArray =>
  dtype === 'float32'
    ? Float32Array.from(values)
    : dtype === 'float64'
      ? Float64Array.from(values)
      : Int32Array.from(values)

/** A tensor of `dtype` and `shape` (used as given) holding `values` converted by `arrayFor`. */
export const tensorOf = (dtype: DType, shape: ReadonlyArray<number>, values: ReadonlyArray<number>): Tensor =>
  unsafeTensor(dtype, shape, arrayFor(dtype, values))

/** What storing `v` into an array of `dtype` gives. */
export const stored = (dtype: DType, v: number): number =>
  dtype === 'float32' ? Math.fround(v) : dtype === 'float64' ? v : v | 0

/** `n` values from successive calls of `draw`, each as an array of `dtype` would store it. */
export const storedValues = (n: number, dtype: DType, draw: () => number): number[] =>
  Array.from({ length: n }, () => stored(dtype, draw()))

/**
 * A tensor whose data has the array type of its dtype (shape copied); default values are a fixed
 * pattern of small integers, exact in every dtype, varied by `salt`.
 */
export const sampleTensor = (
  dtype: DType,
  shape: ReadonlyArray<number>,
  values?: ReadonlyArray<number>,
  salt = 0,
): Tensor => {
  const data = allocate(dtype, product(shape))
  data.set(values ?? Array.from({ length: data.length }, (_, i) => ((i * 37 + 11 + salt * 13) % 61) - 30))
  return unsafeTensor(dtype, [...shape], data)
}

/**
 * A random-tensor builder: each element drawn in order from `rand`, uniform in [-1, 1) for the
 * float dtypes and an integer in [-intBound, intBound] for int32.
 */
export const randomTensorWithin =
  (intBound: number) =>
  (rand: () => number, dtype: DType, shape: ReadonlyArray<number>): Tensor =>
    tensorOf(
      dtype,
      shape,
      Array.from({ length: product(shape) }, () =>
        dtype === 'int32' ? randomInt(rand, -intBound, intBound) : rand() * 2 - 1,
      ),
    )

/** A tensor-like object whose fields are getters reading `inner`, as traced values are. */
export const withGetters = (inner: Tensor): Tensor => ({
  get dtype() {
    return inner.dtype
  },
  get shape() {
    return inner.shape
  },
  get data() {
    return inner.data
  },
})

// ---------- comparisons ----------

/** Σ a[i]·b[i] in float64, in index order. */
export const dot = (a: TypedArray, b: TypedArray): number => {
  let sum = 0
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!
  return sum
}

/**
 * True when `got` and `want` are both NaN, equal, or within `relTol · max(|want|, floor)`
 * (so `relTol = 0` means exactly equal).
 */
export const sameNumber = (got: number, want: number, relTol = 0, floor = 0): boolean =>
  (Number.isNaN(got) && Number.isNaN(want)) ||
  got === want ||
  Math.abs(got - want) <= relTol * Math.max(Math.abs(want), floor)

/** Expects `t.data` to match `want` elementwise by `sameNumber`, listing the first five mismatches. */
export const expectValues = (t: Tensor, want: ReadonlyArray<number>, relTol = 0, floor = 0): void => {
  expect(t.data.length).toBe(want.length)
  const bad: string[] = []
  for (let i = 0; i < want.length; i++) {
    const got = t.data[i]!
    if (!sameNumber(got, want[i]!, relTol, floor)) bad.push(`[${i}] got ${got}, want ${want[i]}`)
  }
  expect(bad.slice(0, 5)).toEqual([])
}

/** A naive reference result: row-major values and, per element, the scale of its rounding error. */
export interface Expected {
  readonly shape: number[]
  readonly values: number[]
  /** Σ |a·b| per output element, the scale of its rounding error. */
  readonly magnitude: number[]
}

/** Expects `actual` to match `expected` exactly when `relTol` is 0, else within `relTol · magnitude`. */
export const expectMatches = (actual: Tensor, expected: Expected, relTol: number): void => {
  expect([...actual.shape]).toEqual(expected.shape)
  expect(actual.data.length).toBe(expected.values.length)
  for (let i = 0; i < expected.values.length; i++) {
    const got = actual.data[i]!
    const want = expected.values[i]!
    if (relTol === 0) expect(got).toBe(want)
    else if (Math.abs(got - want) > relTol * expected.magnitude[i]! + 1e-300)
      expect.fail(`element ${i}: got ${got}, expected ${want} (tolerance ${relTol * expected.magnitude[i]!})`)
  }
}

const ARRAY_OF: Record<DType, unknown> = { float32: Float32Array, float64: Float64Array, int32: Int32Array }

/** Expects `actual` to have exactly this dtype (and its array type), shape and values. */
export const expectTensor = (
  actual: Tensor,
  dtype: DType,
  shape: ReadonlyArray<number>,
  values: ArrayLike<number>,
) => {
  expect(actual.dtype).toBe(dtype)
  expect(actual.data).toBeInstanceOf(ARRAY_OF[dtype] as typeof Float32Array)
  expect([...actual.shape]).toEqual([...shape])
  expect(Array.from(actual.data)).toEqual(Array.from(values))
}

/** Runs `f`, expects a typed error of class `kind` whose message names `op` and every fragment. */
export const expectError = (
  f: () => unknown,
  kind: new (op: string, message: string) => BackfoldError,
  op: string,
  fragments: string[] = [],
) => {
  let caught: unknown
  try {
    f()
  } catch (error) {
    caught = error
  }
  expect(caught).toBeInstanceOf(kind)
  expect((caught as BackfoldError).op).toBe(op)
  const message = (caught as Error).message
  expect(message.startsWith(`${op}:`)).toBe(true)
  for (const fragment of fragments) expect(message).toContain(fragment)
}

// ---------- 2-d windows (conv and pool) ----------

/** A stride, dilation or kernel-size option as a [height, width] pair; `fallback` when absent. */
export const pairOf = (
  v: number | readonly [number, number] | undefined,
  fallback: number | readonly [number, number],
): [number, number] => {
  const p = v ?? fallback
  return typeof p === 'number' ? [p, p] : [p[0], p[1]]
}

/** The [top, bottom, left, right] padding each form means, worked out independently of the code under test. */
export const explicitPadding = (
  padding: Padding2d | undefined,
  inH: number,
  inW: number,
  extent: readonly [number, number],
  stride: readonly [number, number],
): [number, number, number, number] => {
  if (padding === undefined || padding === 'valid') return [0, 0, 0, 0]
  if (padding === 'same') {
    // TensorFlow: out = ceil(in / stride); the odd extra row/column goes after.
    const totalH = Math.max((Math.ceil(inH / stride[0]) - 1) * stride[0] + extent[0] - inH, 0)
    const totalW = Math.max((Math.ceil(inW / stride[1]) - 1) * stride[1] + extent[1] - inW, 0)
    return [
      Math.floor(totalH / 2),
      totalH - Math.floor(totalH / 2),
      Math.floor(totalW / 2),
      totalW - Math.floor(totalW / 2),
    ]
  }
  if (typeof padding === 'number') return [padding, padding, padding, padding]
  if (padding.length === 2) return [padding[0], padding[0], padding[1], padding[1]]
  return [padding[0], padding[1], padding[2], padding[3]]
}

// ---------- fast-check arbitraries ----------

/** Any of the three dtypes. */
export const dtypeArb = fc.constantFrom<DType>(...DTYPES)

/** Shapes of rank minRank..maxRank with every dimension in 0..maxDim (size-0 included). */
export const shapeArb = (maxRank = 4, maxDim = 4, minRank = 0) =>
  fc.array(fc.integer({ min: 0, max: maxDim }), { minLength: minRank, maxLength: maxRank })
