import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import * as init from '../src/init/index'
import type { Initializer } from '../src/init/index'

const key = (seed: number): T.Key => T.random.key(seed)

const stats = (x: Tensor): { mean: number; std: number; min: number; max: number } => {
  let sum = 0
  let min = Infinity
  let max = -Infinity
  for (const v of x.data) {
    sum += v
    if (v < min) min = v
    if (v > max) max = v
  }
  const mean = sum / x.data.length
  let ss = 0
  for (const v of x.data) ss += (v - mean) ** 2
  return { mean, std: Math.sqrt(ss / x.data.length), min, max }
}

/** |actual / expected − 1| <= rel */
const expectRatio = (actual: number, expected: number, rel: number): void => {
  expect(Math.abs(actual / expected - 1), `${actual} vs ${expected}`).toBeLessThanOrEqual(rel)
}

describe('computeFans', () => {
  it('follows PyTorch for dense [out, in] and conv OIHW, Keras for vectors', () => {
    expect(init.computeFans([10, 784])).toEqual({ fanIn: 784, fanOut: 10 })
    expect(init.computeFans([16, 3, 5, 5])).toEqual({ fanIn: 75, fanOut: 400 })
    expect(init.computeFans([8, 4, 3])).toEqual({ fanIn: 12, fanOut: 24 })
    expect(init.computeFans([7])).toEqual({ fanIn: 7, fanOut: 7 })
    expect(init.computeFans([])).toEqual({ fanIn: 1, fanOut: 1 })
  })

  it('fanIn · out = fanOut · in for every weight shape (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 2, maxLength: 5 }), (shape) => {
        const { fanIn, fanOut } = init.computeFans(shape)
        const receptive = shape.slice(2).reduce((a, b) => a * b, 1)
        expect(fanIn).toBe(shape[1]! * receptive)
        expect(fanOut).toBe(shape[0]! * receptive)
      }),
    )
  })
})

describe('constant initialisers', () => {
  it('zeros, ones and constant fill the shape in the dtype', () => {
    expect(Array.from(init.zeros(key(0), [2, 2]).data)).toEqual([0, 0, 0, 0])
    const ones = init.ones(key(0), [3], 'int32')
    expect(ones.dtype).toBe('int32')
    expect(Array.from(ones.data)).toEqual([1, 1, 1])
    const c = init.constant(0.25)(key(0), [2], 'float64')
    expect(c.dtype).toBe('float64')
    expect(c.shape).toEqual([2])
    expect(Array.from(c.data)).toEqual([0.25, 0.25])
    expect(init.zeros(key(0), [2]).dtype).toBe('float32')
  })

  it('reject bad shapes', () => {
    expect(() => init.zeros(key(0), [-1])).toThrow(T.ValueError)
    expect(() => init.ones(key(0), [1.5])).toThrow(T.ValueError)
  })
})

