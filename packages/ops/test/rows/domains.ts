import { random, unsafeTensor, sizeOf, type Tensor } from '@backfold/tensor'

/** Deterministic float64 test inputs in named domains. Each call site passes its own seed. */
const draw = (seed: number, shape: ReadonlyArray<number>, lo: number, hi: number): Float64Array =>
  Float64Array.from(random.uniform(random.key(seed), shape, { min: lo, max: hi, dtype: 'float64' }).data)

/** Uniform in [-2, 2]. */
export const anywhere = (seed: number, shape: ReadonlyArray<number>): Tensor =>
  unsafeTensor('float64', shape, draw(seed, shape, -2, 2))

/** Uniform in [-0.9, 0.9]: inside the domain of asin and acos, away from tan's poles. */
export const unitInterior = (seed: number, shape: ReadonlyArray<number>): Tensor =>
  unsafeTensor('float64', shape, draw(seed, shape, -0.9, 0.9))

/** Uniform in [0.5, 2]: for log, sqrt, pow bases, reciprocal. */
export const positive = (seed: number, shape: ReadonlyArray<number>): Tensor =>
  unsafeTensor('float64', shape, draw(seed, shape, 0.5, 2))

/** |x| in [0.3, 2] with random sign: away from the kinks of abs, relu, sign at 0. */
export const awayFromZero = (seed: number, shape: ReadonlyArray<number>): Tensor => {
  const mags = draw(seed, shape, 0.3, 2)
  const signs = draw(seed + 7919, shape, -1, 1)
  return unsafeTensor(
    'float64',
    shape,
    mags.map((m, i) => (signs[i]! < 0 ? -m : m)),
  )
}

/** A random permutation of well-separated values: no ties, for max/min/sort-like ops. */
export const distinct = (seed: number, shape: ReadonlyArray<number>): Tensor => {
  const n = sizeOf(shape)
  const perm = random.permutation(random.key(seed), n).data
  return unsafeTensor(
    'float64',
    shape,
    Float64Array.from(perm, (p) => (p - n / 2) * 0.37 + 0.05),
  )
}

/** int32 indices in [0, size). */
export const indices = (seed: number, shape: ReadonlyArray<number>, size: number): Tensor =>
  random.randint(random.key(seed), shape, 0, size)
