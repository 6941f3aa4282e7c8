import { afterAll, describe, expect, it } from 'vitest'
import {
  add,
  fromFlat,
  linear,
  matmul,
  random,
  relu,
  setBackend,
  ShapeError,
  type Tensor,
} from '../src/index'
import { backends } from './backends'

// The fused dense kernel must give exactly what the unfused ops give (same product, then the same
// float adds and max in the same order), on every backend.

describe.each(backends)('linear on the %s backend', (_name, backend) => {
  afterAll(() => setBackend(undefined))
  it.each([
    [1, 1, 1],
    [3, 5, 4],
    [33, 70, 17],
    [128, 64, 130],
  ])('equals relu(x wᵀ + b) and x wᵀ + b for batch %i, in %i, out %i, both float dtypes', (m, k, n) => {
    setBackend(backend)
    for (const dtype of ['float32', 'float64'] as const) {
      const [kx, kw, kb] = random.split(random.key(m * 1000 + k * 10 + n), 3)
      const x = random.normal(kx, [m, k], { dtype })
      const w = random.normal(kw, [n, k], { dtype })
      const b = random.normal(kb, [n], { dtype })
      const z = add(matmul(x, w, { transposeB: true }), b)
      expect(linear(x, w, b).data).toEqual(z.data)
      expect(linear(x, w, b, 'relu').data).toEqual(relu(z).data)
      expect(linear(x, w, undefined, 'relu').data).toEqual(relu(matmul(x, w, { transposeB: true })).data)
      expect(linear(x, w).shape).toEqual([m, n])
    }
  })
  it('treats NaN, infinities and -0 as the unfused ops do (relu keeps NaN, maps -0 to 0)', () => {
    setBackend(backend)
    const [m, k, n] = [9, 13, 11] // m·n·k above the wasm threshold, sizes off the SIMD width
    const x = Float32Array.from(random.normal(random.key(7), [m, k]).data)
    const b = Float32Array.from(random.normal(random.key(8), [n]).data)
    x[0] = NaN
    x[k + 3] = Infinity
    b[2] = -Infinity
    b[5] = -0
    const xs = fromFlat(x, [m, k])
    const w = random.normal(random.key(9), [n, k])
    const bs = fromFlat(b, [n])
    if (xs._tag === 'Left' || bs._tag === 'Left') throw new Error('bad fixture')
    const z = add(matmul(xs.right, w, { transposeB: true }), bs.right)
    const same = (got: Tensor, want: Tensor): void =>
      Array.from(got.data).forEach((v, i) =>
        expect(Object.is(v, want.data[i]), `element ${i}: ${v} vs ${want.data[i]}`).toBe(true),
      )
    same(linear(xs.right, w, bs.right), z)
    same(linear(xs.right, w, bs.right, 'relu'), relu(z))
  })

  it('rejects bad shapes and activations with messages naming both', () => {
    setBackend(backend)
    const x = random.normal(random.key(1), [2, 3])
    expect(() => linear(x, random.normal(random.key(2), [4, 5]))).toThrow(ShapeError)
    expect(() => linear(x, random.normal(random.key(2), [4, 3]), random.normal(random.key(3), [3]))).toThrow(
      /b has shape \[3\]; expected \[4\]/,
    )
    expect(() => linear(random.normal(random.key(1), [3]), random.normal(random.key(2), [4, 3]))).toThrow(
      /expected x \[batch, in\]/,
    )
    // @ts-expect-error: only 'none' and 'relu' are fused
    expect(() => linear(x, random.normal(random.key(2), [4, 3]), undefined, 'tanh')).toThrow(/activation/)
  })
})
