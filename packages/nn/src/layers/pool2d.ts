import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as T from '@backfold/tensor'
import type { Pool2dOptions, Shape } from '@backfold/tensor'
import type { Either } from 'fp-ts/lib/Either.js'
import type { Initialized, LayerError, NoParams, NoState } from '../layer'
import { badShape, fail, tryShape } from './common'

/**
 * Shape inference shared by the 2-D pooling layers: `[C, H, W]` → `[C, H', W']` with the geometry
 * of `@backfold/tensor`'s pooling kernels.
 */
export const initPool2d = (
  kind: string,
  inShape: Shape,
  opts: Pool2dOptions,
): Either<LayerError, Initialized<NoParams, NoState>> => {
  const problem = badShape(inShape)
  if (problem !== undefined) return fail(kind, problem)
  if (inShape.length !== 3)
    return fail(
      kind,
      `expected a per-example input [channels, height, width] (rank 3), got ${T.fmtShape(inShape)} (rank ${inShape.length})`,
    )
  const xShape = [1, ...inShape]
  return pipe(
    tryShape(kind, `input ${T.fmtShape(inShape)}`, () =>
      T.pool2dOutputShape(xShape, T.pool2dSpec(kind, xShape, opts)),
    ),
    E.map((outShape) => ({ params: {}, state: {}, outShape: outShape.slice(1) })),
  )
}
