// Attention layers: values against loops written from the formula with PyTorch's parameter layout,
// shape errors with paths, the config codec through the kind mechanism, and checkVjp.
import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { decodeModel, encodeModel } from '../src/config/index'
import * as L from '../src/layers/index'
import type { MultiHeadAttentionParams, TransformerBlockParams } from '../src/layers/index'
import type { Layer } from '../src/layer'
import { flattenNamed } from '../src/tree'
import { builtinKinds } from '../src/layers/builtins'
import { evalCtx, key, leftOf, randn, unwrap } from './helpers'

/**
 * PyTorch's nn.MultiheadAttention (batch_first, query = key = value = x) written as loops:
 * x [N, L, E], w [3E, E] (rows q, k, v), b [3E] or undefined, wo [E, E], bo [E] or undefined.
 * `drop(n, h, i, j)` multiplies each probability (dropout's scaled mask), default 1.
 */
const reference = (
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  wo: Tensor,
  bo: Tensor | undefined,
  heads: number,
  causal: boolean,
  drop: (n: number, h: number, i: number, j: number) => number = () => 1,
  rotaryBase?: number,
): number[] => {
  const [n, l, e] = x.shape as [number, number, number]
  const d = e / heads
  const X = (b0: number, i: number, c: number): number => x.data[(b0 * l + i) * e + c]!
  const out: number[] = []
  for (let b0 = 0; b0 < n; b0++) {
    // proj[part][i][c] = Σ_k x[i][k] W[part·E + c][k] + b[part·E + c]
    const proj = [0, 1, 2].map((part) =>
      Array.from({ length: l }, (_, i) =>
        Array.from({ length: e }, (_, c) => {
          let s = b === undefined ? 0 : b.data[part * e + c]!
          for (let k = 0; k < e; k++) s += X(b0, i, k) * w.data[(part * e + c) * e + k]!
          return s
        }),
      ),
    )
    // RoFormer's rotation, rotate-half pairing: channel c and c + d/2 of each head by pos · base^(−2c/d).
    if (rotaryBase !== undefined)
      for (const part of [0, 1])
        for (let i = 0; i < l; i++)
          for (let h = 0; h < heads; h++)
            for (let c = 0; c < d / 2; c++) {
              const row = proj[part]![i]!
              const a = row[h * d + c]!
              const b2 = row[h * d + c + d / 2]!
              const angle = i / Math.pow(rotaryBase, (2 * c) / d)
              row[h * d + c] = a * Math.cos(angle) - b2 * Math.sin(angle)
              row[h * d + c + d / 2] = b2 * Math.cos(angle) + a * Math.sin(angle)
            }
    const concat = Array.from({ length: l }, () => new Array<number>(e).fill(0))
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < l; i++) {
        const logits: number[] = []
        for (let j = 0; j < l; j++) {
          let s = 0
          for (let c = h * d; c < (h + 1) * d; c++) s += proj[0]![i]![c]! * proj[1]![j]![c]!
          logits.push(causal && j > i ? -Infinity : s / Math.sqrt(d))
        }
        const m = Math.max(...logits)
        const ex = logits.map((s) => Math.exp(s - m))
        const z = ex.reduce((a, c) => a + c, 0)
        for (let j = 0; j < l; j++) {
          const p = (ex[j]! / z) * drop(b0, h, i, j)
          for (let c = h * d; c < (h + 1) * d; c++) concat[i]![c]! += p * proj[2]![j]![c]!
        }
      }
    for (let i = 0; i < l; i++)
      for (let o = 0; o < e; o++) {
        let s = bo === undefined ? 0 : bo.data[o]!
        for (let c = 0; c < e; c++) s += concat[i]![c]! * wo.data[o * e + c]!
        out.push(s)
      }
  }
  return out
}

const close = (actual: Tensor, expected: ReadonlyArray<number>, tol = 1e-10): void => {
  expect(actual.data.length).toBe(expected.length)
  for (let i = 0; i < expected.length; i++) {
    const a = actual.data[i]!
    const e = expected[i]!
    if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e))))
      throw new Error(`element ${i}: got ${a}, expected ${e}`)
  }
}