describe('random initialisers', () => {
  const shape = [400, 500] // fanIn 500, fanOut 400, 200 000 samples

  it('are deterministic in the key and differ across keys', () => {
    for (const f of [init.heNormal, init.glorotUniform, init.normal(), init.uniform(), init.torchDefault]) {
      const a = f(key(1), [20, 30])
      expect(Array.from(a.data)).toEqual(Array.from(f(key(1), [20, 30]).data))
      expect(Array.from(a.data)).not.toEqual(Array.from(f(key(2), [20, 30]).data))
    }
  })

  const cases: ReadonlyArray<{
    name: string
    f: Initializer
    std: number
    bound?: number
  }> = [
    {
      name: 'heNormal',
      f: init.heNormal,
      std: Math.sqrt(2 / 500),
      bound: (2 * Math.sqrt(2 / 500)) / 0.8796256610342398,
    },
    {
      name: 'heUniform',
      f: init.heUniform,
      std: Math.sqrt(6 / 500) / Math.sqrt(3),
      bound: Math.sqrt(6 / 500),
    },
    {
      name: 'glorotNormal',
      f: init.glorotNormal,
      std: Math.sqrt(2 / 900),
      bound: (2 * Math.sqrt(2 / 900)) / 0.8796256610342398,
    },
    {
      name: 'glorotUniform',
      f: init.glorotUniform,
      std: Math.sqrt(6 / 900) / Math.sqrt(3),
      bound: Math.sqrt(6 / 900),
    },
    {
      name: 'lecunNormal',
      f: init.lecunNormal,
      std: Math.sqrt(1 / 500),
      bound: (2 * Math.sqrt(1 / 500)) / 0.8796256610342398,
    },
    { name: 'lecunUniform', f: init.lecunUniform, std: Math.sqrt(1 / 500), bound: Math.sqrt(3 / 500) },
    {
      name: 'torchDefault',
      f: init.torchDefault,
      std: 1 / Math.sqrt(500) / Math.sqrt(3),
      bound: 1 / Math.sqrt(500),
    },
    {
      name: 'kaimingUniform a=0',
      f: init.kaimingUniform(),
      std: Math.sqrt(2 / 500),
      bound: Math.sqrt(6 / 500),
    },
    {
      name: 'varianceScaling normal fanOut',
      f: init.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal' }),
      std: Math.sqrt(2 / 400),
    },
    { name: 'normal default', f: init.normal(), std: 0.01 },
    { name: 'normal std 0.5', f: init.normal({ std: 0.5 }), std: 0.5 },
    { name: 'uniform default', f: init.uniform(), std: 0.1 / Math.sqrt(12), bound: 0.05 },
    {
      name: 'truncatedNormal',
      f: init.truncatedNormal({ std: 0.2 }),
      std: 0.2 * 0.8796256610342398,
      bound: 0.4,
    },
  ]

  for (const { name, f, std, bound } of cases) {
    it(`${name}: mean ≈ 0, std ≈ ${std.toPrecision(3)}${bound === undefined ? '' : ', inside the bound'}`, () => {
      const x = f(key(7), shape)
      expect(x.shape).toEqual(shape)
      expect(x.dtype).toBe('float32')
      const s = stats(x)
      expect(Math.abs(s.mean)).toBeLessThan(0.01 * std + 1e-12)
      expectRatio(s.std, std, 0.01)
      if (bound !== undefined) {
        expect(s.max).toBeLessThanOrEqual(bound * (1 + 1e-6))
        expect(s.min).toBeGreaterThanOrEqual(-bound * (1 + 1e-6))
        // The samples reach the ends of the range.
        expect(s.max).toBeGreaterThan(0.95 * bound)
        expect(s.min).toBeLessThan(-0.95 * bound)
      }
    })
  }

  it('compute conv fans from OIHW shapes', () => {
    // fanIn = I·kh·kw = 8·3·3 = 72
    const w = stats(init.heNormal(key(3), [512, 8, 3, 3]))
    expectRatio(w.std, Math.sqrt(2 / 72), 0.02)
  })

  it('use the fans a layer passes, so a bias can scale like its weight', () => {
    const bias = init.torchDefault(key(4), [20000], 'float32', { fanIn: 16, fanOut: 20000 })
    const s = stats(bias)
    expect(s.max).toBeLessThanOrEqual(0.25)
    expect(s.max).toBeGreaterThan(0.24)
    expectRatio(s.std, 0.25 / Math.sqrt(3), 0.02)
  })

  it('produce float64 on request', () => {
    const x = init.heNormal(key(5), [300, 100], 'float64')
    expect(x.dtype).toBe('float64')
    expectRatio(stats(x).std, Math.sqrt(2 / 100), 0.02)
  })

  it('reject int32, bad options and bad shapes with typed errors', () => {
    expect(() => init.heNormal(key(0), [2, 2], 'int32')).toThrow(T.DTypeError)
    expect(() => init.normal()(key(0), [2], 'int32')).toThrow(/float32/)
    expect(() => init.normal({ std: -1 })(key(0), [2])).toThrow(T.ValueError)
    expect(() => init.uniform({ min: 1, max: 0 })(key(0), [2])).toThrow(/min/)
    expect(() =>
      init.varianceScaling({ scale: -1, mode: 'fanIn', distribution: 'normal' })(key(0), [2, 2]),
    ).toThrow(T.ValueError)
    expect(() => init.glorotUniform(key(0), [2, -2])).toThrow(T.ValueError)
  })

  it('handle empty shapes and zero scale', () => {
    expect(init.heNormal(key(0), [0, 5]).shape).toEqual([0, 5])
    expect(init.glorotUniform(key(0), [3, 0]).data.length).toBe(0)
    const zero = init.varianceScaling({ scale: 0, mode: 'fanIn', distribution: 'uniform' })(key(0), [3])
    expect(Array.from(zero.data)).toEqual([0, 0, 0])
    expect(Array.from(init.uniform({ min: 2, max: 2 })(key(0), [2]).data)).toEqual([2, 2])
  })
})
