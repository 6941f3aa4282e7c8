// layers.gru: values against a plain-loop implementation of PyTorch's nn.GRU formulas, parameter
// names / shapes / init, shape errors with paths, the config codec through the kind, and checkVjp.
import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { decodeModel, encodeModel } from '../src/config/index'
import * as L from '../src/layers/index'
import type { GruParams } from '../src/layers/index'
import type { Layer } from '../src/layer'
import { flattenNamed } from '../src/tree'
import { builtinKinds } from '../src/layers/builtins'
import { evalCtx, key, leftOf, randn, unwrap } from './helpers'

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v))

/**
 * PyTorch's GRU (batch_first, h0 = 0) by plain loops over float64 arrays, straight from the
 * documented formulas: rows [0, H) of each weight are r, [H, 2H) z, [2H, 3H) n. Returns every step's
 * hidden state, [batch][seq][hidden].
 */
const referenceGru = (
  x: Tensor,
  wih: Tensor,
  whh: Tensor,
  bih: Tensor | undefined,
  bhh: Tensor | undefined,
): number[][][] => {
  const [batch, seq, input] = x.shape as [number, number, number]
  const hidden = whh.shape[1]!
  const at = (t: Tensor | undefined, i: number): number => (t === undefined ? 0 : t.data[i]!)
  const out: number[][][] = []
  for (let b = 0; b < batch; b++) {
    let h = new Array<number>(hidden).fill(0)
    const steps: number[][] = []
    for (let s = 0; s < seq; s++) {
      // gate g (0 r, 1 z, 2 n), unit j: input part and hidden part separately (n needs them apart)
      const gi = (g: number, j: number): number => {
        let acc = at(bih, g * hidden + j)
        for (let k = 0; k < input; k++)
          acc += wih.data[(g * hidden + j) * input + k]! * x.data[(b * seq + s) * input + k]!
        return acc
      }
      const gh = (g: number, j: number): number => {
        let acc = at(bhh, g * hidden + j)
        for (let k = 0; k < hidden; k++) acc += whh.data[(g * hidden + j) * hidden + k]! * h[k]!
        return acc
      }
      const next: number[] = []
      for (let j = 0; j < hidden; j++) {
        const r = sigmoid(gi(0, j) + gh(0, j))
        const z = sigmoid(gi(1, j) + gh(1, j))
        const n = Math.tanh(gi(2, j) + r * gh(2, j))
        next.push((1 - z) * n + z * h[j]!)
      }
      h = next
      steps.push(h)
    }
    out.push(steps)
  }
  return out
}

const worst = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length)
  let w = 0
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i]! - b[i]!))
  return w
}

function unwrapE<A>(r: E.Either<unknown, A>): A {
  if (E.isLeft(r)) throw new Error(JSON.stringify(r.left))
  return r.right
}