/** Params in PyTorch's layout, random float64 (no neutral zeros that would hide a misplaced bias). */
const torchParams = (e: number, seed: number): MultiHeadAttentionParams => ({
  in_proj_weight: randn(seed, [3 * e, e]),
  in_proj_bias: randn(seed + 1, [3 * e]),
  out_proj: { weight: randn(seed + 2, [e, e]), bias: randn(seed + 3, [e]) },
})

describe('layers.multiHeadAttention', () => {
  it("init makes PyTorch's parameter names and shapes (the state dict's keys), zero biases", () => {
    const layer = L.multiHeadAttention({ heads: 2 })
    const { params, outShape } = unwrap(layer.init(key(0), [5, 8]))
    expect(outShape).toEqual([5, 8])
    const named = flattenNamed(params).map(([name, t]) => [name, t.shape])
    expect(named).toEqual([
      ['in_proj_weight', [24, 8]],
      ['in_proj_bias', [24]],
      ['out_proj.weight', [8, 8]],
      ['out_proj.bias', [8]],
    ])
    expect([...params.in_proj_bias.data].every((v) => v === 0)).toBe(true)
    // Xavier uniform over [3E, E]: bound √(6 / (E + 3E)).
    const bound = Math.sqrt(6 / 32)
    const w = [...params.in_proj_weight.data]
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound)
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(bound * 0.8)
    const noBias = unwrap(L.multiHeadAttention({ heads: 2, bias: false }).init(key(0), [5, 8])).params
    expect(flattenNamed(noBias).map(([name]) => name)).toEqual(['in_proj_weight', 'out_proj.weight'])
  })

  it('equals the loop-written formula with the same (PyTorch-layout) weights: heads 1, 2, 4, causal or not', () => {
    for (const [heads, causal] of [
      [1, false],
      [2, false],
      [4, true],
      [2, true],
    ] as const) {
      const layer = L.multiHeadAttention({ heads, causal })
      const p = torchParams(8, 10 + heads)
      const x = randn(3, [2, 5, 8])
      const [y] = layer.apply(p, {}, x, evalCtx)
      expect(y.shape).toEqual([2, 5, 8])
      close(
        y,
        reference(x, p.in_proj_weight, p.in_proj_bias, p.out_proj.weight, p.out_proj.bias, heads, causal),
      )
    }
  })

  it('rotary: q and k of each head rotated (rotate-half pairs) before attention, equal to the formula', () => {
    for (const [heads, base, causal] of [
      [2, 10000, false],
      [1, 50, true],
    ] as const) {
      const layer = L.multiHeadAttention({ heads, causal, rotary: true, rotaryBase: base })
      const p = torchParams(8, 40)
      const x = randn(6, [2, 5, 8])
      const [y] = layer.apply(p, {}, x, evalCtx)
      const args = [
        x,
        p.in_proj_weight,
        p.in_proj_bias,
        p.out_proj.weight,
        p.out_proj.bias,
        heads,
        causal,
      ] as const
      close(y, reference(...args, undefined, base))
      // The rotation matters (the test would catch a layer that ignored the option).
      expect(Math.abs(y.data[20]! - reference(...args)[20]!)).toBeGreaterThan(1e-6)
    }
    expect(leftOf(L.multiHeadAttention({ heads: 4, rotary: true }).init(key(0), [5, 12])).message).toMatch(
      /even head width/,
    )
    expect(leftOf(L.multiHeadAttention({ heads: 2, rotaryBase: 100 }).init(key(0), [5, 8])).message).toMatch(
      /rotaryBase is given but rotary is not true/,
    )
  })

  it('bias: false has no biases and equals the formula without them', () => {
    const layer = L.multiHeadAttention({ heads: 2, bias: false })
    const p = { in_proj_weight: randn(1, [12, 4]), out_proj: { weight: randn(2, [4, 4]) } }
    const x = randn(3, [3, 4, 4])
    const [y] = layer.apply(p, {}, x, evalCtx)
    close(y, reference(x, p.in_proj_weight, undefined, p.out_proj.weight, undefined, 2, false))
  })

  it('dropout on the probabilities in training (mask from ctx.key), the identity in evaluation', () => {
    const layer = L.multiHeadAttention({ heads: 2, dropout: 0.3, causal: true })
    const p = torchParams(4, 20)
    const x = randn(4, [2, 3, 4])
    const k = key(7)
    const [train] = layer.apply(p, {}, x, { training: true, key: k })
    const keep = O.randomBernoulli(k, 0.7, [2, 2, 3, 3]).data
    const drop = (n: number, h: number, i: number, j: number): number =>
      keep[((n * 2 + h) * 3 + i) * 3 + j]! ? 1 / 0.7 : 0
    close(
      train,
      reference(x, p.in_proj_weight, p.in_proj_bias, p.out_proj.weight, p.out_proj.bias, 2, true, drop),
    )
    const [evaluated] = layer.apply(p, {}, x, evalCtx)
    close(
      evaluated,
      reference(x, p.in_proj_weight, p.in_proj_bias, p.out_proj.weight, p.out_proj.bias, 2, true),
    )
    expect(() => layer.apply(p, {}, x, { training: true })).toThrow(/ctx\.key is required/)
  })

  it('dropout in training is the op’s option: one attention op staged, jit (key as data) and gradients as eager', () => {
    const layer = L.multiHeadAttention({ heads: 2, dropout: 0.3, causal: true })
    const p = torchParams(4, 21)
    const x = randn(5, [2, 3, 4])
    const data = T.random.keyData(key(9))
    const forward = (w: Tensor, kd: Tensor): Tensor =>
      layer.apply({ ...p, in_proj_weight: w }, {}, x, { training: true, key: T.random.wrapKey(kd) })[0]
    const loss = (w: Tensor, kd: Tensor): Tensor => O.sum(O.square(forward(w, kd)))
    close(O.jit(forward)(p.in_proj_weight, data), [...forward(p.in_proj_weight, data).data])
    const eager = O.grad(loss)(p.in_proj_weight, data)
    close(O.jit(O.grad(loss))(p.in_proj_weight, data), [...eager.data])
    // One attention op in training too (its dropout option, the mask drawn once), no softmax beside it.
    const ops = O.makeGraph(forward)(p.in_proj_weight, data).equations.map((e) => e.op.name)
    expect(ops.filter((n) => n === 'scaledDotProductAttention')).toHaveLength(1)
    expect(ops).not.toContain('softmax')
    expect(ops.filter((n) => n === 'randomBernoulli')).toHaveLength(1)
    // The dropout reaches the gradient: it differs from evaluation mode's.
    const evalLoss = (w: Tensor): Tensor =>
      O.sum(O.square(layer.apply({ ...p, in_proj_weight: w }, {}, x, evalCtx)[0]))
    expect([...O.grad(evalLoss)(p.in_proj_weight).data]).not.toEqual([...eager.data])
  })

  it('shape inference: bad inputs and options are LayerErrors naming the layer and its path', () => {
    expect(leftOf(L.multiHeadAttention({ heads: 2 }).init(key(0), [8])).message).toMatch(
      /rank 2 \(\[seq, dim\]\)/,
    )
    expect(leftOf(L.multiHeadAttention({ heads: 3 }).init(key(0), [5, 8])).message).toMatch(
      /heads \(3\) must divide the model width dim \(8\)/,
    )
    expect(leftOf(L.multiHeadAttention({ heads: 2, dim: 6 }).init(key(0), [5, 8])).message).toMatch(
      /dim is 6 but the input's last axis is 8/,
    )
    expect(leftOf(L.multiHeadAttention({ heads: 2, dropout: 1 }).init(key(0), [5, 8])).message).toMatch(
      /dropout/,
    )
    const nested = L.sequential(L.layerNorm(), L.multiHeadAttention({ heads: 4 }))
    const err = leftOf(nested.init(key(0), [5, 6]))
    expect(err.path).toBe('1 (multiHeadAttention)')
    // kDim/vDim (cross-attention) are not options: refused, not ignored.
    expect(() => L.multiHeadAttention({ heads: 2, kDim: 4 } as never)).toThrow(/kDim/)
    expect(() => L.multiHeadAttention({} as never)).toThrow(/heads/)
  })

  it('config codec: encodeModel / decodeModel round-trips every option through the kind', () => {
    const model = L.sequential(
      L.multiHeadAttention({
        heads: 2,
        dim: 4,
        dropout: 0.1,
        causal: true,
        bias: false,
        rotary: true,
        rotaryBase: 500,
        dtype: 'float64',
      }),
    )
    const json = JSON.parse(JSON.stringify(unwrapE(encodeModel(model as unknown as Layer<unknown, unknown>))))
    expect(json.layers[0]).toEqual({
      kind: 'multiHeadAttention',
      heads: 2,
      dim: 4,
      dropout: 0.1,
      causal: true,
      bias: false,
      rotary: true,
      rotaryBase: 500,
      dtype: 'float64',
    })
    const rebuilt = unwrapE(decodeModel(json))
    expect(rebuilt.config).toEqual(model.config)
    const p = unwrap(rebuilt.init(key(1), [3, 4])).params
    expect(flattenNamed(p).map(([n, t]) => [n, t.dtype])).toEqual([
      ['0.in_proj_weight', 'float64'],
      ['0.out_proj.weight', 'float64'],
    ])
    const bad = decodeModel({ kind: 'multiHeadAttention', heads: 0 })
    expect(E.isLeft(bad)).toBe(true)
  })

  it('checkVjp: gradients w.r.t. the input and every parameter (causal and not, rotary)', () => {
    for (const [causal, rotary] of [
      [false, false],
      [true, false],
      [true, true],
    ] as const) {
      const layer = L.multiHeadAttention({ heads: 2, causal, rotary })
      const f = (x: Tensor, w: Tensor, b: Tensor, wo: Tensor, bo: Tensor): Tensor =>
        layer.apply(
          { in_proj_weight: w, in_proj_bias: b, out_proj: { weight: wo, bias: bo } },
          {},
          x,
          evalCtx,
        )[0]
      const p = torchParams(4, 30)
      const report = O.checkVjp(
        f,
        [randn(5, [2, 3, 4]), p.in_proj_weight, p.in_proj_bias, p.out_proj.weight, p.out_proj.bias],
        { maxJacobianEntries: 20000 },
      )
      expect(report.ok, report.message).toBe(true)
    }
  })
})

