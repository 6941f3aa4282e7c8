import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import { accuracy, confusionMatrix } from '../src/losses/index'

const make = (
  shape: ReadonlyArray<number>,
  values: ReadonlyArray<number>,
  dtype: DType = 'float32',
): Tensor => {
  const data = T.allocate(dtype, values.length)
  data.set(values)
  return T.unsafeTensor(dtype, shape, data)
}
const indices = (values: ReadonlyArray<number>): Tensor => make([values.length], values, 'int32')

/** Naive reference: first index of the row maximum, then the fraction equal to the label. */
const accuracyReference = (
  scores: ReadonlyArray<ReadonlyArray<number>>,
  labels: ReadonlyArray<number>,
): number => {
  let correct = 0
  scores.forEach((row, i) => {
    let best = 0
    for (let c = 1; c < row.length; c++) if (row[c]! > row[best]!) best = c
    if (best === labels[i]) correct++
  })
  return correct / scores.length
}

describe('accuracy', () => {
  it('counts rows whose argmax is the label, for logits and probabilities alike', () => {
    const logits = [
      [2, 1, 0],
      [0.5, 3, -1],
      [-1, -2, -0.5],
      [0, 0, 4],
      [1, 2, 3],
    ]
    const labels = [0, 1, 0, 2, 0]
    expect(accuracy(make([5, 3], logits.flat()), indices(labels))).toBe(0.6)
    const probabilities = logits.map((row) => {
      const total = row.reduce((s, v) => s + Math.exp(v), 0)
      return row.map((v) => Math.exp(v) / total)
    })
    expect(accuracy(make([5, 3], probabilities.flat(), 'float64'), indices(labels))).toBe(0.6)
  })

  it('gives ties to the lowest class', () => {
    expect(accuracy(make([2, 3], [1, 1, 0, 0, 2, 2]), indices([0, 1]))).toBe(1)
    expect(accuracy(make([2, 3], [1, 1, 0, 0, 2, 2]), indices([1, 2]))).toBe(0)
  })

  it('agrees with a naive reference on random scores (property)', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 6 })
          .chain((classes) =>
            fc.array(
              fc.tuple(
                fc.array(fc.integer({ min: -3, max: 3 }), { minLength: classes, maxLength: classes }),
                fc.nat(classes - 1),
              ),
              { minLength: 1, maxLength: 10 },
            ),
          ),
        (examples) => {
          const scores = examples.map(([row]) => row)
          const labels = examples.map(([, label]) => label)
          const classes = scores[0]!.length
          expect(accuracy(make([scores.length, classes], scores.flat()), indices(labels))).toBe(
            accuracyReference(scores, labels),
          )
        },
      ),
      { numRuns: 100 },
    )
  })

  it('rejects labels out of range, wrong shapes and dtypes, and empty batches', () => {
    const scores = make([2, 3], [1, 0, 0, 0, 1, 0])
    expect(() => accuracy(scores, indices([0, 3]))).toThrow(T.ValueError)
    expect(() => accuracy(scores, indices([0, 3]))).toThrow(/labels\[1\] is 3/)
    expect(() => accuracy(scores, indices([-1, 0]))).toThrow(T.ValueError)
    expect(() => accuracy(scores, indices([0, 1, 2]))).toThrow(T.ShapeError)
    expect(() => accuracy(scores, make([2], [0, 1]))).toThrow(T.DTypeError)
    expect(() => accuracy(make([3], [1, 2, 3]), indices([0, 1, 2]))).toThrow(T.ShapeError)
    expect(() => accuracy(make([0, 3], []), indices([]))).toThrow(T.ValueError)
  })
})

describe('confusionMatrix', () => {
  const reference = (
    predictions: ReadonlyArray<number>,
    labels: ReadonlyArray<number>,
    classes: number,
  ): number[][] => {
    const m = Array.from({ length: classes }, () => Array.from({ length: classes }, () => 0))
    labels.forEach((truth, i) => m[truth]![predictions[i]!]!++)
    return m
  }

  it('puts the true class on rows and the prediction on columns', () => {
    const m = confusionMatrix(indices([0, 1, 1, 2, 2, 2]), indices([0, 0, 1, 2, 1, 2]), 3)
    expect(m.dtype).toBe('int32')
    expect(m.shape).toEqual([3, 3])
    // true 0 → predicted 0 once and 1 once; true 1 → 1 once, 2 once; true 2 → 2 twice
    expect(Array.from(m.data)).toEqual([1, 1, 0, 0, 1, 1, 0, 0, 2])
  })

  it('agrees with a naive reference: sums to N, trace = correct, row sums = class counts (property)', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 5 })
          .chain((classes) =>
            fc.tuple(
              fc.constant(classes),
              fc.array(fc.tuple(fc.nat(classes - 1), fc.nat(classes - 1)), { minLength: 0, maxLength: 20 }),
            ),
          ),
        ([classes, pairs]) => {
          const predictions = pairs.map(([p]) => p)
          const labels = pairs.map(([, l]) => l)
          const m = confusionMatrix(indices(predictions), indices(labels), classes)
          const expected = reference(predictions, labels, classes)
          expect(Array.from(m.data)).toEqual(expected.flat())
          const total = Array.from(m.data).reduce((s, v) => s + v, 0)
          expect(total).toBe(pairs.length)
        },
      ),
      { numRuns: 100 },
    )
  })

  it('rejects indices out of range, naming the example, and bad arguments', () => {
    expect(() => confusionMatrix(indices([0, 3]), indices([0, 1]), 3)).toThrow(/predictions\[1\] is 3/)
    expect(() => confusionMatrix(indices([0, 1]), indices([0, -1]), 3)).toThrow(T.ValueError)
    expect(() => confusionMatrix(indices([0, 1]), indices([0, 1, 2]), 3)).toThrow(T.ShapeError)
    expect(() => confusionMatrix(indices([0, 1]), make([2], [0, 1]), 3)).toThrow(T.DTypeError)
    expect(() => confusionMatrix(indices([0, 1]), indices([0, 1]), 0)).toThrow(T.ValueError)
    expect(() => confusionMatrix(indices([0, 1]), indices([0, 1]), 2.5)).toThrow(T.ValueError)
  })
})