describe('layers.gru', () => {
  it("parameters: PyTorch's names and shapes, uniform in ±1/√hidden; outShape by returnSequences", () => {
    const built = unwrap(L.gru(16).init(key(0), [7, 5]))
    expect(flattenNamed(built.params).map(([n, t]) => [n, t.shape, t.dtype])).toEqual([
      ['weight_ih_l0', [48, 5], 'float32'],
      ['weight_hh_l0', [48, 16], 'float32'],
      ['bias_ih_l0', [48], 'float32'],
      ['bias_hh_l0', [48], 'float32'],
    ])
    expect(built.outShape).toEqual([16])
    for (const [, t] of flattenNamed(built.params)) {
      const values = Array.from(t.data)
      expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(0.25)
      // Spread over the whole interval, not a narrower one.
      expect(Math.max(...values)).toBeGreaterThan(0.15)
      expect(Math.min(...values)).toBeLessThan(-0.15)
    }
    // Four different draws.
    expect(built.params.weight_ih_l0.data[0]).not.toBe(built.params.weight_hh_l0.data[0])
    const seqs = unwrap(
      L.gru(3, { returnSequences: true, bias: false, dtype: 'float64' }).init(key(0), [7, 5]),
    )
    expect(seqs.outShape).toEqual([7, 3])
    expect(flattenNamed(seqs.params).map(([n, t]) => [n, t.dtype])).toEqual([
      ['weight_ih_l0', 'float64'],
      ['weight_hh_l0', 'float64'],
    ])
  })

  it("values: the last state and every step's state equal a plain loop of PyTorch's formulas (float64)", () => {
    const [batch, seq, input, hidden] = [3, 5, 4, 6]
    const x = randn(1, [batch, seq, input])
    const p: GruParams = {
      weight_ih_l0: randn(2, [3 * hidden, input]),
      weight_hh_l0: randn(3, [3 * hidden, hidden]),
      bias_ih_l0: randn(4, [3 * hidden]),
      bias_hh_l0: randn(5, [3 * hidden]),
    }
    const ref = referenceGru(x, p.weight_ih_l0, p.weight_hh_l0, p.bias_ih_l0, p.bias_hh_l0)
    const [last] = L.gru(hidden).apply(p, {}, x, evalCtx)
    expect(last.shape).toEqual([batch, hidden])
    expect(
      worst(
        last.data,
        ref.flatMap((steps) => steps[seq - 1]!),
      ),
    ).toBeLessThan(1e-12)
    const [all] = L.gru(hidden, { returnSequences: true }).apply(p, {}, x, evalCtx)
    expect(all.shape).toEqual([batch, seq, hidden])
    expect(worst(all.data, ref.flat(2))).toBeLessThan(1e-12)
    // Without biases.
    const noBias = { weight_ih_l0: p.weight_ih_l0, weight_hh_l0: p.weight_hh_l0 }
    const refNoBias = referenceGru(x, p.weight_ih_l0, p.weight_hh_l0, undefined, undefined)
    const [y] = L.gru(hidden, { bias: false, returnSequences: true }).apply(noBias, {}, x, evalCtx)
    expect(worst(y.data, refNoBias.flat(2))).toBeLessThan(1e-12)
    // A one-step sequence.
    const x1 = randn(6, [2, 1, input])
    const [y1] = L.gru(hidden).apply(p, {}, x1, evalCtx)
    const ref1 = referenceGru(x1, p.weight_ih_l0, p.weight_hh_l0, p.bias_ih_l0, p.bias_hh_l0)
    expect(
      worst(
        y1.data,
        ref1.flatMap((s) => s[0]!),
      ),
    ).toBeLessThan(1e-12)
  })

  it('values (and grads) under jit, and values under vmap, equal the eager ones', () => {
    const hidden = 3
    const layer = L.gru(hidden, { returnSequences: true })
    const p = unwrap(L.gru(hidden, { dtype: 'float64' }).init(key(4), [4, 2])).params as GruParams
    const x = randn(8, [2, 4, 2])
    const [eager] = layer.apply(p, {}, x, evalCtx)
    const jitted = O.jit((xx: Tensor) => layer.apply(p, {}, xx, evalCtx)[0])(x)
    expect(worst(jitted.data, eager.data)).toBeLessThan(1e-12)
    // jit of grad (a training step's shape) equals eager grad.
    const loss = (wih: Tensor, whh: Tensor): Tensor =>
      O.sum(layer.apply({ ...p, weight_ih_l0: wih, weight_hh_l0: whh }, {}, x, evalCtx)[0])
    const eagerGrads = O.grad(loss, { argnums: [0, 1] })(p.weight_ih_l0, p.weight_hh_l0) as Tensor[]
    const jitGrads = O.jit(O.grad(loss, { argnums: [0, 1] }))(p.weight_ih_l0, p.weight_hh_l0) as Tensor[]
    for (let i = 0; i < 2; i++) expect(worst(jitGrads[i]!.data, eagerGrads[i]!.data)).toBeLessThan(1e-12)
    // vmap over an extra leading axis: each slice as its own batch.
    const xs = randn(9, [3, 2, 4, 2])
    const mapped = O.vmap((xx: Tensor) => layer.apply(p, {}, xx, evalCtx)[0])(xs)
    expect(mapped.shape).toEqual([3, 2, 4, hidden])
    for (let i = 0; i < 3; i++) {
      const slice = T.slice(xs, [{ start: i, stop: i + 1 }])
      const [one] = layer.apply(p, {}, T.reshape(slice, [2, 4, 2]), evalCtx)
      const got = T.slice(mapped, [{ start: i, stop: i + 1 }])
      expect(worst(got.data, one.data)).toBeLessThan(1e-12)
    }
  })

  it('shape inference: bad inputs and options are LayerErrors naming the layer and its path', () => {
    expect(leftOf(L.gru(4).init(key(0), [8])).message).toMatch(/rank 2 \(\[seq, input\]/)
    expect(leftOf(L.gru(4).init(key(0), [0, 3])).message).toMatch(/sequence length must be at least 1/)
    expect(leftOf(L.gru(0).init(key(0), [5, 3])).message).toMatch(/hiddenSize must be a positive integer/)
    expect(leftOf(L.gru(2.5).init(key(0), [5, 3])).message).toMatch(/hiddenSize/)
    expect(leftOf(L.gru(4, { dtype: 'int32' }).init(key(0), [5, 3])).message).toMatch(/dtype/)
    const nested = L.sequential(L.dense(3), L.gru(4))
    const err = leftOf(nested.init(key(0), [6]))
    expect(err.path).toBe('1 (gru)')
    // An unknown option is refused, not ignored.
    expect(() => L.gru(4, { bidirectional: true } as never)).toThrow(/bidirectional/)
    expect(() => L.gru(4, { returnSequences: 1 } as never)).toThrow(/returnSequences/)
    // apply: rank and width checks.
    const p = unwrap(L.gru(4).init(key(0), [5, 3])).params
    expect(() => L.gru(4).apply(p, {}, randn(0, [5, 3]), evalCtx)).toThrow(/rank 3/)
    expect(() => L.gru(4).apply(p, {}, randn(0, [2, 5, 2]), evalCtx)).toThrow(/weight_ih_l0/)
    // Downstream layers see the inferred shape.
    const stack = unwrap(L.sequential(L.gru(4, { returnSequences: true }), L.gru(2)).init(key(0), [5, 3]))
    expect(stack.outShape).toEqual([2])
  })

  it('config codec: encodeModel / decodeModel round-trips every option through the kind', () => {
    const model = L.sequential(L.gru(5, { bias: false, returnSequences: true, dtype: 'float64' }))
    const json = JSON.parse(JSON.stringify(unwrapE(encodeModel(model as unknown as Layer<unknown, unknown>))))
    expect(json.layers[0]).toEqual({
      kind: 'gru',
      hiddenSize: 5,
      bias: false,
      returnSequences: true,
      dtype: 'float64',
    })
    const rebuilt = unwrapE(decodeModel(json))
    expect(rebuilt.config).toEqual(model.config)
    const built = unwrap(rebuilt.init(key(1), [3, 4]))
    expect(built.outShape).toEqual([3, 5])
    expect(flattenNamed(built.params).map(([n, t]) => [n, t.dtype])).toEqual([
      ['0.weight_ih_l0', 'float64'],
      ['0.weight_hh_l0', 'float64'],
    ])
    const defaults = unwrapE(decodeModel({ kind: 'gru', hiddenSize: 2 }))
    expect(unwrap(defaults.init(key(1), [3, 4])).outShape).toEqual([2])
    expect(E.isLeft(decodeModel({ kind: 'gru', hiddenSize: 0 }))).toBe(true)
    expect(E.isLeft(decodeModel({ kind: 'gru' }))).toBe(true)
    expect(E.isLeft(decodeModel({ kind: 'gru', hiddenSize: 2, returnSequences: 'yes' }))).toBe(true)
  })

  it("the kind's allocation equals what init allocates, and its outShape", () => {
    for (const opts of [{}, { bias: false }, { returnSequences: true }] as const) {
      const layer = L.gru(4, opts) as Layer<unknown, unknown>
      const allocation = builtinKinds.gru.allocation?.(layer.config!, [6, 3], () => undefined)
      const built = unwrap(layer.init(key(0), [6, 3]))
      const size = flattenNamed(built.params).reduce((n, [, t]) => n + t.data.length, 0)
      expect(allocation?.size).toBe(size)
      expect(allocation?.outShape).toEqual(built.outShape)
    }
  })

  it('checkVjp: gradients w.r.t. the input and every parameter (last state and all steps)', () => {
    for (const returnSequences of [false, true]) {
      const layer = L.gru(3, { returnSequences })
      const f = (x: Tensor, wih: Tensor, whh: Tensor, bih: Tensor, bhh: Tensor): Tensor =>
        layer.apply(
          { weight_ih_l0: wih, weight_hh_l0: whh, bias_ih_l0: bih, bias_hh_l0: bhh },
          {},
          x,
          evalCtx,
        )[0]
      const report = O.checkVjp(
        f,
        [randn(10, [2, 4, 2]), randn(11, [9, 2]), randn(12, [9, 3]), randn(13, [9]), randn(14, [9])],
        { maxJacobianEntries: 20000 },
      )
      expect(report.ok, report.message).toBe(true)
    }
    const noBias = L.gru(2, { bias: false })
    const report = O.checkVjp(
      (x: Tensor, wih: Tensor, whh: Tensor) =>
        noBias.apply({ weight_ih_l0: wih, weight_hh_l0: whh }, {}, x, evalCtx)[0],
      [randn(15, [2, 3, 2]), randn(16, [6, 2]), randn(17, [6, 2])],
    )
    expect(report.ok, report.message).toBe(true)
  })

  it('grad through the layer equals the gradient of the plain-loop reference by finite differences', () => {
    // A cross-check independent of checkVjp: d(sum of last state)/d weight_hh_l0[0, 0] numerically.
    const x = randn(20, [1, 3, 2])
    const p: GruParams = {
      weight_ih_l0: randn(21, [6, 2]),
      weight_hh_l0: randn(22, [6, 2]),
      bias_ih_l0: randn(23, [6]),
      bias_hh_l0: randn(24, [6]),
    }
    const g = O.grad((whh: Tensor) => O.sum(L.gru(2).apply({ ...p, weight_hh_l0: whh }, {}, x, evalCtx)[0]))(
      p.weight_hh_l0,
    )
    const eps = 1e-6
    const shifted = (d: number): number => {
      const w = T.add(
        p.weight_hh_l0,
        T.unsafeTensor('float64', [6, 2], Float64Array.from([d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
      )
      const ref = referenceGru(x, p.weight_ih_l0, w, p.bias_ih_l0, p.bias_hh_l0)
      return ref[0]![2]!.reduce((a, b) => a + b, 0)
    }
    expect(Math.abs(g.data[0]! - (shifted(eps) - shifted(-eps)) / (2 * eps))).toBeLessThan(1e-7)
  })
})
