// Shared by the nn tests: Either unwrapping with readable failures, and small tensor builders.
import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { DType, Shape, Tensor } from '@backfold/tensor'
import { formatLayerError, type ApplyContext, type Layer, type LayerError } from '../src/layer'
import type { Dataset } from '../src/data/index'
import { flattenNamed } from '../src/tree'

/** The Right of an init result, or a test failure naming the LayerError. */
export const unwrap = <A>(result: E.Either<LayerError, A>): A => {
  if (E.isLeft(result)) throw new Error(`unexpected LayerError: ${formatLayerError(result.left)}`)
  return result.right
}

/** The LayerError of an init that must fail. */
export const leftOf = <A>(result: E.Either<LayerError, A>): LayerError => {
  if (E.isRight(result)) throw new Error('expected init to fail')
  return result.left
}

export const key = (seed: number): T.Key => T.random.key(seed)
/** Standard normal float64 values for a seed. */
export const randn = (seed: number, shape: Shape): Tensor =>
  T.random.normal(key(seed), shape, { dtype: 'float64' })
export const evalCtx: ApplyContext = { training: false }

/** A tensor from plain numbers (float64 unless told otherwise). */
export const make = (
  shape: ReadonlyArray<number>,
  values: ReadonlyArray<number>,
  dtype: DType = 'float64',
): Tensor => {
  const data = T.allocate(dtype, values.length)
  data.set(values)
  return T.unsafeTensor(dtype, shape, data)
}

/** A layer's params and state, or a thrown error naming what went wrong. */
export const init = <P, S>(
  layer: Layer<P, S>,
  seedKey: T.Key,
  inShape: ReadonlyArray<number>,
): { params: P; state: S } => {
  const built = layer.init(seedKey, inShape)
  if (E.isLeft(built)) throw new Error(built.left.message)
  return built.right
}

/** Three Gaussian blobs in 2-D around (0, 3), (3, −2), (−3, −2): easy to separate, labels class indices. */
export const blobs = (n: number, seed: number): Dataset => {
  const noise = T.random.normal(T.random.key(seed), [n, 2]).data
  const centres = [
    [0, 3],
    [3, -2],
    [-3, -2],
  ]
  const x = new Float32Array(2 * n)
  const y = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const c = i % 3
    y[i] = c
    x[2 * i] = centres[c]![0]! + noise[2 * i]!
    x[2 * i + 1] = centres[c]![1]! + noise[2 * i + 1]!
  }
  return { x: T.unsafeTensor('float32', [n, 2], x), y: T.unsafeTensor('int32', [n], y) }
}

/** Every leaf's values by dotted name: two trees with equal bits compare equal. */
export const bitsOf = (tree: unknown): Array<[string, number[]]> =>
  flattenNamed(tree).map(([name, t]) => [name, Array.from(t.data)])

/**
 * `n` examples of shape `inShape` (standard normal, float32) with labels in `0 .. classes - 1`, from
 * `seed`: class indices (int32), or one-hot float32 rows of `classes` with `oneHot`. Shared by the
 * training tests (train-jit, ort/train-onnxruntime): the same seed gives the same examples either way.
 */
export const dataset = (
  n: number,
  inShape: ReadonlyArray<number>,
  classes: number,
  seed: number,
  options: { readonly oneHot?: boolean } = {},
): Dataset => {
  const [xKey, yKey] = T.random.split(T.random.key(seed))
  const labels = T.random.randint(yKey, [n], 0, classes)
  return {
    x: T.random.normal(xKey, [n, ...inShape]),
    y: options.oneHot === true ? T.oneHot(labels, classes) : labels,
  }
}

/** Examples `start .. stop - 1` of `data` (a batch). */
export const batchOf = (data: Dataset, start: number, stop: number): Dataset => ({
  x: T.slice(data.x, [{ start, stop }]),
  y: T.slice(data.y, [{ start, stop }]),
})

/**
 * Largest |a − b| over every leaf of two trees of the same structure (NaN if either holds a NaN, so
 * `toBeLessThan` fails); throws when a leaf is missing or has another shape.
 */
export const maxDifference = (a: unknown, b: unknown): number => {
  const right = new Map(flattenNamed(b))
  let worst = 0
  for (const [name, t] of flattenNamed(a)) {
    const other = right.get(name)
    if (other === undefined) throw new Error(`missing leaf ${name}`)
    if (!T.shapesEqual(t.shape, other.shape))
      throw new Error(`leaf ${name}: shape ${T.fmtShape(t.shape)} against ${T.fmtShape(other.shape)}`)
    for (let i = 0; i < t.data.length; i++)
      worst = Math.max(worst, Math.abs(Number(t.data[i]) - Number(other.data[i])))
  }
  return worst
}
