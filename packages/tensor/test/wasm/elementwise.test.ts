import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { referenceBackend } from '../../src/backends/reference/index'
import { wasmBackend } from '../../src/backends/wasm/index'
import { wasmReluFloat32 } from '../../src/backends/wasm/elementwise'
import { unsafeTensor } from '../../src/tensor'

// relu on wasm must equal the reference bit for bit, NaN and signed zero included.

const naiveRelu = (values: Float32Array): number[] =>
  Array.from(values, (v) => (Number.isNaN(v) ? NaN : v > 0 ? v : 0))

describe('wasm relu (float32)', () => {
  it('equals max(x, 0) exactly for every length 0..70 (vector body and scalar tail), NaN and -0 included', () => {
    for (let size = 0; size <= 70; size++) {
      const values = Float32Array.from(
        { length: size },
        (_, i) => [NaN, -0, 0, -1.5, 2.25, -Infinity, Infinity][i % 7]! * (i + 1),
      )
      const x = unsafeTensor('float32', [size], values)
      const copy = values.slice()
      const y = wasmReluFloat32(x)
      expect(y.dtype).toBe('float32')
      expect(y.shape).toEqual([size])
      expect(Array.from(y.data)).toEqual(naiveRelu(values))
      // +0, never -0, as Math.max(-0, 0) gives.
      y.data.forEach((v) => expect(Object.is(v, -0)).toBe(false))
      expect(x.data).toEqual(copy)
    }
  })

  it('agrees with the reference backend on random data through wasmBackend.unary (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ noDefaultInfinity: false }), { minLength: 0, maxLength: 2000 }),
        (values) => {
          const x = unsafeTensor('float32', [values.length], Float32Array.from(values))
          expect(Array.from(wasmBackend.unary('relu', x, 'float32').data)).toEqual(
            Array.from(referenceBackend.unary('relu', x, 'float32').data),
          )
        },
      ),
      { numRuns: 50 },
    )
  })

  it('leaves other ops and dtypes to the reference', () => {
    const x = unsafeTensor(
      'int32',
      [300],
      Int32Array.from({ length: 300 }, (_, i) => i - 150),
    )
    expect(wasmBackend.unary('relu', x, 'int32').data).toEqual(
      referenceBackend.unary('relu', x, 'int32').data,
    )
    const f = unsafeTensor(
      'float32',
      [300],
      Float32Array.from({ length: 300 }, (_, i) => i / 30 - 5),
    )
    expect(wasmBackend.unary('exp', f, 'float32').data).toEqual(
      referenceBackend.unary('exp', f, 'float32').data,
    )
  })
})
