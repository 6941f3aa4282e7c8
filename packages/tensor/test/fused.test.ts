import { afterAll, describe, expect, it } from 'vitest'
import {
  adamApply,
  adamUpdate,
  axpy,
  DTypeError,
  greater,
  random,
  referenceBackend,
  reluGrad,
  setBackend,
  softmaxCrossEntropyGrad,
  softmaxCrossEntropyLoss,
  ShapeError,
  tensor,
  ValueError,
  wasmAvailable,
  wasmBackend,
  where,
  type Tensor,
} from '../src/index'
import { backends } from './backends'

// The fused kernels must give what their unfused definitions give, on every backend: exactly where
// the unfused form rounds once too (reluGrad), to one rounding of float64 arithmetic otherwise.
afterAll(() => setBackend(referenceBackend))

const draw = (seed: number, shape: number[], dtype: 'float32' | 'float64' = 'float32'): Tensor =>
  random.normal(random.key(seed), shape, { dtype })
const values = (t: Tensor): number[] => Array.from(t.data)

for (const [name, backend] of backends) {
  describe(`fused kernels on the ${name} backend`, () => {
    it('axpy is alpha·x + y rounded once, for float32 and float64 and odd sizes', () => {
      setBackend(backend)
      for (const dtype of ['float32', 'float64'] as const)
        for (const size of [0, 1, 7, 33, 1000]) {
          const x = draw(size, [size], dtype)
          const y = draw(size + 1, [size], dtype)
          const out = axpy(-0.37, x, y)
          expect(out.dtype).toBe(dtype)
          expect(out.shape).toEqual([size])
          const expected = values(x).map((xi, i) => -0.37 * xi + y.data[i]!)
          const rounded = dtype === 'float32' ? Array.from(Float32Array.from(expected)) : expected
          expect(values(out)).toEqual(rounded)
        }
    })

    it('reluGrad equals where(y > 0, ct, 0) bit for bit, NaN and zeros included', () => {
      setBackend(backend)
      const ct = draw(3, [4, 5])
      const y = draw(4, [4, 5])
      expect(values(reluGrad(ct, y))).toEqual(values(where(greater(y, 0), ct, 0)))
      const edge = reluGrad(tensor([1, 2, 3, 4]), tensor([0, -0, NaN, 1e-30]))
      expect(values(edge)).toEqual([0, 0, 0, 4])
    })

    it('adamUpdate matches the float64 formulas, the update read off the rounded moments', () => {
      setBackend(backend)
      const hyper = {
        b1: 0.9,
        b2: 0.999,
        eps: 1e-8,
        epsRoot: 1e-12,
        muCorrection: 1 - 0.9 ** 3,
        nuCorrection: 1 - 0.999 ** 3,
      }
      const g = draw(5, [3, 7])
      const m = draw(6, [3, 7])
      const v = random.uniform(random.key(7), [3, 7])
      const { mu, nu, update } = adamUpdate(g, m, v, hyper)
      const f32 = (x: number): number => Math.fround(x)
      const gs = values(g)
      const expectedMu = gs.map((gi, i) => f32(0.9 * m.data[i]! + 0.1 * gi))
      const expectedNu = gs.map((gi, i) => f32(0.999 * v.data[i]! + (1 - 0.999) * gi * gi))
      const expectedUpdate = expectedMu.map((mi, i) =>
        f32(
          ((1 / hyper.muCorrection) * mi) /
            (Math.sqrt((1 / hyper.nuCorrection) * expectedNu[i]! + 1e-12) + 1e-8),
        ),
      )
      expect(values(mu)).toEqual(expectedMu)
      expect(values(nu)).toEqual(expectedNu)
      expect(values(update)).toEqual(expectedUpdate)
      for (const t of [mu, nu, update]) {
        expect(t.shape).toEqual([3, 7])
        expect(t.dtype).toBe('float32')
      }
      // A scale (−lr) multiplies the float64 update before its one rounding.
      const scaled = adamUpdate(g, m, v, { ...hyper, scale: -0.01 }).update
      const unscaled = expectedMu.map(
        (mi, i) =>
          ((1 / hyper.muCorrection) * mi) /
          (Math.sqrt((1 / hyper.nuCorrection) * expectedNu[i]! + 1e-12) + 1e-8),
      )
      values(scaled).forEach((u, i) =>
        expect(Math.abs(u - -0.01 * unscaled[i]!)).toBeLessThanOrEqual(1e-7 * Math.abs(u)),
      )
      // adamApply: the parameters plus that scaled update, rounded once; the same moments.
      const p = draw(9, [3, 7])
      const applied = adamApply(p, g, m, v, { ...hyper, scale: -0.01 })
      expect(values(applied.mu)).toEqual(expectedMu)
      expect(values(applied.nu)).toEqual(expectedNu)
      const expectedParams = expectedMu.map((mi, i) =>
        f32(
          p.data[i]! +
            ((-0.01 / hyper.muCorrection) * mi) /
              (Math.sqrt((1 / hyper.nuCorrection) * expectedNu[i]! + 1e-12) + 1e-8),
        ),
      )
      values(applied.params).forEach((x, i) =>
        expect(Math.abs(x - expectedParams[i]!)).toBeLessThanOrEqual(1e-7 * Math.abs(x)),
      )
      // Inputs untouched (the kernels allocate their outputs).
      expect(values(g)).toEqual(values(draw(5, [3, 7])))
    })

    it("adamUpdate at step 1 from zero moments moves every parameter by about ±1 (Adam's sign-like first step)", () => {
      setBackend(backend)
      const g = tensor([0.5, -2, 1e-3], 'float64')
      const zero = tensor([0, 0, 0], 'float64')
      const { update } = adamUpdate(g, zero, zero, {
        b1: 0.9,
        b2: 0.999,
        eps: 0,
        epsRoot: 0,
        muCorrection: 0.1,
        nuCorrection: 0.001,
      })
      values(update).forEach((u, i) => expect(u).toBeCloseTo(Math.sign(g.data[i]!), 12))
    })
  })
}

