import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import {
  huber,
  l1Penalty,
  l2Penalty,
  meanSquaredError,
  quadraticCost,
  sigmoidBinaryCrossEntropy,
  crossEntropy,
  weightsOnly,
} from '../src/losses/index'
import { make } from './helpers'

// ---------------------------------------------------------------------------------------------
// helpers: tensors from plain numbers, and plain-number references written from the definitions

const labelsOf = (values: ReadonlyArray<number>): Tensor => make([values.length], values, 'int32')
const valuesOf = (x: Tensor): number[] => Array.from(x.data)
const scalarOf = (x: Tensor): number => {
  expect(x.shape).toEqual([])
  return x.data[0]!
}
/** Max |a − b| / max(1, |b|): absolute near zero, relative for large values. */
const maxError = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  expect(a.length).toBe(b.length)
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!) / Math.max(1, Math.abs(b[i]!))), 0)
}
const rows = (values: ReadonlyArray<number>, cols: number): number[][] =>
  Array.from({ length: values.length / cols }, (_, i) => values.slice(i * cols, (i + 1) * cols))

/** Deterministic values in [lo, hi) for test inputs (a fixed LCG; the tests must not depend on other kernels). */
const sample = (count: number, seed: number, lo = -2, hi = 2): number[] => {
  let state = seed >>> 0
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return lo + ((hi - lo) * state) / 2 ** 32
  })
}

/** log Σ exp, computed stably in the test. */
const logSumExp = (row: ReadonlyArray<number>): number => {
  const m = Math.max(...row)
  return m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0))
}
const softmaxRow = (row: ReadonlyArray<number>): number[] => {
  const lse = logSumExp(row)
  return row.map((v) => Math.exp(v - lse))
}
/** Mean over examples of −Σ_c q_c log softmax(z)_c. */
const crossEntropyReference = (logits: number[][], targets: number[][]): number =>
  logits.reduce((s, z, i) => {
    const lse = logSumExp(z)
    return s - z.reduce((acc, zc, c) => acc + targets[i]![c]! * (zc - lse), 0)
  }, 0) / logits.length
const oneHotRows = (labels: ReadonlyArray<number>, classes: number): number[][] =>
  labels.map((l) => Array.from({ length: classes }, (_, c) => (c === l ? 1 : 0)))
const smooth = (targets: number[][], alpha: number): number[][] =>
  targets.map((row) => row.map((q) => (1 - alpha) * q + alpha / row.length))
const σ = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))

// ---------------------------------------------------------------------------------------------

describe('meanSquaredError', () => {
  it('is the mean over all elements of (pred − target)², in float32 and float64', () => {
    const pred = sample(12, 1)
    const target = sample(12, 2)
    let total = 0
    for (let i = 0; i < 12; i++) total += (pred[i]! - target[i]!) ** 2
    const expected = total / 12
    expect(scalarOf(meanSquaredError(make([3, 4], pred), make([3, 4], target)))).toBeCloseTo(expected, 12)
    const single = meanSquaredError(make([3, 4], pred, 'float32'), make([3, 4], target, 'float32'))
    expect(single.dtype).toBe('float32')
    expect(scalarOf(single)).toBeCloseTo(expected, 5)
  })

  it('has gradient 2 (pred − target) / size', () => {
    const pred = make([2, 3], sample(6, 3))
    const target = make([2, 3], sample(6, 4))
    const g = O.grad((p: Tensor) => meanSquaredError(p, target))(pred)
    const expected = valuesOf(pred).map((p, i) => (2 * (p - target.data[i]!)) / 6)
    expect(maxError(valuesOf(g), expected)).toBeLessThan(1e-14)
  })

  it('refuses to broadcast [N, 1] against [N]', () => {
    expect(() => meanSquaredError(make([3, 1], [1, 2, 3]), make([3], [1, 2, 3]))).toThrow(T.ShapeError)
    expect(() => meanSquaredError(make([3, 1], [1, 2, 3]), make([3], [1, 2, 3]))).toThrow(/\[3,1\].*\[3\]/)
  })
})

