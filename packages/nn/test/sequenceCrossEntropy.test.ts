// sequenceCrossEntropy: values against a loop written from the formula (mean over the non-ignored
// positions, PyTorch's ignore_index), gradients by checkVjp, jit == eager, zero gradient on ignored
// positions, all-ignored behaviour, and the errors for bad input.
import { describe, it, expect } from 'vitest'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { sequenceCrossEntropy } from '../src/losses/index'
import { make, randn } from './helpers'

/** Σ over positions with t ≠ ignore of logsumexp(z) − z[t], and their count, by plain loops. */
const reference = (
  logits: Tensor,
  targets: Tensor,
  ignore: number | undefined,
): { sum: number; count: number } => {
  const classes = logits.shape[logits.shape.length - 1]!
  const z = Array.from(logits.data)
  const t = Array.from(targets.data)
  let sum = 0
  let count = 0
  for (let p = 0; p < t.length; p++) {
    if (t[p] === ignore) continue
    const row = z.slice(p * classes, (p + 1) * classes)
    const max = Math.max(...row)
    sum += max + Math.log(row.reduce((s, a) => s + Math.exp(a - max), 0)) - row[t[p]!]!
    count++
  }
  return { sum, count }
}

const targetsNL = make([3, 4], [0, 4, 2, -100, 1, -100, -100, -100, 3, 3, 0, 2], 'int32')