describe('fused kernels reject bad input with a clear error', () => {
  const a = tensor([1, 2, 3])
  it('names mismatched shapes, dtypes and int32 operands', () => {
    expect(() => axpy(1, a, tensor([1, 2]))).toThrow(ShapeError)
    expect(() => axpy(1, a, tensor([1, 2]))).toThrow(/y has shape \[2\] and x \[3\]/)
    expect(() => axpy(1, a, tensor([1, 2, 3], 'float64'))).toThrow(DTypeError)
    expect(() => reluGrad(tensor([1, 2, 3], 'int32'), tensor([1, 2, 3], 'int32'))).toThrow(DTypeError)
    expect(() => reluGrad(a, tensor([[1, 2, 3]]))).toThrow(ShapeError)
    expect(() =>
      adamUpdate(a, a, tensor([1, 2]), {
        b1: 0.9,
        b2: 0.999,
        eps: 1e-8,
        epsRoot: 0,
        muCorrection: 0.1,
        nuCorrection: 0.001,
      }),
    ).toThrow(/v has shape/)
  })
  it('adamApply names a parameter tensor of the wrong shape', () => {
    const ok = { b1: 0.9, b2: 0.999, eps: 1e-8, epsRoot: 0, muCorrection: 0.1, nuCorrection: 0.001 }
    expect(() => adamApply(tensor([1, 2]), a, a, a, ok)).toThrow(/adamApply: p has shape \[2\]/)
  })
  it('rejects non-finite scalars and bias corrections outside (0, 1]', () => {
    const ok = { b1: 0.9, b2: 0.999, eps: 1e-8, epsRoot: 0, muCorrection: 0.1, nuCorrection: 0.001 }
    expect(() => axpy(NaN, a, a)).toThrow(ValueError)
    expect(() => adamUpdate(a, a, a, { ...ok, eps: Infinity })).toThrow(/eps must be a finite number/)
    expect(() => adamUpdate(a, a, a, { ...ok, muCorrection: 0 })).toThrow(/muCorrection must be in \(0, 1\]/)
    expect(() => adamUpdate(a, a, a, { ...ok, nuCorrection: 1.5 })).toThrow(ValueError)
  })
})

describe('wasm fused kernels equal the reference loops bit for bit', () => {
  // Sizes around the wasm threshold (64) and not multiples of the 4-lane / 2-lane steps, with
  // special values mixed in: the wasm kernels do the same float64 operations as the reference.
  const specials = [0, -0, NaN, Infinity, -Infinity, 1e-45, -3.4e38, 1]
  const mixed = (seed: number, n: number): Tensor => {
    const t = draw(seed, [n])
    const data = Float32Array.from(t.data)
    for (let i = 0; i < n; i += 7) data[i] = specials[(i / 7) % specials.length]!
    return tensor(Array.from(data))
  }
  const same = (a: Tensor, b: Tensor): void => {
    expect(a.shape).toEqual(b.shape)
    expect(a.dtype).toBe(b.dtype)
    const bs = Array.from(b.data)
    Array.from(a.data).forEach((x, i) => {
      if (!Object.is(x, bs[i])) expect.fail(`element ${i}: ${x} vs ${bs[i]}`)
    })
  }
  it.runIf(wasmAvailable()).each([63, 64, 65, 66, 67, 1001, 4099])('n = %i', (n) => {
    const [a, b, c] = [mixed(n, n), mixed(n + 1, n), random.uniform(random.key(n + 2), [n])]
    same(wasmBackend.reluGrad(a, b), referenceBackend.reluGrad(a, b))
    same(wasmBackend.axpy(-0.37, a, b), referenceBackend.axpy(-0.37, a, b))
    const hyper = {
      b1: 0.9,
      b2: 0.999,
      eps: 1e-8,
      epsRoot: 1e-12,
      muCorrection: 0.271,
      nuCorrection: 0.003,
      scale: -0.01,
    }
    const fast = wasmBackend.adamUpdate(a, b, c, hyper)
    const slow = referenceBackend.adamUpdate(a, b, c, hyper)
    fast.forEach((t, i) => same(t, slow[i]!))
    const p = mixed(n + 3, n)
    const fastApplied = wasmBackend.adamUpdate(a, b, c, hyper, p)
    const slowApplied = referenceBackend.adamUpdate(a, b, c, hyper, p)
    fastApplied.forEach((t, i) => same(t, slowApplied[i]!))
  })
})

