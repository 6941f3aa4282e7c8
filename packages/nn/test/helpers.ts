// Shared by the nn tests: Either unwrapping with readable failures, and small tensor builders.
import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { DType, Shape, Tensor } from '@backfold/tensor'
import { formatLayerError, type ApplyContext, type LayerError } from '../src/layer'

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
