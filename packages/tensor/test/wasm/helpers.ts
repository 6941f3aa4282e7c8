import type { DType, TypedArray } from '../../src/dtype'
import type { Tensor } from '../../src/tensor'
import { expect } from 'vitest'
import { unsafeTensor } from '../../src/tensor'

// Shared by the wasm backend tests: seeded data and a tolerance check scaled by each output's
// magnitude (Σ |a·b|), since a different summation order changes float32 rounding.

export { mulberry32, product } from '../helpers'
import { product } from '../helpers'

export const randomTensor = (rand: () => number, dtype: DType, shape: ReadonlyArray<number>): Tensor => {
  const size = product(shape)
  const data: TypedArray =
    dtype === 'float32'
      ? new Float32Array(size)
      : dtype === 'float64'
        ? new Float64Array(size)
        : new Int32Array(size)
  for (let i = 0; i < size; i++) data[i] = dtype === 'int32' ? Math.floor(rand() * 19) - 9 : rand() * 2 - 1
  return unsafeTensor(dtype, shape, data)
}

/**
 * Asserts `actual` equals `expected` elementwise within `rtol · scale[i]` (plus a tiny absolute
 * floor), reporting the first failing index.
 */
export const expectClose = (
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  scale: ArrayLike<number>,
  rtol = 1e-4,
): void => {
  expect(actual.length).toBe(expected.length)
  for (let i = 0; i < expected.length; i++) {
    const tolerance = rtol * scale[i]! + 1e-6
    if (!(Math.abs(actual[i]! - expected[i]!) <= tolerance)) {
      expect({ index: i, value: actual[i] }).toEqual({ index: i, value: expected[i] })
    }
  }
}