describe('softmax cross-entropy kernels', () => {
  // Independent float64 definitions, row by row along the last axis.
  const naiveLoss = (logits: number[], labels: number[]): number => {
    const max = Math.max(...logits)
    const lse = max + Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0))
    return labels.reduce((s, y, j) => (y === 0 ? s : s + y * (lse - logits[j]!)), 0)
  }
  const naiveGrad = (c: number, logits: number[], labels: number[]): number[] => {
    const max = Math.max(...logits)
    const exps = logits.map((l) => Math.exp(l - max))
    const total = exps.reduce((s, e) => s + e, 0)
    const mass = labels.reduce((s, y) => s + y, 0)
    return exps.map((e, j) => c * ((e / total) * mass - labels[j]!))
  }
  const rowsOf = (t: Tensor): number[][] => {
    const classes = t.shape[t.shape.length - 1]!
    const v = values(t)
    return Array.from({ length: v.length / classes }, (_, r) => v.slice(r * classes, (r + 1) * classes))
  }

  for (const [name, backend] of backends) {
    it(`match the float64 definitions on the ${name} backend: ranks 1-3, soft labels, float32 and float64`, () => {
      setBackend(backend)
      for (const dtype of ['float64', 'float32'] as const)
        for (const shape of [[7], [5, 10], [2, 3, 4]]) {
          const logits = random.normal(random.key(shape.length), shape, { dtype })
          const labels = random.uniform(random.key(shape.length + 10), shape, { dtype })
          const ct = random.normal(random.key(shape.length + 20), shape.slice(0, -1), { dtype })
          const loss = softmaxCrossEntropyLoss(logits, labels)
          const grad = softmaxCrossEntropyGrad(ct, logits, labels)
          expect(loss.shape).toEqual(shape.slice(0, -1))
          expect(grad.shape).toEqual(shape)
          const tol = dtype === 'float64' ? 1e-12 : 1e-6
          const ls = rowsOf(logits)
          const ys = rowsOf(labels)
          values(loss).forEach((x, r) =>
            expect(Math.abs(x - naiveLoss(ls[r]!, ys[r]!))).toBeLessThanOrEqual(tol * 10),
          )
          rowsOf(grad).forEach((row, r) =>
            row.forEach((g, j) =>
              expect(Math.abs(g - naiveGrad(values(ct)[r]!, ls[r]!, ys[r]!)[j]!)).toBeLessThanOrEqual(tol),
            ),
          )
        }
    })
  }

  it('gives 0 for a masked class (logit −∞, label 0) and keeps large logits finite', () => {
    const loss = softmaxCrossEntropyLoss(tensor([[-Infinity, 0, 1000]]), tensor([[0, 0, 1]]))
    expect(values(loss)[0]).toBeCloseTo(0, 6)
    const grad = softmaxCrossEntropyGrad(tensor([1]), tensor([[-Infinity, 0, 1000]]), tensor([[0, 0, 1]]))
    expect(values(grad).every(Number.isFinite)).toBe(true)
  })

  it('rejects mismatched operands, scalar logits and a ct of the wrong shape', () => {
    expect(() => softmaxCrossEntropyLoss(tensor([[1, 2]]), tensor([[1, 0, 0]]))).toThrow(ShapeError)
    expect(() => softmaxCrossEntropyLoss(tensor(1), tensor(1))).toThrow(/scalar/)
    expect(() => softmaxCrossEntropyGrad(tensor([1, 2]), tensor([[1, 2]]), tensor([[1, 0]]))).toThrow(
      /ct has shape \[2\]/,
    )
  })
})
