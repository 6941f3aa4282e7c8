// Recurrent cells (lstmCell, gruCell), initial states (initialState: 'learned', lstmSequence /
// gruSequence with h0, c0) and final states: values against plain loops of PyTorch's documented
// formulas (weights read by PyTorch's names), shape errors with paths, codecs, allocation, checkVjp.
import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import type { Layer } from '../src/layer'
import * as L from '../src/layers/index'
import { decodeModel, encodeModel } from '../src/config/index'
import { builtinKinds } from '../src/layers/builtins'
import { flattenNamed } from '../src/tree'
import { evalCtx, key, leftOf, randn, unwrap } from './helpers'

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v))

/** PyTorch-named weights (either the `_l0` or the cell names) as plain arrays. */
interface Weights {
  readonly wIh: Tensor
  readonly wHh: Tensor
  readonly bIh?: Tensor | undefined
  readonly bHh?: Tensor | undefined
}
const named = (p: Record<string, Tensor>, suffix: string): Weights => ({
  wIh: p[`weight_ih${suffix}`]!,
  wHh: p[`weight_hh${suffix}`]!,
  bIh: p[`bias_ih${suffix}`],
  bHh: p[`bias_hh${suffix}`],
})

/** Row `row` of `W v` plus `b[row]` (PyTorch stores W as [out, in]). */
const affine = (w: Tensor, b: Tensor | undefined, v: ReadonlyArray<number>, row: number): number => {
  const n = v.length
  let z = b === undefined ? 0 : b.data[row]!
  for (let k = 0; k < n; k++) z += w.data[row * n + k]! * v[k]!
  return z
}

/**
 * torch.nn.LSTMCell's documented step: i = σ(W_ii x + b_ii + W_hi h + b_hi), f = σ(...),
 * g = tanh(...), o = σ(...) (rows i, f, g, o), c' = f c + i g, h' = o tanh(c').
 */
const lstmStepRef = (
  w: Weights,
  x: ReadonlyArray<number>,
  h: ReadonlyArray<number>,
  c: ReadonlyArray<number>,
): [number[], number[]] => {
  const hidden = h.length
  const pre = (gate: number, u: number): number =>
    affine(w.wIh, w.bIh, x, gate * hidden + u) + affine(w.wHh, w.bHh, h, gate * hidden + u)
  const hNext: number[] = []
  const cNext: number[] = []
  for (let u = 0; u < hidden; u++) {
    const i = sigmoid(pre(0, u))
    const f = sigmoid(pre(1, u))
    const g = Math.tanh(pre(2, u))
    const o = sigmoid(pre(3, u))
    cNext.push(f * c[u]! + i * g)
    hNext.push(o * Math.tanh(cNext[u]!))
  }
  return [hNext, cNext]
}

/**
 * torch.nn.GRUCell's documented step: r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(...),
 * n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) n + z h.
 */
const gruStepRef = (w: Weights, x: ReadonlyArray<number>, h: ReadonlyArray<number>): number[] => {
  const hidden = h.length
  const out: number[] = []
  for (let u = 0; u < hidden; u++) {
    const r = sigmoid(affine(w.wIh, w.bIh, x, u) + affine(w.wHh, w.bHh, h, u))
    const z = sigmoid(affine(w.wIh, w.bIh, x, hidden + u) + affine(w.wHh, w.bHh, h, hidden + u))
    const n = Math.tanh(affine(w.wIh, w.bIh, x, 2 * hidden + u) + r * affine(w.wHh, w.bHh, h, 2 * hidden + u))
    out.push((1 - z) * n + z * h[u]!)
  }
  return out
}

/** Row `b` of a `[N, F]` tensor (or the whole of a `[F]` one) as numbers. */
const rowOf = (t: Tensor, b: number): number[] => {
  const f = t.shape[t.shape.length - 1]!
  const start = t.shape.length === 1 ? 0 : b * f
  return Array.from(t.data.subarray(start, start + f), Number)
}

/** Step `s` of example `b` of `[N, seq, F]`. */
const stepOf = (x: Tensor, b: number, s: number): number[] => {
  const [, seq, f] = x.shape as [number, number, number]
  return Array.from(x.data.subarray((b * seq + s) * f, (b * seq + s + 1) * f), Number)
}

