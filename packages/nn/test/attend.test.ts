// attend / initAttention: cross-attention with PyTorch's kdim/vdim parameter names, against loops
// written from nn.MultiheadAttention's documented formula (separate q/k/v projections).
import { describe, expect, it } from 'vitest'
import * as O from '@backfold/ops'
import type { Tensor } from '@backfold/tensor'
import * as T from '@backfold/tensor'
import * as L from '../src/layers/index'
import type { SeparateAttentionParams } from '../src/layers/index'
import { flattenNamed } from '../src/tree'
import { evalCtx, key, leftOf, randn, unwrap } from './helpers'

/**
 * MultiHead(Q, K, V) = Concat(head_1..head_h) W^O, head_i = softmax(Q W_i^Q (K W_i^K)ᵀ / √d_k) V W_i^V,
 * in PyTorch's storage: projections [dim, in] applied as x Wᵀ + b, heads as consecutive column
 * blocks of dim/heads; causal hides key j from query i when j > i + Lk − Lq.
 */
const reference = (
  query: Tensor,
  keyIn: Tensor,
  value: Tensor,
  p: SeparateAttentionParams,
  heads: number,
  causal = false,
): number[] => {
  const [n, lq, e] = query.shape as [number, number, number]
  const lk = keyIn.shape[1]!
  const d = e / heads
  const proj = (x: Tensor, w: Tensor, part: number, b0: number): number[][] => {
    const [rows, width] = [x.shape[1]!, x.shape[2]!]
    return Array.from({ length: rows }, (_, i) =>
      Array.from({ length: e }, (_, c) => {
        let s = p.in_proj_bias === undefined ? 0 : p.in_proj_bias.data[part * e + c]!
        for (let k = 0; k < width; k++) s += x.data[(b0 * rows + i) * width + k]! * w.data[c * width + k]!
        return s
      }),
    )
  }
  const out: number[] = []
  for (let b0 = 0; b0 < n; b0++) {
    const q = proj(query, p.q_proj_weight, 0, b0)
    const k = proj(keyIn, p.k_proj_weight, 1, b0)
    const v = proj(value, p.v_proj_weight, 2, b0)
    const concat = Array.from({ length: lq }, () => new Array<number>(e).fill(0))
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < lq; i++) {
        const logits = Array.from({ length: lk }, (_, j) => {
          let s = 0
          for (let c = h * d; c < (h + 1) * d; c++) s += q[i]![c]! * k[j]![c]!
          return causal && j > i + lk - lq ? -Infinity : s / Math.sqrt(d)
        })
        const m = Math.max(...logits)
        const ex = logits.map((s) => Math.exp(s - m))
        const z = ex.reduce((a, c) => a + c, 0)
        for (let j = 0; j < lk; j++)
          for (let c = h * d; c < (h + 1) * d; c++) concat[i]![c]! += (ex[j]! / z) * v[j]![c]!
      }
    for (let i = 0; i < lq; i++)
      for (let o = 0; o < e; o++) {
        let s = p.out_proj.bias === undefined ? 0 : p.out_proj.bias.data[o]!
        for (let c = 0; c < e; c++) s += concat[i]![c]! * p.out_proj.weight.data[o * e + c]!
        out.push(s)
      }
  }
  return out
}

const close = (actual: Tensor, expected: ReadonlyArray<number>, tol = 1e-10): void => {
  expect(actual.data.length).toBe(expected.length)
  for (let i = 0; i < expected.length; i++)
    if (!(Math.abs(actual.data[i]! - expected[i]!) <= tol * (1 + Math.abs(expected[i]!))))
      throw new Error(`element ${i}: got ${actual.data[i]}, expected ${expected[i]}`)
}

/** Random float64 params with kDim 6, vDim 5, dim 8 (no zero biases to hide a misplaced one). */
const separate = (seed: number, bias = true): SeparateAttentionParams => ({
  q_proj_weight: randn(seed, [8, 8]),
  k_proj_weight: randn(seed + 1, [8, 6]),
  v_proj_weight: randn(seed + 2, [8, 5]),
  ...(bias ? { in_proj_bias: randn(seed + 3, [24]) } : {}),
  out_proj: bias
    ? { weight: randn(seed + 4, [8, 8]), bias: randn(seed + 5, [8]) }
    : { weight: randn(seed + 4, [8, 8]) },
})