describe('sequenceCrossEntropy', () => {
  it('is the mean of −log softmax(z)[t] over the positions whose target is not ignoreIndex', () => {
    const logits = randn(1, [3, 4, 5])
    const { sum, count } = reference(logits, targetsNL, -100)
    expect(count).toBe(8)
    const mean = sequenceCrossEntropy(logits, targetsNL, { ignoreIndex: -100 })
    expect(mean.shape).toEqual([])
    expect(mean.data[0]).toBeCloseTo(sum / count, 12)
    const total = sequenceCrossEntropy(logits, targetsNL, { ignoreIndex: -100, reduction: 'sum' })
    expect(total.data[0]).toBeCloseTo(sum, 12)
  })

  it('takes any leading axes ([C], [N, C], [A, B, L, C]) and without ignoreIndex averages every position', () => {
    const logits4 = randn(2, [2, 3, 2, 4])
    const targets4 = make([2, 3, 2], [0, 1, 2, 3, 3, 2, 1, 0, 0, 0, 3, 1], 'int32')
    const r4 = reference(logits4, targets4, undefined)
    expect(sequenceCrossEntropy(logits4, targets4).data[0]).toBeCloseTo(r4.sum / 12, 12)
    const logits1 = make([3], [0.5, -1, 2])
    const target0 = make([], [2], 'int32')
    expect(sequenceCrossEntropy(logits1, target0).data[0]).toBeCloseTo(
      reference(logits1, target0, undefined).sum,
      12,
    )
    // An ignoreIndex that is a class: that class is never scored.
    const logits2 = randn(3, [4, 3])
    const targets2 = make([4], [0, 1, 1, 2], 'int32')
    const r2 = reference(logits2, targets2, 1)
    expect(sequenceCrossEntropy(logits2, targets2, { ignoreIndex: 1 }).data[0]).toBeCloseTo(r2.sum / 2, 12)
  })

  it('gradients match finite differences (checkVjp), mean and sum', () => {
    const logits = randn(4, [3, 4, 5])
    for (const reduction of ['mean', 'sum'] as const) {
      const report = O.checkVjp(
        (z) => sequenceCrossEntropy(z, targetsNL, { ignoreIndex: -100, reduction }),
        [logits],
      )
      expect(report.ok, report.message).toBe(true)
    }
  })

  it('gives ignored positions a zero gradient and the others (softmax − onehot) / count', () => {
    const logits = randn(5, [3, 4, 5])
    const g = O.grad((z: Tensor) => sequenceCrossEntropy(z, targetsNL, { ignoreIndex: -100 }))(logits)
    const z = Array.from(logits.data)
    const t = Array.from(targetsNL.data)
    for (let p = 0; p < 12; p++) {
      const row = z.slice(p * 5, p * 5 + 5)
      const max = Math.max(...row)
      const e = row.map((a) => Math.exp(a - max))
      const s = e.reduce((a, b) => a + b, 0)
      for (let c = 0; c < 5; c++) {
        const expected = t[p] === -100 ? 0 : (e[c]! / s - (c === t[p] ? 1 : 0)) / 8
        expect(g.data[p * 5 + c]).toBeCloseTo(expected, 12)
        if (t[p] === -100) expect(g.data[p * 5 + c]).toBe(0)
      }
    }
  })

  it('jit gives the eager values and gradients', () => {
    const logits = randn(6, [3, 4, 5])
    const loss = (z: Tensor, y: Tensor): Tensor => sequenceCrossEntropy(z, y, { ignoreIndex: -100 })
    const jitted = O.jit((z: Tensor, y: Tensor) => [loss(z, y), O.grad((w: Tensor) => loss(w, y))(z)])
    const [value, gradient] = jitted(logits, targetsNL) as Tensor[]
    expect(value!.data[0]).toBeCloseTo(loss(logits, targetsNL).data[0]!, 12)
    const eager = O.grad((w: Tensor) => loss(w, targetsNL))(logits)
    Array.from(eager.data).forEach((v, i) => expect(gradient!.data[i]).toBeCloseTo(v, 12))
  })

  it('every position ignored: mean is NaN (PyTorch), sum is 0, the gradient is zero', () => {
    const logits = randn(7, [2, 3])
    const none = make([2], [-1, -1], 'int32')
    expect(Number.isNaN(sequenceCrossEntropy(logits, none, { ignoreIndex: -1 }).data[0])).toBe(true)
    expect(sequenceCrossEntropy(logits, none, { ignoreIndex: -1, reduction: 'sum' }).data[0]).toBe(0)
    const g = O.grad((z: Tensor) => sequenceCrossEntropy(z, none, { ignoreIndex: -1, reduction: 'sum' }))(
      logits,
    )
    expect(Array.from(g.data)).toEqual([0, 0, 0, 0, 0, 0])
  })

  it('throws clear errors for bad dtypes, shapes, targets and options', () => {
    const logits = randn(8, [2, 3, 4])
    const good = make([2, 3], [0, 1, 2, 3, -1, 0], 'int32')
    expect(() => sequenceCrossEntropy(make([2, 3, 4], new Array(24).fill(0), 'int32'), good)).toThrow(
      /sequenceCrossEntropy.*logits has dtype int32/,
    )
    expect(() => sequenceCrossEntropy(logits, make([2, 3], [0, 1, 2, 3, 0, 0]))).toThrow(
      /sequenceCrossEntropy.*targets have dtype float64; expected int32/,
    )
    expect(() => sequenceCrossEntropy(logits, make([3, 2], [0, 1, 2, 3, 0, 0], 'int32'))).toThrow(
      /sequenceCrossEntropy.*targets have shape \[3, ?2\] but logits have shape \[2, ?3, ?4\]; expected .* \[2, ?3\]/,
    )
    expect(() => sequenceCrossEntropy(logits, good)).toThrow(
      /sequenceCrossEntropy.*targets\[1, ?1\] is -1, outside the 4 classes, and no ignoreIndex is set/,
    )
    expect(() =>
      sequenceCrossEntropy(logits, make([2, 3], [0, 1, 2, 4, -1, 0], 'int32'), { ignoreIndex: -1 }),
    ).toThrow(/targets\[1, ?0\] is 4, outside the 4 classes, and ignoreIndex is -1/)
    expect(() => sequenceCrossEntropy(logits, good, { ignoreIndex: -100 })).toThrow(/targets\[1, ?1\] is -1/)
    expect(() => sequenceCrossEntropy(logits, good, { ignoreIndex: 0.5 })).toThrow(
      /ignoreIndex must be an integer/,
    )
    expect(() => sequenceCrossEntropy(logits, good, { ignore_index: -1 } as never)).toThrow(
      /unknown option 'ignore_index'/,
    )
    expect(() =>
      sequenceCrossEntropy(logits, good, { ignoreIndex: -1, reduction: 'none' as 'mean' }),
    ).toThrow(/option 'reduction'/)
  })

  it('under jit an out-of-range target (not ignoreIndex) is refused when the function runs', () => {
    const logits = randn(9, [2, 3, 4])
    const jitted = O.jit((z: Tensor, y: Tensor) => sequenceCrossEntropy(z, y, { ignoreIndex: -1 }))
    expect(T.item(jitted(logits, make([2, 3], [0, 1, 2, 3, -1, 0], 'int32')) as Tensor)).toBeCloseTo(
      reference(logits, make([2, 3], [0, 1, 2, 3, -1, 0], 'int32'), -1).sum / 5,
      12,
    )
    expect(() => jitted(logits, make([2, 3], [0, 1, 2, 7, -1, 0], 'int32'))).toThrow(/oneHot/)
  })
})
