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

/** Where a donated tensor keeps the reason (a RegionTensor answers it with a getter). @internal */
export const donatedKey: unique symbol = Symbol.for('@backfold/tensor.donated')

// Records frozen by their creator cannot be branded: they are only remembered here.
const frozen = new WeakMap<object, string>()

/**
 * Invalidates `x` after it was donated: reading `x.data` throws a `TraceError` carrying `why`, and
 * every kernel refuses `x` (it carries the `abstractValue` brand with `why` as its sentence).
 * Idempotent; an abstract value (already without data) is left as it is. Internal to `jit`'s
 * argument donation. A record frozen by its creator cannot be changed: it is only remembered
 * (`donationOf` reports it), and its data stays readable (no executable writes a plain tensor's data).
 * @example
 * const x = tensor([1, 2])
 * donateTensor(x, 'donated to step; use the value step returned')
 * exp(x) // throws TraceError: exp: x is an abstract value ... donated to step ...
 * @since 0.2.0
 */
export const donateTensor = (x: Tensor, why: string): void => {
  if (x[abstractValue] !== undefined) return
  const self = (x as Partial<SelfInvalidating>)[invalidateKey]
  if (typeof self === 'function') {
    self.call(x, why)
    return
  }
  const descriptor = Object.getOwnPropertyDescriptor(x, 'data')
  if (!Object.isExtensible(x) || descriptor?.configurable === false) {
    frozen.set(x, why)
    return
  }
  Object.defineProperty(x, 'data', {
    get: (): never => {
      throw new TraceError('tensor', `its data cannot be read: ${why}`)
    },
  })
  Object.defineProperty(x, abstractValue, { value: why })
  Object.defineProperty(x, donatedKey, { value: why })
}

/**
 * Why `x` may no longer be used (it was donated, see `donateTensor`), or undefined for a live tensor
 * (or an abstract value that was never donated).
 * @example
 * donationOf(tensor([1])) // undefined
 * @since 0.2.0
 */
export const donationOf = (x: Tensor): string | undefined =>
  (x as { readonly [donatedKey]?: string | undefined })[donatedKey] ?? frozen.get(x)

/**
 * Donates every tensor of `given` that is not among `results` (a result may be an argument passed
 * through, which the caller keeps): what a function that was given up its arguments does after it
 * ran (`jit`'s `donate`, `makeTrainStep`'s eager step).
 * @example
 * const [w, b] = [tensor([1]), tensor([2])]
 * donateAllBut([w, b], [b], 'donated to step') // w is invalidated, b (returned as it is) is not
 * @since 0.2.0
 */
export const donateAllBut = (
  given: ReadonlyArray<Tensor>,
  results: ReadonlyArray<Tensor>,
  why: string,
): void => {
  const kept = new Set(results)
  for (const x of given) if (!kept.has(x)) donateTensor(x, why)
}