describe('layers.initAttention', () => {
  it("makes PyTorch's separate q/k/v_proj_weight when kDim or vDim differ from dim, the packed layout otherwise", () => {
    const cross = unwrap(L.initAttention(key(0), { dim: 8, heads: 2, kDim: 6, vDim: 5 }))
    expect(flattenNamed(cross).map(([n, t]) => [n, t.shape])).toEqual([
      ['q_proj_weight', [8, 8]],
      ['k_proj_weight', [8, 6]],
      ['v_proj_weight', [8, 5]],
      ['in_proj_bias', [24]],
      ['out_proj.weight', [8, 8]],
      ['out_proj.bias', [8]],
    ])
    // Xavier-uniform bound √(6 / (fan_in + fan_out)) per projection; zero biases.
    const bound = (w: Tensor) => Math.sqrt(6 / (w.shape[0]! + w.shape[1]!))
    for (const [, w] of flattenNamed(cross).slice(0, 3))
      expect(Math.max(...Array.from(w.data, Math.abs))).toBeLessThanOrEqual(bound(w))
    expect([...flattenNamed(cross)[3]![1].data].every((v) => v === 0)).toBe(true)
    const noBias = unwrap(L.initAttention(key(0), { dim: 8, heads: 2, kDim: 6, bias: false }))
    expect(flattenNamed(noBias).map(([n]) => n)).toEqual([
      'q_proj_weight',
      'k_proj_weight',
      'v_proj_weight',
      'out_proj.weight',
    ])
    // The same widths give the packed layout, the very params of the layer for the same key.
    const packed = unwrap(L.initAttention(key(3), { dim: 8, heads: 2 }))
    const layerParams = unwrap(L.multiHeadAttention({ heads: 2 }).init(key(3), [4, 8])).params
    expect(flattenNamed(packed).map(([n, t]) => [n, [...t.data]])).toEqual(
      flattenNamed(layerParams).map(([n, t]) => [n, [...t.data]]),
    )
    expect(leftOf(L.initAttention(key(0), { dim: 8, heads: 3 })).message).toMatch(/heads \(3\) must divide/)
    expect(leftOf(L.initAttention(key(0), { dim: 8, heads: 2, kDim: 0 })).message).toMatch(/kDim/)
    expect(() => L.initAttention(key(0), { dim: 8, heads: 2, kdim: 6 } as never)).toThrow(/kdim/)
  })
})

