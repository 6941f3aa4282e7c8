// lstm: shapes and path errors, values against a plain loop of PyTorch's formulas, gradients, codec
import { describe, it, expect } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import type { Layer } from '../src/layer'
import * as L from '../src/layers/index'
import type { LstmParams } from '../src/layers/lstm'
import { decodeModel, encodeModel } from '../src/config/index'
import { builtinKinds } from '../src/layers/builtins'
import { flattenNamed } from '../src/tree'
import { unwrap, leftOf, key, randn, evalCtx } from './helpers'

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v))

/**
 * PyTorch's nn.LSTM (batch_first, one layer, one direction) as a direct loop over batch, time and
 * units, gates i, f, g, o stacked in that order in the rows of the weights.
 */
const reference = (
  x: Tensor,
  p: { wIh: Tensor; wHh: Tensor; bIh?: Tensor; bHh?: Tensor },
  hidden: number,
): { last: number[]; all: number[] } => {
  const [n, seq, input] = x.shape as [number, number, number]
  const last: number[] = []
  const all: number[] = []
  for (let b = 0; b < n; b++) {
    let h = new Array<number>(hidden).fill(0)
    let c = new Array<number>(hidden).fill(0)
    for (let s = 0; s < seq; s++) {
      const pre = (row: number): number => {
        let z = (p.bIh?.data[row] ?? 0) + (p.bHh?.data[row] ?? 0)
        for (let k = 0; k < input; k++) z += p.wIh.data[row * input + k]! * x.data[(b * seq + s) * input + k]!
        for (let k = 0; k < hidden; k++) z += p.wHh.data[row * hidden + k]! * h[k]!
        return z
      }
      const nextH: number[] = []
      const nextC: number[] = []
      for (let u = 0; u < hidden; u++) {
        const i = sigmoid(pre(u))
        const f = sigmoid(pre(hidden + u))
        const g = Math.tanh(pre(2 * hidden + u))
        const o = sigmoid(pre(3 * hidden + u))
        nextC.push(f * c[u]! + i * g)
        nextH.push(o * Math.tanh(nextC[u]!))
      }
      h = nextH
      c = nextC
      all.push(...h)
    }
    last.push(...h)
  }
  return { last, all }
}

const expectClose = (
  actual: Tensor,
  shape: ReadonlyArray<number>,
  expected: ArrayLike<number>,
  tol = 1e-12,
) => {
  expect(actual.shape).toEqual(shape)
  expect(actual.data.length).toBe(expected.length)
  for (let i = 0; i < expected.length; i++)
    if (!(Math.abs(actual.data[i]! - expected[i]!) <= tol * (1 + Math.abs(expected[i]!))))
      throw new Error(`element ${i}: got ${actual.data[i]}, expected ${expected[i]}`)
}

const run = <P, S>(layer: Layer<P, S>, params: P, x: Tensor): Tensor =>
  layer.apply(params, {} as S, x, evalCtx)[0]