/** nn.LSTM(x, (h0, c0)) by loops: every step's h, and the final h and c, flattened batch first. */
const lstmRef = (w: Weights, x: Tensor, h0: Tensor | undefined, c0: Tensor | undefined, hidden: number) => {
  const [n, seq] = x.shape as [number, number]
  const all: number[] = []
  const hs: number[] = []
  const cs: number[] = []
  for (let b = 0; b < n; b++) {
    let h = h0 === undefined ? new Array<number>(hidden).fill(0) : rowOf(h0, b)
    let c = c0 === undefined ? new Array<number>(hidden).fill(0) : rowOf(c0, b)
    for (let s = 0; s < seq; s++) {
      ;[h, c] = lstmStepRef(w, stepOf(x, b, s), h, c)
      all.push(...h)
    }
    hs.push(...h)
    cs.push(...c)
  }
  return { all, h: hs, c: cs }
}

/** nn.GRU(x, h0) by loops. */
const gruRef = (w: Weights, x: Tensor, h0: Tensor | undefined, hidden: number) => {
  const [n, seq] = x.shape as [number, number]
  const all: number[] = []
  const hs: number[] = []
  for (let b = 0; b < n; b++) {
    let h = h0 === undefined ? new Array<number>(hidden).fill(0) : rowOf(h0, b)
    for (let s = 0; s < seq; s++) {
      h = gruStepRef(w, stepOf(x, b, s), h)
      all.push(...h)
    }
    hs.push(...h)
  }
  return { all, h: hs }
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

const cat = (...xs: Tensor[]): Tensor => O.concat(xs, { axis: -1 })

const cellParams = (gates: number, hidden: number, input: number, seed: number) => ({
  weight_ih: randn(seed, [gates * hidden, input]),
  weight_hh: randn(seed + 1, [gates * hidden, hidden]),
  bias_ih: randn(seed + 2, [gates * hidden]),
  bias_hh: randn(seed + 3, [gates * hidden]),
})

describe('lstmCell and gruCell', () => {
  it("infer PyTorch's cell parameter names and the packed output shape; bad shapes are LayerErrors with the path", () => {
    const lstm = unwrap(L.lstmCell(3).init(key(0), [4 + 6]))
    expect(flattenNamed(lstm.params).map(([n, t]) => [n, t.shape, t.dtype])).toEqual([
      ['weight_ih', [12, 4], 'float32'],
      ['weight_hh', [12, 3], 'float32'],
      ['bias_ih', [12], 'float32'],
      ['bias_hh', [12], 'float32'],
    ])
    expect(lstm.outShape).toEqual([6])
    const gru = unwrap(L.gruCell(3, { bias: false, dtype: 'float64' }).init(key(0), [2 + 3]))
    expect(flattenNamed(gru.params).map(([n, t]) => [n, t.shape, t.dtype])).toEqual([
      ['weight_ih', [9, 2], 'float64'],
      ['weight_hh', [9, 3], 'float64'],
    ])
    expect(gru.outShape).toEqual([3])
    // PyTorch's init: U(−1/√hidden, 1/√hidden), filling the interval.
    for (const [, t] of flattenNamed(unwrap(L.gruCell(16).init(key(1), [40])).params)) {
      const values = Array.from(t.data, Number)
      expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(0.25)
      expect(Math.max(...values.map(Math.abs))).toBeGreaterThan(0.2)
    }
    const e = leftOf(L.sequential(L.dense(6), L.lstmCell(3)).init(key(0), [2]))
    expect(e.path).toBe('1 (lstmCell)')
    expect(e.message).toMatch(/\[x, h, c\].*longer than 6.*got \[6\]/)
    expect(leftOf(L.gruCell(3).init(key(0), [2, 5])).message).toMatch(/\[x, h\].*rank 1/)
    expect(leftOf(L.gruCell(0).init(key(0), [5])).message).toMatch(/hiddenSize must be a positive integer/)
    expect(leftOf(L.lstmCell(2, { dtype: 'int32' }).init(key(0), [5])).message).toMatch(/dtype/)
    expect(() => L.lstmCell(3, { returnSequences: true } as never)).toThrow(/returnSequences/)
    expect(() => run(L.lstmCell(3), lstm.params, T.zeros([2, 9]))).toThrow(/lstmCell.*\[N, 10\].*input 4/)
    expect(() => run(L.gruCell(3), gru.params as never, T.zeros([5]))).toThrow(/gruCell.*\[N, 5\]/)
    expect(() => run(L.lstmCell(2), lstm.params, T.zeros([2, 10]))).toThrow(/hiddenSize 2/)
  })

  it("lstmCell: [h', c'] equal torch.nn.LSTMCell's formulas, with and without biases", () => {
    const [hidden, input, n] = [3, 4, 2]
    const p = cellParams(4, hidden, input, 10)
    const [x, h, c] = [randn(1, [n, input]), randn(2, [n, hidden]), randn(3, [n, hidden])]
    const expected = (w: Weights): number[] =>
      [0, 1].flatMap((b) => lstmStepRef(w, rowOf(x, b), rowOf(h, b), rowOf(c, b)).flat())
    expectClose(run(L.lstmCell(hidden), p, cat(x, h, c)), [n, 2 * hidden], expected(named(p, '')))
    const noBias = { weight_ih: p.weight_ih, weight_hh: p.weight_hh }
    expectClose(
      run(L.lstmCell(hidden, { bias: false }), noBias, cat(x, h, c)),
      [n, 2 * hidden],
      expected(named(noBias, '')),
    )
  })

  it("gruCell: h' equals torch.nn.GRUCell's formulas (r applied to W_hn h + b_hn), with and without biases", () => {
    const [hidden, input, n] = [3, 2, 3]
    const p = cellParams(3, hidden, input, 20)
    const [x, h] = [randn(4, [n, input]), randn(5, [n, hidden])]
    const expected = (w: Weights): number[] =>
      [0, 1, 2].flatMap((b) => gruStepRef(w, rowOf(x, b), rowOf(h, b)))
    expectClose(run(L.gruCell(hidden), p, cat(x, h)), [n, hidden], expected(named(p, '')))
    const noBias = { weight_ih: p.weight_ih, weight_hh: p.weight_hh }
    expectClose(
      run(L.gruCell(hidden, { bias: false }), noBias, cat(x, h)),
      [n, hidden],
      expected(named(noBias, '')),
    )
  })

  it('a cell run step by step under scan equals the sequence layer with the same weights', () => {
    const [hidden, input] = [3, 2]
    const x = randn(30, [2, 5, input])
    const xs = O.transpose(x, [1, 0, 2])
    const lp = cellParams(4, hidden, input, 31)
    const cell = L.lstmCell(hidden)
    const [, lstmSteps] = O.scan(
      (hc: Tensor, xt: Tensor): [Tensor, Tensor] => {
        const next = run(cell, lp, cat(xt, hc))
        return [next, O.slice(next, [undefined, { start: 0, stop: hidden }])]
      },
      T.zeros([2, 2 * hidden], 'float64'),
      xs,
    )
    const lstmSeq = run(
      L.lstm(hidden, { returnSequences: true }),
      {
        weight_ih_l0: lp.weight_ih,
        weight_hh_l0: lp.weight_hh,
        bias_ih_l0: lp.bias_ih,
        bias_hh_l0: lp.bias_hh,
      },
      x,
    )
    expectClose(O.transpose(lstmSteps, [1, 0, 2]), lstmSeq.shape, lstmSeq.data, 1e-14)
    const gp = cellParams(3, hidden, input, 35)
    const gcell = L.gruCell(hidden)
    const [gruLast] = O.scan(
      (h: Tensor, xt: Tensor): [Tensor, []] => [run(gcell, gp, cat(xt, h)), []],
      T.zeros([2, hidden], 'float64'),
      xs,
    )
    const gruSeq = run(
      L.gru(hidden),
      {
        weight_ih_l0: gp.weight_ih,
        weight_hh_l0: gp.weight_hh,
        bias_ih_l0: gp.bias_ih,
        bias_hh_l0: gp.bias_hh,
      },
      x,
    )
    expectClose(gruLast, gruSeq.shape, gruSeq.data, 1e-14)
  })

  it('checkVjp: gradients w.r.t. the packed input and every parameter', () => {
    const lstm = L.lstmCell(2)
    const r1 = O.checkVjp(
      (x: Tensor, wih: Tensor, whh: Tensor, bih: Tensor, bhh: Tensor) =>
        run(lstm, { weight_ih: wih, weight_hh: whh, bias_ih: bih, bias_hh: bhh }, x),
      [randn(40, [2, 3 + 4]), randn(41, [8, 3]), randn(42, [8, 2]), randn(43, [8]), randn(44, [8])],
    )
    expect(r1.ok, r1.message).toBe(true)
    const gru = L.gruCell(2, { bias: false })
    const r2 = O.checkVjp(
      (x: Tensor, wih: Tensor, whh: Tensor) => run(gru, { weight_ih: wih, weight_hh: whh }, x),
      [randn(45, [3, 2 + 2]), randn(46, [6, 2]), randn(47, [6, 2])],
    )
    expect(r2.ok, r2.message).toBe(true)
  })
})

describe('initial and final states', () => {
  const hidden = 3
  const input = 2
  const x = randn(50, [2, 4, input])
  const lp = {
    weight_ih_l0: randn(51, [4 * hidden, input]),
    weight_hh_l0: randn(52, [4 * hidden, hidden]),
    bias_ih_l0: randn(53, [4 * hidden]),
    bias_hh_l0: randn(54, [4 * hidden]),
  }
  const gp = {
    weight_ih_l0: randn(55, [3 * hidden, input]),
    weight_hh_l0: randn(56, [3 * hidden, hidden]),
    bias_ih_l0: randn(57, [3 * hidden]),
    bias_hh_l0: randn(58, [3 * hidden]),
  }

  it("initialState 'learned': h0 (and c0) parameters, zero at init, broadcast over the batch", () => {
    const built = unwrap(L.lstm(hidden, { initialState: 'learned' }).init(key(0), [4, input]))
    expect(flattenNamed(built.params).map(([n, t]) => [n, t.shape])).toEqual([
      ['weight_ih_l0', [12, 2]],
      ['weight_hh_l0', [12, 3]],
      ['bias_ih_l0', [12]],
      ['bias_hh_l0', [12]],
      ['h0', [3]],
      ['c0', [3]],
    ])
    expect(Array.from(built.params.h0.data)).toEqual([0, 0, 0])
    const g = unwrap(L.gru(hidden, { initialState: 'learned', bias: false }).init(key(0), [4, input]))
    expect(Object.keys(g.params)).toEqual(['weight_ih_l0', 'weight_hh_l0', 'h0'])
    // Values: the same as the reference started from h0, c0 on every example.
    const [h0, c0] = [randn(59, [hidden]), randn(60, [hidden])]
    const ref = lstmRef(
      named(lp, '_l0'),
      x,
      T.broadcastTo(h0, [2, hidden]),
      T.broadcastTo(c0, [2, hidden]),
      hidden,
    )
    const learned = L.lstm(hidden, { initialState: 'learned', returnSequences: true })
    expectClose(run(learned, { ...lp, h0, c0 }, x), [2, 4, hidden], ref.all)
    const gref = gruRef(named(gp, '_l0'), x, T.broadcastTo(h0, [2, hidden]), hidden)
    expectClose(run(L.gru(hidden, { initialState: 'learned' }), { ...gp, h0 }, x), [2, hidden], gref.h)
    // The params must match the option: neither silently ignored nor silently zero.
    expect(() => run(L.lstm(hidden), { ...lp, h0, c0 } as never, x)).toThrow(/h0.*initialState is 'zeros'/)
    expect(() => run(L.gru(hidden, { initialState: 'learned' }), gp as never, x)).toThrow(
      /needs the parameter h0/,
    )
    expect(() => run(learned, { ...lp, h0: randn(1, [4]), c0 }, x)).toThrow(/h0 has shape \[4\]/)
    expect(() => L.lstm(hidden, { initialState: 'random' } as never)).toThrow(/initialState/)
  })

  it('lstmSequence: (h0, c0) in, output and (h_n, c_n) out, as nn.LSTM(x, (h0, c0))', () => {
    const [h0, c0] = [randn(61, [2, hidden]), randn(62, [2, hidden])]
    const ref = lstmRef(named(lp, '_l0'), x, h0, c0, hidden)
    const out = L.lstmSequence(lp, x, { h0, c0 })
    expectClose(out.output, [2, 4, hidden], ref.all)
    expectClose(out.h, [2, hidden], ref.h)
    expectClose(out.c, [2, hidden], ref.c)
    // Only h0: c starts at zero. Neither: the layer's output.
    const onlyH = lstmRef(named(lp, '_l0'), x, h0, undefined, hidden)
    expectClose(L.lstmSequence(lp, x, { h0 }).c, [2, hidden], onlyH.c)
    expectClose(L.lstmSequence(lp, x).h, [2, hidden], run(L.lstm(hidden), lp, x).data)
    // In two pieces, the second starting from the first's final state, equals the whole.
    const first = L.lstmSequence(lp, O.slice(x, [undefined, { start: 0, stop: 2 }]), { h0, c0 })
    const second = L.lstmSequence(lp, O.slice(x, [undefined, { start: 2, stop: 4 }]), {
      h0: first.h,
      c0: first.c,
    })
    expectClose(second.c, [2, hidden], ref.c)
    // A given state replaces a learned one.
    const learnedParams = { ...lp, h0: randn(63, [hidden]), c0: randn(64, [hidden]) }
    expectClose(L.lstmSequence(learnedParams, x, { h0, c0 }).h, [2, hidden], ref.h)
    expect(() => L.lstmSequence(lp, x, { h: h0 } as never)).toThrow(/lstmSequence.*h/)
    expect(() => L.lstmSequence(lp, x, { h0: randn(1, [3, hidden]) })).toThrow(
      /lstmSequence.*h0 has shape \[3,3\]/,
    )
    expect(() => L.lstmSequence({ weight_ih_l0: lp.weight_ih_l0 } as never, x)).toThrow(/weight_hh_l0/)
    // A parameter the layer does not read is refused, not ignored.
    expect(() => L.lstmSequence({ ...lp, weight_ih_l1: lp.weight_ih_l0 } as never, x)).toThrow(
      /lstmSequence.*unknown parameter 'weight_ih_l1'/,
    )
    expect(() => run(L.gruCell(hidden), gp as never, randn(1, [2, input + hidden]))).toThrow(
      /gruCell.*unknown parameter 'weight_ih_l0'/,
    )
  })

  it('gruSequence: h0 in ([N, hidden] or [hidden]), output and h_n out, as nn.GRU(x, h0)', () => {
    const h0 = randn(65, [2, hidden])
    const ref = gruRef(named(gp, '_l0'), x, h0, hidden)
    const out = L.gruSequence(gp, x, { h0 })
    expectClose(out.output, [2, 4, hidden], ref.all)
    expectClose(out.h, [2, hidden], ref.h)
    const shared = randn(66, [hidden])
    const refShared = gruRef(named(gp, '_l0'), x, T.broadcastTo(shared, [2, hidden]), hidden)
    expectClose(L.gruSequence(gp, x, { h0: shared }).h, [2, hidden], refShared.h)
    expect(() => L.gruSequence(gp, x, { c0: shared } as never)).toThrow(/gruSequence.*c0/)
  })

  it('checkVjp: gradients w.r.t. x, h0, c0 and the weights (lstmSequence, gruSequence, learned h0)', () => {
    const h = 2
    const args = [
      randn(70, [2, 3, 2]),
      randn(71, [8, 2]),
      randn(72, [8, 2]),
      randn(73, [2, h]),
      randn(74, [2, h]),
    ]
    const lstmOut = (pick: 'output' | 'h' | 'c') =>
      O.checkVjp(
        (xx: Tensor, wih: Tensor, whh: Tensor, h0: Tensor, c0: Tensor) =>
          L.lstmSequence({ weight_ih_l0: wih, weight_hh_l0: whh }, xx, { h0, c0 })[pick],
        args,
        { maxJacobianEntries: 20000 },
      )
    for (const pick of ['output', 'c'] as const) {
      const report = lstmOut(pick)
      expect(report.ok, report.message).toBe(true)
    }
    const gru = O.checkVjp(
      (xx: Tensor, wih: Tensor, whh: Tensor, bih: Tensor, bhh: Tensor, h0: Tensor) =>
        L.gruSequence({ weight_ih_l0: wih, weight_hh_l0: whh, bias_ih_l0: bih, bias_hh_l0: bhh }, xx, { h0 })
          .h,
      [
        randn(75, [2, 3, 2]),
        randn(76, [6, 2]),
        randn(77, [6, 2]),
        randn(78, [6]),
        randn(79, [6]),
        randn(80, [2]),
      ],
      { maxJacobianEntries: 20000 },
    )
    expect(gru.ok, gru.message).toBe(true)
    const learned = L.gru(h, { initialState: 'learned', bias: false, returnSequences: true })
    const viaLayer = O.checkVjp(
      (xx: Tensor, wih: Tensor, whh: Tensor, h0: Tensor) =>
        run(learned, { weight_ih_l0: wih, weight_hh_l0: whh, h0 }, xx),
      [randn(81, [2, 3, 2]), randn(82, [6, 2]), randn(83, [6, 2]), randn(84, [h])],
      { maxJacobianEntries: 20000 },
    )
    expect(viaLayer.ok, viaLayer.message).toBe(true)
  })
})

describe('recurrent layers under jit', () => {
  it('cells and learned initial states give the same values and gradients staged as eagerly', () => {
    const cases: ReadonlyArray<readonly [Layer<unknown, unknown>, number[]]> = [
      [L.lstmCell(3) as Layer<unknown, unknown>, [2 + 6]],
      [L.gruCell(2, { bias: false }) as Layer<unknown, unknown>, [3 + 2]],
      [L.lstm(3, { initialState: 'learned' }) as Layer<unknown, unknown>, [4, 2]],
      [L.gru(2, { initialState: 'learned', returnSequences: true }) as Layer<unknown, unknown>, [4, 2]],
    ]
    for (const [layer, inShape] of cases) {
      const init = unwrap(layer.init(key(5), inShape))
      // Perturbed, so learned states are not zero.
      const params = Object.fromEntries(
        flattenNamed(init.params).map(([n, p], i) => [n, T.add(p, T.random.normal(key(20 + i), p.shape))]),
      )
      const x = T.random.normal(key(6), [2, ...inShape])
      const loss = (p: unknown, input: Tensor): Tensor => O.sum(O.square(run(layer, p, input)))
      const both = O.grad(loss, { argnums: [0, 1] })
      const eager = flattenNamed(both(params, x))
      const staged = flattenNamed(O.jit(both)(params, x))
      expect(staged.map(([name]) => name)).toEqual(eager.map(([name]) => name))
      eager.forEach(([, a], i) => expectClose(staged[i]![1], a.shape, a.data, 1e-5))
      // The learned states get a gradient.
      for (const [name, g] of eager)
        if (name.endsWith('h0') || name.endsWith('c0'))
          expect(Math.max(...Array.from(g.data, Math.abs))).toBeGreaterThan(0)
    }
  })
})

describe('recurrent kinds: codec and allocation', () => {
  const cases: ReadonlyArray<readonly [Layer<unknown, unknown>, number[]]> = [
    [L.lstmCell(3) as Layer<unknown, unknown>, [7]],
    [L.lstmCell(2, { bias: false, dtype: 'float64' }) as Layer<unknown, unknown>, [5]],
    [L.gruCell(3) as Layer<unknown, unknown>, [4]],
    [L.gruCell(2, { bias: false }) as Layer<unknown, unknown>, [3]],
    [L.lstm(3, { initialState: 'learned' }) as Layer<unknown, unknown>, [4, 2]],
    [L.gru(2, { initialState: 'learned', returnSequences: true }) as Layer<unknown, unknown>, [4, 2]],
  ]

  it('round-trip their configs, and the decoded layers compute the same', () => {
    for (const [layer, inShape] of cases) {
      const encoded = encodeModel(layer)
      if (E.isLeft(encoded)) throw new Error(encoded.left.message)
      const decoded = decodeModel(JSON.parse(JSON.stringify(encoded.right)))
      if (E.isLeft(decoded)) throw new Error(decoded.left.message)
      expect(decoded.right.config).toEqual(layer.config)
      const init = unwrap(layer.init(key(3), inShape))
      const x = T.random.normal(key(4), [2, ...inShape])
      const a = run(layer, init.params, x)
      expectClose(run(decoded.right, init.params, x), a.shape, a.data, 0)
    }
    expect(encodeModel(L.lstmCell(3) as Layer<unknown, unknown>)).toEqual(
      E.right({ kind: 'lstmCell', hiddenSize: 3, bias: true }),
    )
    const bad = decodeModel({ kind: 'lstmCell', hiddenSize: 2, returnSequences: true })
    expect(E.isLeft(bad) && bad.left.path).toBe('returnSequences')
    const badState = decodeModel({ kind: 'gru', hiddenSize: 2, initialState: 'random' })
    expect(E.isLeft(badState) && badState.left.path).toBe('initialState')
    expect(E.isLeft(decodeModel({ kind: 'gruCell', hiddenSize: 0 }))).toBe(true)
  })

  it("the kinds' allocation is what init allocates, with init's outShape", () => {
    for (const [layer, inShape] of cases) {
      const init = unwrap(layer.init(key(0), inShape))
      const kind = builtinKinds[layer.kind as 'lstmCell' | 'gruCell' | 'lstm' | 'gru']
      const allocated = kind.allocation?.(layer.config!, inShape, () => undefined)
      const size = flattenNamed(init.params).reduce((n, [, p]) => n + p.data.length, 0)
      expect(allocated).toEqual({ size, outShape: init.outShape })
    }
  })
})