describe('layers.attend', () => {
  const query = randn(20, [2, 3, 8])
  const memoryK = randn(21, [2, 5, 6])
  const memoryV = randn(22, [2, 5, 5])

  it("cross-attention over a separate memory equals PyTorch's formula (kDim ≠ vDim ≠ dim, heads 1, 2, 4, bias or not)", () => {
    for (const heads of [1, 2, 4])
      for (const bias of [true, false]) {
        const p = separate(30 + heads, bias)
        close(L.attend(p, query, memoryK, memoryV, { heads }), reference(query, memoryK, memoryV, p, heads))
      }
  })

  it('causal is honoured, aligned at the last positions (query i sees keys j <= i + Lk − Lq)', () => {
    const p = separate(40)
    const y = L.attend(p, query, memoryK, memoryV, { heads: 2, causal: true })
    close(y, reference(query, memoryK, memoryV, p, 2, true))
    expect(
      Math.max(...Array.from(O.sub(y, L.attend(p, query, memoryK, memoryV, { heads: 2 })).data, Math.abs)),
    ).toBeGreaterThan(1e-3)
  })

  it('mask: a key padding mask equals attending to the unpadded keys only, with or without dropout', () => {
    const p = separate(45)
    // Example 0 sees all 5 keys, example 1 only its first 3 (int32, nonzero attends).
    const padding = T.unsafeTensor('int32', [2, 1, 1, 5], Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]))
    const y = L.attend(p, query, memoryK, memoryV, { heads: 2, mask: padding })
    const row = (t: Tensor, i: number, length: number): Tensor =>
      O.slice(t, [
        { start: i, stop: i + 1 },
        { start: 0, stop: length },
      ])
    const expected = [
      ...reference(row(query, 0, 3), row(memoryK, 0, 5), row(memoryV, 0, 5), p, 2),
      ...reference(row(query, 1, 3), row(memoryK, 1, 3), row(memoryV, 1, 3), p, 2),
    ]
    close(y, expected)
    // The same mask as an additive float one.
    const additive = O.where(O.notEqual(padding, 0), 0, -Infinity)
    close(L.attend(p, query, memoryK, memoryV, { heads: 2, mask: O.astype(additive, 'float64') }), expected)
    // In training with dropout (the op's dropout option), the padded keys still have no
    // weight: changing them changes nothing.
    const noisyV = O.concat([O.slice(memoryV, [undefined, { start: 0, stop: 3 }]), randn(99, [2, 2, 5])], {
      axis: 1,
    })
    const noisyK = O.concat([O.slice(memoryK, [undefined, { start: 0, stop: 3 }]), randn(98, [2, 2, 6])], {
      axis: 1,
    })
    const train = { training: true, key: key(4) }
    const opts = { heads: 2, dropout: 0.3, mask: padding }
    const a = L.attend(p, query, memoryK, memoryV, opts, train)
    const b = L.attend(p, query, noisyK, noisyV, opts, train)
    expect([...O.slice(a, [{ start: 1, stop: 2 }]).data]).toEqual([
      ...O.slice(b, [{ start: 1, stop: 2 }]).data,
    ])
    expect([...O.slice(a, [{ start: 0, stop: 1 }]).data]).not.toEqual([
      ...O.slice(b, [{ start: 0, stop: 1 }]).data,
    ])
    expect(() => L.attend(p, query, memoryK, memoryV, { heads: 2, mask: [1] as never })).toThrow(
      /mask must be a tensor/,
    )
  })

  it("is the layer's computation: attend(params, x, x, x) equals multiHeadAttention's apply", () => {
    for (const causal of [false, true]) {
      const layer = L.multiHeadAttention({ heads: 2, causal, dtype: 'float64' })
      const { params } = unwrap(layer.init(key(7), [4, 8]))
      const x = randn(23, [2, 4, 8])
      const [expected] = layer.apply(params, {}, x, evalCtx)
      expect([...L.attend(params, x, x, x, { heads: 2, causal }).data]).toEqual([...expected.data])
    }
  })

  it('dropout on the probabilities in training (needs ctx.key, deterministic for a key), the identity in evaluation', () => {
    const p = separate(50)
    const opts = { heads: 2, dropout: 0.5 }
    const plain = L.attend(p, query, memoryK, memoryV, { heads: 2 })
    expect([...L.attend(p, query, memoryK, memoryV, opts).data]).toEqual([...plain.data])
    expect(() => L.attend(p, query, memoryK, memoryV, opts, { training: true })).toThrow(
      /ctx\.key is required/,
    )
    const a = L.attend(p, query, memoryK, memoryV, opts, { training: true, key: key(1) })
    const b = L.attend(p, query, memoryK, memoryV, opts, { training: true, key: key(1) })
    expect([...a.data]).toEqual([...b.data])
    expect([...a.data]).not.toEqual([...plain.data])
  })

  it('a query whose every key is masked gets zeros with dropout in training, as without it (not NaN)', () => {
    const p = separate(55)
    // query positions 2 and 3 of 4 see no key at all: the int32 mask is 0 on their rows
    const lq = query.shape[1]!
    const lk = memoryK.shape[1]!
    const mask = T.unsafeTensor(
      'int32',
      [lq, lk],
      Int32Array.from({ length: lq * lk }, (_, i) => (Math.floor(i / lk) >= 2 ? 0 : 1)),
    )
    const opts = { heads: 2, dropout: 0.3, mask }
    const a = L.attend(p, query, memoryK, memoryV, opts, { training: true, key: key(3) })
    expect([...a.data].some(Number.isNaN)).toBe(false)
    const plain = L.attend(p, query, memoryK, memoryV, { heads: 2, mask })
    expect([...plain.data].some(Number.isNaN)).toBe(false)
    // The masked rows hold only the output projection's bias, with or without dropout.
    const e = query.shape[2]!
    for (let b0 = 0; b0 < query.shape[0]!; b0++)
      for (let i = 2; i < lq; i++)
        for (let c = 0; c < e; c++) {
          const at = (b0 * lq + i) * e + c
          expect(a.data[at]).toBeCloseTo(plain.data[at]!, 12)
        }
  })

  it('bad inputs, params and options are errors naming attend', () => {
    const p = separate(60)
    expect(() => L.attend(p, query, memoryV, memoryV, { heads: 2 })).toThrow(
      /attend: key must be \[batch = 2, length, 6\]/,
    )
    expect(() => L.attend(p, query, memoryK, randn(1, [2, 4, 5]), { heads: 2 })).toThrow(
      /key and value must have one length/,
    )
    expect(() => L.attend(p, query, memoryK, memoryV, { heads: 3 })).toThrow(/heads \(3\) must divide/)
    expect(() => L.attend(p, query, memoryK, memoryV, { heads: 2, dropout: 1 })).toThrow(/dropout/)
    expect(() => L.attend(p, query, memoryK, memoryV, { heads: 2, mask: 1 } as never)).toThrow(/mask/)
    expect(() =>
      L.attend(p, query, memoryK, memoryV, { heads: 2 }, { training: false, cache: { capacity: 4 } }),
    ).toThrow(/attend keeps no state/)
    expect(() => L.attend({ out_proj: p.out_proj } as never, query, memoryK, memoryV, { heads: 2 })).toThrow(
      /in_proj_weight .*or q_proj_weight/,
    )
  })

  it('checkVjp: gradients w.r.t. query, key, value and the separate projections', () => {
    const p = separate(70)
    const f = (q: Tensor, k: Tensor, v: Tensor, wq: Tensor, wk: Tensor, wv: Tensor, b: Tensor): Tensor =>
      L.attend({ ...p, q_proj_weight: wq, k_proj_weight: wk, v_proj_weight: wv, in_proj_bias: b }, q, k, v, {
        heads: 2,
        causal: true,
      })
    const report = O.checkVjp(
      f,
      [
        randn(1, [1, 2, 8]),
        randn(2, [1, 3, 6]),
        randn(3, [1, 3, 5]),
        p.q_proj_weight,
        p.k_proj_weight,
        p.v_proj_weight,
        p.in_proj_bias!,
      ],
      { maxJacobianEntries: 20000 },
    )
    expect(report.ok, report.message).toBe(true)
  })
})