function unwrapE<A>(r: E.Either<unknown, A>): A {
  if (E.isLeft(r)) throw new Error(JSON.stringify(r.left))
  return r.right
}

describe('layers.positionalEmbedding and layers.sinusoidal', () => {
  it('positionalEmbedding adds row p of its [maxLen, dim] table at position p (shorter sequences too)', () => {
    const layer = L.positionalEmbedding({ maxLen: 6 })
    const { params, outShape } = unwrap(layer.init(key(0), [4, 3]))
    expect(outShape).toEqual([4, 3])
    expect(params.weight.shape).toEqual([6, 3])
    const weight = randn(1, [6, 3])
    for (const seq of [4, 6]) {
      const x = randn(2, [2, seq, 3])
      const [y] = layer.apply({ weight }, {}, x, evalCtx)
      const expected: number[] = []
      for (let n = 0; n < 2; n++)
        for (let p = 0; p < seq; p++)
          for (let c = 0; c < 3; c++) expected.push(x.data[(n * seq + p) * 3 + c]! + weight.data[p * 3 + c]!)
      close(y, expected)
    }
  })

  it('sinusoidal adds sin/cos of p / base^(2i/dim) at channels 2i / 2i+1', () => {
    for (const base of [10000, 7]) {
      const layer = L.sinusoidal(base === 10000 ? {} : { base })
      expect(unwrap(layer.init(key(0), [5, 6])).params).toEqual({})
      const x = randn(3, [2, 5, 6])
      const [y] = layer.apply({}, {}, x, evalCtx)
      const expected: number[] = []
      for (let n = 0; n < 2; n++)
        for (let p = 0; p < 5; p++)
          for (let c = 0; c < 6; c++) {
            const freq = 1 / base ** ((c - (c % 2)) / 6)
            expected.push(
              x.data[(n * 5 + p) * 6 + c]! + (c % 2 === 0 ? Math.sin(p * freq) : Math.cos(p * freq)),
            )
          }
      close(y, expected)
    }
  })

  it('shape errors are LayerErrors naming the layer', () => {
    expect(leftOf(L.positionalEmbedding({ maxLen: 3 }).init(key(0), [4, 2])).message).toMatch(
      /exceeds maxLen 3/,
    )
    expect(leftOf(L.positionalEmbedding({ maxLen: 3 }).init(key(0), [2])).message).toMatch(/rank 2/)
    expect(leftOf(L.positionalEmbedding({ maxLen: 0 }).init(key(0), [2, 2])).message).toMatch(/maxLen/)
    expect(leftOf(L.sinusoidal().init(key(0), [4, 3])).message).toMatch(/dim must be even/)
    expect(leftOf(L.sinusoidal({ base: -1 }).init(key(0), [4, 2])).message).toMatch(/base/)
    const nested = leftOf(L.sequential(L.embedding(5, 3), L.sinusoidal()).init(key(0), [4]))
    expect(nested.path).toBe('1 (sinusoidal)')
    expect(() => L.positionalEmbedding({ maxLen: 4, max: 3 } as never)).toThrow(/max/)
  })

  it('config codec round-trips both kinds', () => {
    const model = L.sequential(
      L.embedding(5, 4),
      L.positionalEmbedding({ maxLen: 8, dtype: 'float64' }),
      L.sinusoidal({ base: 100 }),
    )
    const json = JSON.parse(JSON.stringify(unwrapE(encodeModel(model as unknown as Layer<unknown, unknown>))))
    expect(json.layers.slice(1)).toEqual([
      { kind: 'positionalEmbedding', maxLen: 8, dtype: 'float64' },
      { kind: 'sinusoidal', base: 100 },
    ])
    const rebuilt = unwrapE(decodeModel(json))
    expect(rebuilt.config).toEqual(model.config)
    expect(E.isLeft(decodeModel({ kind: 'sinusoidal', base: 0 }))).toBe(true)
    expect(E.isLeft(decodeModel({ kind: 'positionalEmbedding' }))).toBe(true)
  })

  it('checkVjp: positionalEmbedding w.r.t. input and table, sinusoidal w.r.t. input', () => {
    const pos = L.positionalEmbedding({ maxLen: 5 })
    const r1 = O.checkVjp(
      (x, w) => pos.apply({ weight: w }, {}, x, evalCtx)[0],
      [randn(1, [2, 3, 2]), randn(2, [5, 2])],
    )
    expect(r1.ok, r1.message).toBe(true)
    const sin = L.sinusoidal()
    const r2 = O.checkVjp((x) => sin.apply({}, {}, x, evalCtx)[0], [randn(3, [2, 3, 4])])
    expect(r2.ok, r2.message).toBe(true)
  })
})

