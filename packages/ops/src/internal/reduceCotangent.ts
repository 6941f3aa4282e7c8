import type { Shape, Tensor } from '@backfold/tensor'
import { broadcastTo } from '../shape/broadcastTo'
import { reshape } from '../shape/reshape'
import { keptShape } from './reduceParams'

/**
 * Gives a reduction's output (or its cotangent) back its reduced axes as size 1, so it broadcasts
 * against the input whether or not the reduction kept its dimensions. @internal
 */
export const keepDims = (y: Tensor, inShape: Shape, axes: ReadonlyArray<number>): Tensor =>
  reshape(y, keptShape(inShape, axes))

/** A reduction's cotangent spread back over every element it reduced. @internal */
export const spreadCotangent = (cotangent: Tensor, inShape: Shape, axes: ReadonlyArray<number>): Tensor =>
  broadcastTo(keepDims(cotangent, inShape, axes), inShape)