describe('quadraticCost', () => {
  it('is 1/(2n) Σ_examples ||y − a||² with n the batch size, not the element count', () => {
    const a = sample(15, 5)
    const y = sample(15, 6)
    const n = 5
    let total = 0
    for (const [i, row] of rows(a, 3).entries()) {
      let squaredNorm = 0
      row.forEach((aj, j) => (squaredNorm += (y[i * 3 + j]! - aj) ** 2))
      total += squaredNorm
    }
    const expected = total / (2 * n)
    expect(scalarOf(quadraticCost(make([5, 3], a), make([5, 3], y)))).toBeCloseTo(expected, 13)
    // meanSquaredError divides by the element count (15), not by 2n (10)
    expect(scalarOf(meanSquaredError(make([5, 3], a), make([5, 3], y)))).not.toBeCloseTo(expected, 3)
  })

  it('has the output error ∇_a C = (a − y) / n', () => {
    const a = make([4, 2], sample(8, 7))
    const y = make([4, 2], sample(8, 8))
    const g = O.grad((x: Tensor) => quadraticCost(x, y))(a)
    const expected = valuesOf(a).map((v, i) => (v - y.data[i]!) / 4)
    expect(maxError(valuesOf(g), expected)).toBeLessThan(1e-14)
  })

  it('rejects scalars, empty batches and mismatched shapes', () => {
    expect(() => quadraticCost(make([], [1]), make([], [1]))).toThrow(T.ShapeError)
    expect(() => quadraticCost(make([0, 3], []), make([0, 3], []))).toThrow(T.ValueError)
    expect(() => quadraticCost(make([2, 2], [1, 2, 3, 4]), make([4], [1, 2, 3, 4]))).toThrow(T.ShapeError)
  })
})