/** erf by its Maclaurin series (|x| < 5; float64 keeps ~1e-9 there), ±1 beyond. */
const erf = (x: number): number => {
  if (Math.abs(x) >= 5) return Math.sign(x)
  let term = x
  let sum = x
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n
    sum += term / (2 * n + 1)
  }
  return (2 / Math.sqrt(Math.PI)) * sum
}

/** Rows of [rows, width] layer-normalised (biased variance, eps 1e-5) with weight and bias, by loops. */
const layerNormRows = (x: ReadonlyArray<number>, width: number, w: Tensor, b: Tensor): number[] => {
  const out: number[] = []
  for (let r = 0; r < x.length / width; r++) {
    const row = x.slice(r * width, (r + 1) * width)
    const mean = row.reduce((a, c) => a + c, 0) / width
    const variance = row.reduce((a, c) => a + (c - mean) ** 2, 0) / width
    row.forEach((v, i) => out.push(((v - mean) / Math.sqrt(variance + 1e-5)) * w.data[i]! + b.data[i]!))
  }
  return out
}

/** Rows of [rows, in] times Wᵀ ([out, in]) plus b, by loops. */
const linearRows = (x: ReadonlyArray<number>, w: Tensor, b: Tensor): number[] => {
  const [out, inW] = w.shape as [number, number]
  const y: number[] = []
  for (let r = 0; r < x.length / inW; r++)
    for (let o = 0; o < out; o++) {
      let s = b.data[o]!
      for (let i = 0; i < inW; i++) s += x[r * inW + i]! * w.data[o * inW + i]!
      y.push(s)
    }
  return y
}

