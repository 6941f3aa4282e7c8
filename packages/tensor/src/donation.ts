// Argument donation (`jit(f, { donate })` in @backfold/ops): a caller hands a tensor over to a
// function, which may reuse its memory for results. The tensor is then invalidated: its data can no
// longer be read, and every kernel refuses it with the sentence given here, so a stale value is an
// error at the first use, never a silently changed number.
import { TraceError } from './errors'
import { abstractValue, type Tensor } from './tensor'

/**
 * The key of a tensor's own invalidation method, for tensors whose data lives elsewhere (a value left
 * in wasm memory by a compiled graph): `donateTensor` calls it instead of redefining `data`.
 * @internal
 */
export const invalidateKey: unique symbol = Symbol.for('@backfold/tensor.invalidate')

/** A tensor that knows how to invalidate itself (see `invalidateKey`). @internal */
export interface SelfInvalidating {
  readonly [invalidateKey]: (why: string) => void
}

const donated = new WeakMap<object, string>()

/**
 * Invalidates `x` after it was donated: reading `x.data` throws a `TraceError` carrying `why`, and
 * every kernel refuses `x` (it carries the `abstractValue` brand with `why` as its sentence).
 * Idempotent. Internal to `jit`'s argument donation; a tensor frozen by its creator is only recorded
 * (`donationOf` still reports it).
 * @example
 * const x = tensor([1, 2])
 * donateTensor(x, 'donated to step; use the value step returned')
 * exp(x) // throws TraceError: exp: x is an abstract value ... donated to step ...
 * @since 0.2.0
 */
export const donateTensor = (x: Tensor, why: string): void => {
  if (donated.has(x)) return
  donated.set(x, why)
  const self = (x as Partial<SelfInvalidating>)[invalidateKey]
  if (typeof self === 'function') {
    self.call(x, why)
    return
  }
  const descriptor = Object.getOwnPropertyDescriptor(x, 'data')
  if (!Object.isExtensible(x) || descriptor?.configurable === false) return
  Object.defineProperty(x, 'data', {
    get: (): never => {
      throw new TraceError('tensor', `its data cannot be read: ${why}`)
    },
  })
  Object.defineProperty(x, abstractValue, { value: why })
}

/**
 * Why `x` may no longer be used (it was donated, see `donateTensor`), or undefined for a live tensor.
 * @example
 * donationOf(tensor([1])) // undefined
 * @since 0.2.0
 */
export const donationOf = (x: Tensor): string | undefined => donated.get(x)