describe('crossEntropy', () => {
  const logitValues = sample(12, 9, -3, 3)
  const logits = make([4, 3], logitValues)
  const labels = [2, 0, 1, 2]

  it('with int32 class indices equals the mean over the batch of −log softmax(z)[label]', () => {
    const expected = crossEntropyReference(rows(logitValues, 3), oneHotRows(labels, 3))
    expect(scalarOf(crossEntropy(logits, labelsOf(labels)))).toBeCloseTo(expected, 13)
  })

  it('with float one-hot labels gives the same value, and soft labels their own', () => {
    const oneHot = oneHotRows(labels, 3)
    const expected = crossEntropyReference(rows(logitValues, 3), oneHot)
    expect(scalarOf(crossEntropy(logits, make([4, 3], oneHot.flat())))).toBeCloseTo(expected, 13)
    const soft = [
      [0.2, 0.3, 0.5],
      [1, 0, 0],
      [0.1, 0.8, 0.1],
      [0.25, 0.25, 0.5],
    ]
    const softExpected = crossEntropyReference(rows(logitValues, 3), soft)
    expect(scalarOf(crossEntropy(logits, make([4, 3], soft.flat())))).toBeCloseTo(softExpected, 13)
  })

  it('applies label smoothing (1 − α) q + α / C to index and soft labels alike', () => {
    const alpha = 0.1
    const expected = crossEntropyReference(rows(logitValues, 3), smooth(oneHotRows(labels, 3), alpha))
    const plain = scalarOf(crossEntropy(logits, labelsOf(labels)))
    const smoothed = scalarOf(crossEntropy(logits, labelsOf(labels), { labelSmoothing: alpha }))
    expect(smoothed).toBeCloseTo(expected, 13)
    expect(smoothed).not.toBeCloseTo(plain, 3)
    const fromOneHot = crossEntropy(logits, make([4, 3], oneHotRows(labels, 3).flat()), {
      labelSmoothing: alpha,
    })
    expect(scalarOf(fromOneHot)).toBeCloseTo(expected, 13)
  })

  it('has gradient (softmax(z) − q) / N w.r.t. the logits, smoothing included', () => {
    const alpha = 0.2
    const g = O.grad((z: Tensor) => crossEntropy(z, labelsOf(labels), { labelSmoothing: alpha }))(logits)
    const targets = smooth(oneHotRows(labels, 3), alpha)
    const expected = rows(logitValues, 3).flatMap((z, i) =>
      softmaxRow(z).map((p, c) => (p - targets[i]![c]!) / 4),
    )
    expect(maxError(valuesOf(g), expected)).toBeLessThan(1e-14)
  })

  it('is finite and exact for logits of ±1000, with finite gradients', () => {
    const big = make([3, 3], [1000, -1000, 0, -1000, 1000, 1000, 0, 0, -1000])
    const bigLabels = labelsOf([0, 0, 2])
    // example 0: logsumexp ≈ 1000, loss ≈ 0; example 1: logsumexp = 1000 + log 2, loss = 2000 + log 2;
    // example 2: logsumexp = log 2 (+ e^-1000), loss = log 2 + 1000
    const expected = (0 + (2000 + Math.log(2)) + (Math.log(2) + 1000)) / 3
    const value = scalarOf(crossEntropy(big, bigLabels))
    expect(Number.isFinite(value)).toBe(true)
    expect(value).toBeCloseTo(expected, 9)
    const g = O.grad((z: Tensor) => crossEntropy(z, bigLabels, { labelSmoothing: 0.1 }))(big)
    expect(valuesOf(g).every(Number.isFinite)).toBe(true)
    const targets = smooth(oneHotRows([0, 0, 2], 3), 0.1)
    const expectedGrad = rows(valuesOf(big), 3).flatMap((z, i) =>
      softmaxRow(z).map((p, c) => (p - targets[i]![c]!) / 3),
    )
    expect(maxError(valuesOf(g), expectedGrad)).toBeLessThan(1e-14)
    const single = crossEntropy(make([3, 3], valuesOf(big), 'float32'), bigLabels)
    expect(scalarOf(single)).toBeCloseTo(expected, 2)
  })

  it('rejects labels out of range, naming the example, and mismatched shapes or dtypes', () => {
    expect(() => crossEntropy(logits, labelsOf([0, 3, 1, 2]))).toThrow(T.ValueError)
    expect(() => crossEntropy(logits, labelsOf([0, 3, 1, 2]))).toThrow(/labels\[1\] is 3/)
    expect(() => crossEntropy(logits, labelsOf([0, -1, 1, 2]))).toThrow(T.ValueError)
    expect(() => crossEntropy(logits, labelsOf([0, 1, 2]))).toThrow(T.ShapeError)
    expect(() => crossEntropy(logits, make([4], [0, 1, 2, 0]))).toThrow(T.ShapeError)
    expect(() => crossEntropy(make([12], logitValues), labelsOf(labels))).toThrow(T.ShapeError)
    expect(() => crossEntropy(logits, labelsOf(labels), { labelSmoothing: 1.5 })).toThrow(T.ValueError)
  })
})