describe('lstm', () => {
  it('infers PyTorch-named parameters and the output shape, and reports bad shapes with the path', () => {
    const built = unwrap(L.lstm(3).init(key(0), [5, 4]))
    const p = built.params
    expect(Object.keys(p).sort()).toEqual(['bias_hh_l0', 'bias_ih_l0', 'weight_hh_l0', 'weight_ih_l0'])
    expect(p.weight_ih_l0.shape).toEqual([12, 4])
    expect(p.weight_hh_l0.shape).toEqual([12, 3])
    expect(p.bias_ih_l0.shape).toEqual([12])
    expect(p.bias_hh_l0.shape).toEqual([12])
    expect(p.weight_ih_l0.dtype).toBe('float32')
    expect(built.outShape).toEqual([3])
    expect(unwrap(L.lstm(3, { returnSequences: true }).init(key(0), [5, 4])).outShape).toEqual([5, 3])
    expect(Object.keys(unwrap(L.lstm(3, { bias: false }).init(key(0), [5, 4])).params).sort()).toEqual([
      'weight_hh_l0',
      'weight_ih_l0',
    ])
    // PyTorch's init: U(−1/√hidden, 1/√hidden) for every parameter, filling the interval.
    const big = unwrap(L.lstm(16).init(key(1), [2, 3])).params
    for (const t of Object.values(big) as Tensor[]) {
      const values = Array.from(t.data, Number)
      expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(0.25)
      expect(Math.max(...values.map(Math.abs))).toBeGreaterThan(0.2)
    }
    const e = leftOf(L.sequential(L.dense(4), L.lstm(3)).init(key(0), [4]))
    expect(e.path).toBe('1 (lstm)')
    expect(e.message).toContain('[seq, input]')
    expect(leftOf(L.lstm(0).init(key(0), [2, 3])).message).toContain('hiddenSize')
    expect(() => L.lstm(3, { batchFirst: true } as never)).toThrow(/batchFirst/)
    expect(() => run(L.lstm(3), p, T.zeros([2, 4]))).toThrow(/\[N, seq, input\]/)
    expect(() => run(L.lstm(3), p, T.zeros([2, 5, 3]))).toThrow(
      /lstm.*3 features per step.*weight_ih_l0 \[12,4\]/,
    )
  })

  it('matches a plain loop of PyTorch formulas (last state and every step, with and without bias)', () => {
    const hidden = 3
    const x = randn(1, [2, 4, 5])
    const params: LstmParams = {
      weight_ih_l0: randn(2, [4 * hidden, 5]),
      weight_hh_l0: randn(3, [4 * hidden, hidden]),
      bias_ih_l0: randn(4, [4 * hidden]),
      bias_hh_l0: randn(5, [4 * hidden]),
    }
    const ref = reference(
      x,
      { wIh: params.weight_ih_l0, wHh: params.weight_hh_l0, bIh: params.bias_ih_l0, bHh: params.bias_hh_l0 },
      hidden,
    )
    expectClose(run(L.lstm(hidden), params, x), [2, hidden], ref.last)
    expectClose(run(L.lstm(hidden, { returnSequences: true }), params, x), [2, 4, hidden], ref.all)
    const noBias = { weight_ih_l0: params.weight_ih_l0, weight_hh_l0: params.weight_hh_l0 }
    const refNoBias = reference(x, { wIh: noBias.weight_ih_l0, wHh: noBias.weight_hh_l0 }, hidden)
    expectClose(run(L.lstm(hidden, { bias: false }), noBias, x), [2, hidden], refNoBias.last)
    // One step: the gate order matters as soon as the weights differ per gate.
    const one = randn(6, [1, 1, 5])
    expectClose(
      run(L.lstm(hidden), params, one),
      [1, hidden],
      reference(
        one,
        {
          wIh: params.weight_ih_l0,
          wHh: params.weight_hh_l0,
          bIh: params.bias_ih_l0,
          bHh: params.bias_hh_l0,
        },
        hidden,
      ).last,
    )
  })

  it('computes in the dtype x and the parameters promote to (float32 input, float64 parameters)', () => {
    const hidden = 2
    const x = T.astype(randn(12, [2, 3, 4]), 'float32')
    const params: LstmParams = {
      weight_ih_l0: randn(13, [4 * hidden, 4]),
      weight_hh_l0: randn(14, [4 * hidden, hidden]),
      bias_ih_l0: randn(15, [4 * hidden]),
      bias_hh_l0: randn(16, [4 * hidden]),
    }
    const y = run(L.lstm(hidden), params, x)
    expect(y.dtype).toBe('float64')
    const ref = reference(
      x,
      { wIh: params.weight_ih_l0, wHh: params.weight_hh_l0, bIh: params.bias_ih_l0, bHh: params.bias_hh_l0 },
      hidden,
    )
    expectClose(y, [2, hidden], ref.last)
  })

  it('has the right gradient w.r.t. input and every parameter', () => {
    const hidden = 2
    const args = [randn(7, [2, 3, 3]), randn(8, [8, 3]), randn(9, [8, 2]), randn(10, [8]), randn(11, [8])]
    for (const returnSequences of [false, true]) {
      const layer = L.lstm(hidden, { returnSequences })
      const report = O.checkVjp(
        (x, wIh, wHh, bIh, bHh) =>
          run(layer, { weight_ih_l0: wIh!, weight_hh_l0: wHh!, bias_ih_l0: bIh!, bias_hh_l0: bHh! }, x!),
        args,
        { maxJacobianEntries: 20000 },
      )
      expect(report.ok, report.message).toBe(true)
    }
  })

  it('round-trips its config, and the decoded layer computes the same', () => {
    for (const layer of [
      L.lstm(3) as Layer<unknown, unknown>,
      L.lstm(3, { bias: false, returnSequences: true }) as Layer<unknown, unknown>,
    ]) {
      const encoded = encodeModel(layer)
      if (E.isLeft(encoded)) throw new Error(encoded.left.message)
      const decoded = decodeModel(JSON.parse(JSON.stringify(encoded.right)))
      if (E.isLeft(decoded)) throw new Error(decoded.left.message)
      expect(decoded.right.config).toEqual(layer.config)
      const init = unwrap(layer.init(key(3), [4, 2]))
      const again = unwrap(decoded.right.init(key(3), [4, 2]))
      expect(again.outShape).toEqual(init.outShape)
      const x = T.random.normal(key(4), [2, 4, 2])
      const a = run(layer, init.params, x)
      expectClose(run(decoded.right, init.params, x), a.shape, a.data, 0)
    }
    const bad = decodeModel({ kind: 'lstm', hiddenSize: 0 })
    expect(E.isLeft(bad)).toBe(true)
  })

  const cases: ReadonlyArray<readonly [Layer<unknown, unknown>, number[]]> = [
    [L.lstm(3) as Layer<unknown, unknown>, [4, 2]],
    [L.lstm(2, { bias: false, returnSequences: true }) as Layer<unknown, unknown>, [3, 5]],
  ]

  it("its allocation (used to vet checkpoints) is what init allocates, with init's outShape", () => {
    for (const [layer, inShape] of cases) {
      const init = unwrap(layer.init(key(0), inShape))
      const allocated = builtinKinds.lstm.allocation?.(layer.config!, inShape, () => undefined)
      const size = flattenNamed(init.params).reduce((n, [, p]) => n + p.data.length, 0)
      expect(allocated).toEqual({ size, outShape: init.outShape })
    }
  })

  it('gives the same values and gradients under jit as eagerly', () => {
    for (const [layer, inShape] of cases) {
      const { params } = unwrap(layer.init(key(1), inShape))
      const x = T.random.normal(key(2), [2, ...inShape])
      const loss = (p: unknown, input: Tensor): Tensor => O.sum(O.square(run(layer, p, input)))
      const both = O.grad(loss, { argnums: [0, 1] })
      const eager = flattenNamed(both(params, x))
      const staged = flattenNamed(O.jit(both)(params, x))
      expect(eager.length).toBe(Object.keys(params as object).length + 1)
      expect(staged.map(([name]) => name)).toEqual(eager.map(([name]) => name))
      eager.forEach(([, a], i) => expectClose(staged[i]![1], a.shape, a.data, 1e-5))
    }
  })
})