describe('layers.transformerBlock', () => {
  const blockParams = (e: number, hidden: number, seed: number): TransformerBlockParams => ({
    self_attn: torchParams(e, seed),
    linear1: { weight: randn(seed + 5, [hidden, e]), bias: randn(seed + 6, [hidden]) },
    linear2: { weight: randn(seed + 7, [e, hidden]), bias: randn(seed + 8, [e]) },
    norm1: { weight: randn(seed + 9, [e]), bias: randn(seed + 10, [e]) },
    norm2: { weight: randn(seed + 11, [e]), bias: randn(seed + 12, [e]) },
  })

  it("init makes PyTorch's TransformerEncoderLayer names and shapes", () => {
    const { params, outShape } = unwrap(L.transformerBlock({ heads: 2, mlpRatio: 3 }).init(key(0), [5, 4]))
    expect(outShape).toEqual([5, 4])
    expect(flattenNamed(params).map(([n, t]) => [n, t.shape])).toEqual([
      ['self_attn.in_proj_weight', [12, 4]],
      ['self_attn.in_proj_bias', [12]],
      ['self_attn.out_proj.weight', [4, 4]],
      ['self_attn.out_proj.bias', [4]],
      ['linear1.weight', [12, 4]],
      ['linear1.bias', [12]],
      ['linear2.weight', [4, 12]],
      ['linear2.bias', [4]],
      ['norm1.weight', [4]],
      ['norm1.bias', [4]],
      ['norm2.weight', [4]],
      ['norm2.bias', [4]],
    ])
  })

  it('pre-norm: x + attn(norm1(x)), then h + linear2(gelu(linear1(norm2(h)))), equal to loops', () => {
    for (const causal of [false, true]) {
      const layer = L.transformerBlock({ heads: 2, mlpRatio: 2, causal, dropout: 0.5 })
      const p = blockParams(4, 8, 50)
      const x = randn(8, [2, 3, 4])
      const [y] = layer.apply(p, {}, x, evalCtx)
      const xs = [...x.data]
      const a1 = layerNormRows(xs, 4, p.norm1.weight, p.norm1.bias)
      const sa = p.self_attn
      const att = reference(
        T.unsafeTensor('float64', [2, 3, 4], Float64Array.from(a1)),
        sa.in_proj_weight,
        sa.in_proj_bias,
        sa.out_proj.weight,
        sa.out_proj.bias,
        2,
        causal,
      )
      const h = xs.map((v, i) => v + att[i]!)
      const hidden = linearRows(
        layerNormRows(h, 4, p.norm2.weight, p.norm2.bias),
        p.linear1.weight,
        p.linear1.bias,
      )
      const g = hidden.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)))
      const mlp = linearRows(g, p.linear2.weight, p.linear2.bias)
      close(
        y,
        h.map((v, i) => v + mlp[i]!),
        1e-8,
      )
    }
  })

  it('dropout in training needs a key, is deterministic for a key, and changes the output', () => {
    const layer = L.transformerBlock({ heads: 2, dropout: 0.3 })
    const p = blockParams(4, 16, 60)
    const x = randn(9, [2, 3, 4])
    expect(() => layer.apply(p, {}, x, { training: true })).toThrow(/ctx\.key is required/)
    const [a] = layer.apply(p, {}, x, { training: true, key: key(1) })
    const [b] = layer.apply(p, {}, x, { training: true, key: key(1) })
    const [c] = layer.apply(p, {}, x, evalCtx)
    expect([...a.data]).toEqual([...b.data])
    expect([...a.data]).not.toEqual([...c.data])
  })

  it("dropout acts in all four of PyTorch's places and rotary reaches the attention (against a composition of the parts)", () => {
    const rate = 0.4
    const p = blockParams(4, 8, 70)
    const x = randn(10, [2, 3, 4])
    const k = key(5)
    for (const rotary of [false, true]) {
      const [y] = L.transformerBlock({ heads: 2, mlpRatio: 2, dropout: rate, rotary }).apply(p, {}, x, {
        training: true,
        key: k,
      })
      // One key per site, split from ctx.key: attention probabilities, attention output, after the
      // GELU, MLP output; each an inverted-dropout mask of the layer's rule.
      const keys = O.splitKeys(k, 4)
      const drop = (t: Tensor, site: number): Tensor =>
        O.mul(t, O.mul(O.astype(O.randomBernoulli(keys[site]!, 1 - rate, t.shape), t.dtype), 1 / (1 - rate)))
      const attn = L.multiHeadAttention({ heads: 2, dropout: rate, rotary })
      const norm = (t: Tensor, q: { weight: Tensor; bias: Tensor }): Tensor =>
        L.layerNorm().apply(q, {}, t, evalCtx)[0]
      const linear = (t: Tensor, q: { weight: Tensor; bias: Tensor }): Tensor =>
        O.add(O.matmul(t, q.weight, { transposeB: true }), q.bias)
      const [a] = attn.apply(p.self_attn, {}, norm(x, p.norm1), { training: true, key: keys[0]! })
      const h = O.add(x, drop(a, 1))
      const hidden = drop(O.gelu(linear(norm(h, p.norm2), p.linear1)), 2)
      close(y, [...O.add(h, drop(linear(hidden, p.linear2), 3)).data], 1e-12)
    }
    // Rotary changes the result (positions enter the attention).
    const plain = L.transformerBlock({ heads: 2 }).apply(p, {}, x, evalCtx)[0]
    const rotated = L.transformerBlock({ heads: 2, rotary: true }).apply(p, {}, x, evalCtx)[0]
    expect([...plain.data]).not.toEqual([...rotated.data])
  })

  it('shape errors, config codec and checkVjp', () => {
    expect(leftOf(L.transformerBlock({ heads: 3 }).init(key(0), [5, 8])).message).toMatch(
      /heads \(3\) must divide/,
    )
    expect(leftOf(L.transformerBlock({ heads: 2, mlpRatio: 0.3 }).init(key(0), [5, 8])).message).toMatch(
      /mlpRatio · dim must be an integer/,
    )
    expect(leftOf(L.transformerBlock({ heads: 2 }).init(key(0), [8])).message).toMatch(/rank 2/)
    const model = L.sequential(
      L.transformerBlock({ heads: 2, mlpRatio: 2, dropout: 0.1, causal: true, rotary: true }),
    )
    const json = JSON.parse(JSON.stringify(unwrapE(encodeModel(model as unknown as Layer<unknown, unknown>))))
    expect(json.layers[0]).toEqual({
      kind: 'transformerBlock',
      heads: 2,
      mlpRatio: 2,
      dropout: 0.1,
      causal: true,
      rotary: true,
    })
    expect(unwrapE(decodeModel(json)).config).toEqual(model.config)
    const layer = L.transformerBlock({ heads: 2, mlpRatio: 1, causal: true })
    const p = blockParams(4, 4, 70)
    const report = O.checkVjp(
      (x, w1, wa, g) =>
        layer.apply(
          {
            ...p,
            linear1: { ...p.linear1, weight: w1 },
            self_attn: { ...p.self_attn, in_proj_weight: wa },
            norm1: { ...p.norm1, weight: g },
          },
          {},
          x,
          evalCtx,
        )[0],
      [randn(10, [2, 3, 4]), p.linear1.weight, p.self_attn.in_proj_weight, p.norm1.weight],
      { maxJacobianEntries: 20000 },
    )
    expect(report.ok, report.message).toBe(true)
  })
})