describe('sigmoidBinaryCrossEntropy', () => {
  it('equals the mean of max(x,0) − x·t + log1p(exp(−|x|)) and of −t log σ − (1−t) log(1−σ)', () => {
    const x = sample(10, 11, -4, 4)
    const t = sample(10, 12, 0, 1)
    let stable = 0
    let naive = 0
    for (let i = 0; i < 10; i++) {
      const xi = x[i]!
      const ti = t[i]!
      stable += Math.max(xi, 0) - xi * ti + Math.log1p(Math.exp(-Math.abs(xi)))
      naive += -ti * Math.log(σ(xi)) - (1 - ti) * Math.log(1 - σ(xi))
    }
    const value = scalarOf(sigmoidBinaryCrossEntropy(make([2, 5], x), make([2, 5], t)))
    expect(value).toBeCloseTo(stable / 10, 13)
    expect(value).toBeCloseTo(naive / 10, 12)
  })

  it('is exact and finite at logits ±1000, in float32 too', () => {
    const x = [1000, -1000, 1000, -1000]
    const t = [1, 0, 0, 1]
    const expected = (0 + 0 + 1000 + 1000) / 4
    expect(scalarOf(sigmoidBinaryCrossEntropy(make([4], x), make([4], t)))).toBe(expected)
    expect(scalarOf(sigmoidBinaryCrossEntropy(make([4], x, 'float32'), make([4], t, 'float32')))).toBe(
      expected,
    )
    const g = O.grad((z: Tensor) => sigmoidBinaryCrossEntropy(z, make([4], t)))(make([4], x))
    expect(valuesOf(g)).toEqual([0, 0, 0.25, -0.25])
  })

  it('has gradient (σ(x) − t) / size everywhere, including x = 0', () => {
    const x = [0, 0, 0.5, -2, 3]
    const t = [1, 0, 0.3, 1, 0]
    const g = O.grad((z: Tensor) => sigmoidBinaryCrossEntropy(z, make([5], t)))(make([5], x))
    const expected = x.map((xi, i) => (σ(xi) - t[i]!) / 5)
    expect(maxError(valuesOf(g), expected)).toBeLessThan(1e-15)
  })

  it('accepts int32 0/1 targets and rejects mismatched shapes', () => {
    const x = [0.3, -1.2, 2]
    const asInt = scalarOf(sigmoidBinaryCrossEntropy(make([3], x), make([3], [1, 0, 1], 'int32')))
    const asFloat = scalarOf(sigmoidBinaryCrossEntropy(make([3], x), make([3], [1, 0, 1])))
    expect(asInt).toBe(asFloat)
    expect(() => sigmoidBinaryCrossEntropy(make([3, 1], x), make([3], x))).toThrow(T.ShapeError)
  })
})

describe('huber', () => {
  const reference = (pred: ReadonlyArray<number>, target: ReadonlyArray<number>, delta: number): number => {
    let total = 0
    for (let i = 0; i < pred.length; i++) {
      const d = Math.abs(pred[i]! - target[i]!)
      total += d <= delta ? 0.5 * d * d : delta * (d - 0.5 * delta)
    }
    return total / pred.length
  }

  it('is ½d² inside δ and δ(|d| − ½δ) outside, averaged', () => {
    const pred = sample(9, 13, -3, 3)
    const target = sample(9, 14, -3, 3)
    for (const delta of [1, 0.5, 2.5]) {
      const value = huber(make([3, 3], pred), make([3, 3], target), { delta })
      expect(scalarOf(value)).toBeCloseTo(reference(pred, target, delta), 13)
    }
    expect(scalarOf(huber(make([2], [0.5, 3]), make([2], [0, 0])))).toBe((0.125 + 2.5) / 2)
  })

  it('has gradient clip(d, −δ, δ) / size', () => {
    const pred = make([6], [-3, -0.5, 0, 0.2, 1.5, 4])
    const target = make([6], [0, 0, 0, 0, 0, 0])
    const g = O.grad((p: Tensor) => huber(p, target, { delta: 1 }))(pred)
    expect(
      maxError(
        valuesOf(g),
        [-1, -0.5, 0, 0.2, 1, 1].map((v) => v / 6),
      ),
    ).toBeLessThan(1e-15)
  })

  it('rejects a non-positive delta', () => {
    expect(() => huber(make([1], [1]), make([1], [0]), { delta: 0 })).toThrow(T.ValueError)
    expect(() => huber(make([1], [1]), make([1], [0]), { delta: -1 })).toThrow(T.ValueError)
  })

  it('matches the reference on random inputs (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 8 }),
        fc.double({ min: 0.1, max: 5, noNaN: true }),
        (pred, delta) => {
          const target = pred.map((_, i) => Math.sin(i))
          const value = scalarOf(huber(make([pred.length], pred), make([pred.length], target), { delta }))
          expect(value).toBeCloseTo(reference(pred, target, delta), 10)
        },
      ),
      { numRuns: 50 },
    )
  })
})

