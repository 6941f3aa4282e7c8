// A deterministic float32 tensor for tests that compare executors (eager, jit, resident): the same
// seed gives the same values on every run and backend, in [-scale, scale).
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'

/** `shape` filled from a linear congruential generator seeded with `seed`, values in [-scale, scale). */
export const filled = (seed: number, shape: ReadonlyArray<number>, scale = 1): Tensor => {
  let s = seed >>> 0
  const data = Float32Array.from({ length: T.sizeOf(shape) }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return (s / 2 ** 31 - 1) * scale
  })
  return T.unsafeTensor('float32', shape, data)
}