describe('allocation of the attention kinds equals what init allocates', () => {
  it('multiHeadAttention (with and without bias), positionalEmbedding, sinusoidal, transformerBlock', () => {
    const cases: ReadonlyArray<readonly [Layer<unknown, unknown>, number[]]> = [
      [L.multiHeadAttention({ heads: 2 }) as Layer<unknown, unknown>, [5, 8]],
      [L.multiHeadAttention({ heads: 2, bias: false }) as Layer<unknown, unknown>, [5, 8]],
      [L.positionalEmbedding({ maxLen: 9 }) as Layer<unknown, unknown>, [5, 8]],
      [L.sinusoidal() as Layer<unknown, unknown>, [5, 8]],
      [L.transformerBlock({ heads: 2, mlpRatio: 3 }) as Layer<unknown, unknown>, [5, 8]],
    ]
    for (const [layer, inShape] of cases) {
      const config = layer.config!
      const kind = builtinKinds[config.kind as keyof typeof builtinKinds]
      const allocation = kind.allocation?.(config, inShape, () => undefined)
      const { params } = unwrap(layer.init(key(0), inShape))
      const size = flattenNamed(params).reduce((n, [, t]) => n + t.data.length, 0)
      expect(allocation?.size, config.kind).toBe(size)
    }
  })
})