describe('l2Penalty and l1Penalty', () => {
  // A network-shaped tree: two dense layers (PyTorch names), a batch norm whose scale is also named
  // `weight` (a vector), and a custom matrix not named weight.
  const params = {
    layers: [
      { weight: make([2, 3], [1, -2, 3, -4, 5, -6]), bias: make([2], [7, -8]) },
      { weight: make([1, 2], [0.5, -1.5]), bias: make([1], [9]) },
    ],
    norm: { weight: make([2], [10, 20]), bias: make([2], [30, 40]) },
    projection: make([2, 2], [0.1, 0.2, 0.3, 0.4]),
  }
  const denseWeights = [1, -2, 3, -4, 5, -6, 0.5, -1.5]
  const lambda = 0.3

  it('selects layer weights only by default: not biases, not norm scales, not other names', () => {
    expect(weightsOnly('layers.0.weight', params.layers[0]!.weight)).toBe(true)
    expect(weightsOnly('layers.0.bias', params.layers[0]!.bias)).toBe(false)
    expect(weightsOnly('norm.weight', params.norm.weight)).toBe(false)
    expect(weightsOnly('projection', params.projection)).toBe(false)
    const expectedL2 = (lambda / 2) * denseWeights.reduce((s, w) => s + w * w, 0)
    const expectedL1 = lambda * denseWeights.reduce((s, w) => s + Math.abs(w), 0)
    expect(scalarOf(l2Penalty(params, lambda))).toBeCloseTo(expectedL2, 13)
    expect(scalarOf(l1Penalty(params, lambda))).toBeCloseTo(expectedL1, 13)
  })

  it('honours include (by name) and can select every parameter', () => {
    const onlyProjection = l2Penalty(params, lambda, { include: (name) => name === 'projection' })
    expect(scalarOf(onlyProjection)).toBeCloseTo((lambda / 2) * (0.01 + 0.04 + 0.09 + 0.16), 14)
    const all = [...denseWeights, 7, -8, 9, 10, 20, 30, 40, 0.1, 0.2, 0.3, 0.4]
    expect(scalarOf(l1Penalty(params, lambda, { include: () => true }))).toBeCloseTo(
      lambda * all.reduce((s, w) => s + Math.abs(w), 0),
      12,
    )
    expect(scalarOf(l2Penalty(params, lambda, { include: () => false }))).toBe(0)
  })

  it('adds λ w (L2) and λ sign(w) (L1) to the selected gradients only', () => {
    const gradL2 = O.grad((p: typeof params) => l2Penalty(p, lambda))(params)
    expect(
      maxError(
        valuesOf(gradL2.layers[0]!.weight),
        [1, -2, 3, -4, 5, -6].map((w) => lambda * w),
      ),
    ).toBeLessThan(1e-15)
    expect(valuesOf(gradL2.layers[0]!.bias)).toEqual([0, 0])
    expect(valuesOf(gradL2.norm.weight)).toEqual([0, 0])
    expect(valuesOf(gradL2.projection)).toEqual([0, 0, 0, 0])
    const gradL1 = O.grad((p: typeof params) => l1Penalty(p, lambda))(params)
    expect(valuesOf(gradL1.layers[1]!.weight)).toEqual([lambda, -lambda])
    expect(valuesOf(gradL1.layers[1]!.bias)).toEqual([0])
  })

  it('rejects a negative or non-finite λ', () => {
    expect(() => l2Penalty(params, -1)).toThrow(T.ValueError)
    expect(() => l1Penalty(params, Number.NaN)).toThrow(T.ValueError)
  })
})
