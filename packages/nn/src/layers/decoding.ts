// Incremental decoding (`ApplyContext.cache`): the position counter the position-dependent layers
// keep in their state, and the checks they share.
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import type { ApplyContext } from '../layer'

/**
 * State of a layer that only needs to know where it is in a decoded sequence
 * (`positionalEmbedding`, `sinusoidal`): empty from `init` and in training; in decoding mode
 * (`ApplyContext.cache`) the int32 scalar `position`, the absolute position of the next token.
 * @since 0.2.0
 */
export interface PositionState {
  /** int32 scalar: how many positions this layer has seen while decoding. */
  readonly position?: Tensor
}

/**
 * The capacity asked for by `ctx.cache`, or undefined when not decoding. Throws when decoding is
 * asked in training mode, with a bad capacity, or when `state` holds a cache but `ctx.cache` is
 * absent (the layer would silently restart from position 0).
 */
export const decodingCapacity = (
  kind: string,
  ctx: ApplyContext,
  stateHasCache: boolean,
): number | undefined => {
  const cache = ctx.cache
  if (cache === undefined) {
    if (stateHasCache)
      throw new T.ValueError(
        kind,
        'the state holds a decoding cache but ctx.cache is absent: pass the same ctx.cache to continue ' +
          'decoding, or the state from init to run on whole sequences',
      )
    return undefined
  }
  if (ctx.training)
    throw new T.ValueError(
      kind,
      'ctx.cache (incremental decoding) is for evaluation: pass { training: false, cache }',
    )
  const capacity = cache.capacity
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new T.ValueError(kind, `ctx.cache.capacity must be a positive integer, got ${String(capacity)}`)
  return capacity
}

/** The position stored in a decoding state (0 when there is none yet), checked. */
export const readPosition = (kind: string, position: Tensor | undefined): number => {
  if (position === undefined) return 0
  if (!T.isTensor(position) || position.dtype !== 'int32' || position.shape.length !== 0)
    throw new T.ValueError(kind, "the decoding state's position must be an int32 scalar tensor")
  if (T.isAbstract(position))
    throw new T.TraceError(
      kind,
      'incremental decoding reads its position counter, so it runs eagerly: call apply outside jit/vmap',
    )
  return position.data[0]!
}

/** Throws unless `length` new positions after `start` fit in `capacity`. */
export const checkCapacity = (kind: string, start: number, length: number, capacity: number): void => {
  if (start + length > capacity)
    throw new T.ShapeError(
      kind,
      `the decoding cache holds ${capacity} positions; ${start} are filled and ${length} more were given: ` +
        'start again from the state of init (e.g. with the last positions that fit), or decode with a ' +
        'larger ctx.cache.capacity',
    )
}

/** An int32 scalar position. */
export const positionTensor = (position: number): Tensor => T.scalar(position, 'int32')

/**
 * For ONNX emitters: the refusal to export a state in decoding mode (`field` is `'cache'` or
 * `'position'`), or undefined for the state of `init`.
 */
export const decodingStateRefusal = (state: unknown, field: 'cache' | 'position'): string | undefined =>
  state !== null && typeof state === 'object' && (state as Record<string, unknown>)[field] !== undefined
    ? `the state holds a decoding ${field === 'cache' ? 'key/value cache' : 'position'} ` +
      '(ApplyContext.cache), which ONNX export does not cover: export with the state from init ' +
      '(the graph evaluates whole sequences)'
    : undefined
