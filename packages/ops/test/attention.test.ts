import { describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { scaledDotProductAttention } from '../src/attention/index'
import { additiveCausalMask, causalMask } from '../src/attention/scaledDotProductAttention'
import { checkVjp } from '../src/check/checkVjp'
import { grad } from '../src/transforms/grad'
import { vmap } from '../src/transforms/vmap'
import { jit } from '../src/staging/jit'
import { makeGraph } from '../src/staging/graph'
import { matmul } from '../src/linalg/matmul'
import { softmax } from '../src/activations/softmax'
import { add } from '../src/binary/add'
import { mul } from '../src/binary/mul'
import { sum } from '../src/reduce/sum'
import { sin } from '../src/elementwise/sin'

const draw = (seed: number, shape: ReadonlyArray<number>): Tensor =>
  T.random.uniform(T.random.key(seed), shape, { min: -1.5, max: 1.5, dtype: 'float64' })

/**
 * The definition with plain loops, on q [B, Lq, d], k [B, Lk, d], v [B, Lk, dv] and an explicit
 * allowed/additive mask [B, Lq, Lk] (already broadcast): for each query, the scaled dot products,
 * masked, exponentiated relative to their maximum, normalised, and the values averaged by them.
 * A query with no key allowed gives zeros (the documented convention).
 */
const reference = (
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: {
    scale: number
    allowed?: (b: number, i: number, j: number) => boolean
    bias?: Tensor
    /** Dropout: the kept entries [B, Lq, Lk] (1 keep, 0 drop) and the rate. */
    keep?: Tensor
    rate?: number
  },
): number[] => {
  const [B, Lq, d] = q.shape as [number, number, number]
  const Lk = k.shape[1]!
  const dv = v.shape[2]!
  const out: number[] = []
  for (let b = 0; b < B; b++)
    for (let i = 0; i < Lq; i++) {
      const logits: number[] = []
      for (let j = 0; j < Lk; j++) {
        let s = 0
        for (let c = 0; c < d; c++) s += q.data[(b * Lq + i) * d + c]! * k.data[(b * Lk + j) * d + c]!
        s *= opts.scale
        if (opts.bias !== undefined) s += opts.bias.data[(b * Lq + i) * Lk + j]!
        if (opts.allowed !== undefined && !opts.allowed(b, i, j)) s = -Infinity
        logits.push(s)
      }
      const m = Math.max(...logits)
      const w = logits.map((s) => (m === -Infinity ? 0 : Math.exp(s - m)))
      const z = w.reduce((a, x) => a + x, 0)
      for (let c = 0; c < dv; c++) {
        let acc = 0
        for (let j = 0; j < Lk; j++) {
          const kept = opts.keep === undefined ? 1 : opts.keep.data[(b * Lq + i) * Lk + j]! / (1 - opts.rate!)
          acc += (z === 0 ? 0 : w[j]! / z) * kept * v.data[(b * Lk + j) * dv + c]!
        }
        out.push(acc)
      }
    }
  return out
}

const expectValues = (actual: Tensor, expected: ReadonlyArray<number>, tol = 1e-12): void => {
  expect(actual.data.length).toBe(expected.length)
  expected.forEach((e, i) => expect(Math.abs(actual.data[i]! - e), `entry ${i}`).toBeLessThanOrEqual(tol))
}

describe('scaledDotProductAttention', () => {
  const q = draw(1, [2, 3, 4])
  const k = draw(2, [2, 5, 4])
  const v = draw(3, [2, 5, 3])

  it('matches the loop definition (default scale 1/√d)', () => {
    const y = scaledDotProductAttention(q, k, v)
    expect(y.shape).toEqual([2, 3, 3])
    expectValues(y, reference(q, k, v, { scale: 0.5 }))
  })

  it('causal aligns bottom-right: query i sees keys j <= i + (Lk − Lq)', () => {
    const y = scaledDotProductAttention(q, k, v, { causal: true, scale: 0.3 })
    expectValues(y, reference(q, k, v, { scale: 0.3, allowed: (_b, i, j) => j <= i + 2 }))
    // Lq = Lk: the usual lower triangle, the first query sees only the first key (its value row).
    const y2 = scaledDotProductAttention(k, k, v, { causal: true })
    expectValues(T.slice(y2, [{}, { start: 0, stop: 1 }]), [...T.slice(v, [{}, { start: 0, stop: 1 }]).data])
  })

  it('float32 rows long enough for the generated kernels: causal (Lk >= Lq, Lk < Lq) and unmasked match the loops', () => {
    const f32 = (seed: number, shape: ReadonlyArray<number>): Tensor => T.astype(draw(seed, shape), 'float32')
    const [q32, k32, v32, short] = [
      f32(4, [3, 40, 16]),
      f32(5, [3, 40, 16]),
      f32(6, [3, 40, 8]),
      f32(7, [3, 24, 16]),
    ]
    const sv = f32(8, [3, 24, 8])
    const close = (y: Tensor, expected: ReadonlyArray<number>): void =>
      expected.forEach((e, i) => expect(Math.abs(y.data[i]! - e), `entry ${i}`).toBeLessThanOrEqual(2e-6))
    close(
      scaledDotProductAttention(q32, k32, v32, { causal: true }),
      reference(q32, k32, v32, { scale: 0.25, allowed: (_b, i, j) => j <= i }),
    )
    close(scaledDotProductAttention(q32, k32, v32), reference(q32, k32, v32, { scale: 0.25 }))
    // More queries than keys: the first 16 queries see no key and give zeros (the guarded path).
    close(
      scaledDotProductAttention(q32, short, sv, { causal: true }),
      reference(q32, short, sv, { scale: 0.25, allowed: (_b, i, j) => j <= i - 16 }),
    )
    close(
      scaledDotProductAttention(short, q32, v32, { causal: true }),
      reference(short, q32, v32, { scale: 0.25, allowed: (_b, i, j) => j <= i + 16 }),
    )
  })

  it('an int32 mask (nonzero attends) broadcasts; a fully masked query gives zeros', () => {
    const maskValues = [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    const mask = T.tensor(
      [
        [1, 0, 1, 1, 0],
        [0, 0, 0, 0, 0],
        [0, 1, 1, 1, 1],
      ],
      'int32',
    )
    const y = scaledDotProductAttention(q, k, v, { mask })
    expectValues(y, reference(q, k, v, { scale: 0.5, allowed: (_b, i, j) => maskValues[i * 5 + j] === 1 }))
    expect(Array.from(T.slice(y, [{}, { start: 1, stop: 2 }]).data)).toEqual([0, 0, 0, 0, 0, 0])
    // Its gradient is zero too, not NaN.
    const g = grad((a: Tensor) => sum(scaledDotProductAttention(a, k, v, { mask })))(q)
    expect(Array.from(g.data).every(Number.isFinite)).toBe(true)
    expect(Array.from(T.slice(g, [{}, { start: 1, stop: 2 }]).data)).toEqual([0, 0, 0, 0, 0, 0, 0, 0])
  })

  it('a key padding vector [Lk] and an additive mask with −∞', () => {
    const pad = T.tensor([1, 1, 0, 1, 0], 'int32')
    const y = scaledDotProductAttention(q, k, v, { mask: pad })
    expectValues(y, reference(q, k, v, { scale: 0.5, allowed: (_b, _i, j) => pad.data[j] === 1 }))
    const bias = T.where(T.greater(draw(4, [2, 3, 5]), 1), -Infinity, draw(5, [2, 3, 5]))
    const y2 = scaledDotProductAttention(q, k, v, { mask: bias })
    expectValues(y2, reference(q, k, v, { scale: 0.5, bias }))
  })

  it('broadcasts leading axes (heads against a shared key set)', () => {
    const qh = draw(6, [2, 2, 3, 4]) // [B, H, Lq, d]
    const y = scaledDotProductAttention(qh, T.reshape(k, [2, 1, 5, 4]), T.reshape(v, [2, 1, 5, 3]))
    expect(y.shape).toEqual([2, 2, 3, 3])
    const qFlat = T.reshape(qh, [4, 3, 4])
    const kRep = T.reshape(T.broadcastTo(T.reshape(k, [2, 1, 5, 4]), [2, 2, 5, 4]), [4, 5, 4])
    const vRep = T.reshape(T.broadcastTo(T.reshape(v, [2, 1, 5, 3]), [2, 2, 5, 3]), [4, 5, 3])
    expectValues(y, reference(qFlat, kRep, vRep, { scale: 0.5 }))
  })

  it('gradients equal those of the unfused formula (matmul, softmax, matmul)', () => {
    const bias = draw(7, [3, 5])
    const w = draw(8, [2, 3, 3])
    const fused = (a: Tensor, b: Tensor, c: Tensor, m: Tensor): Tensor =>
      sum(mul(sin(scaledDotProductAttention(a, b, c, { mask: m, scale: 0.8 })), w))
    const unfused = (a: Tensor, b: Tensor, c: Tensor, m: Tensor): Tensor =>
      sum(mul(sin(matmul(softmax(add(mul(matmul(a, b, { transposeB: true }), 0.8), m)), c)), w))
    const g1 = grad(fused, { argnums: [0, 1, 2, 3] })(q, k, v, bias)
    const g2 = grad(unfused, { argnums: [0, 1, 2, 3] })(q, k, v, bias)
    g1.forEach((g, i) => expectValues(g, [...g2[i]!.data], 1e-12))
  })

  it('passes checkVjp with a causal mask, second order included', () => {
    const r = checkVjp(
      (a, b, c) => scaledDotProductAttention(a!, b!, c!, { causal: true }),
      [draw(9, [3, 2]), draw(10, [3, 2]), draw(11, [3, 2])],
      { secondOrder: true },
    )
    expect(r.ok, r.message).toBe(true)
  })

  it('vmap over a head axis equals the broadcast call; jit and makeGraph agree with eager', () => {
    const qh = draw(12, [4, 3, 4])
    const mapped = vmap((a: Tensor) => scaledDotProductAttention(a, k, v, { causal: true }))(qh)
    const direct = scaledDotProductAttention(T.reshape(qh, [4, 1, 3, 4]), k, v, { causal: true })
    expectValues(mapped, [...direct.data])
    const f = (a: Tensor, b: Tensor, c: Tensor): Tensor =>
      scaledDotProductAttention(a, b, c, { causal: true })
    expectValues(jit(f)(q, k, v), [...f(q, k, v).data])
    const loss = (a: Tensor, b: Tensor, c: Tensor): Tensor => sum(mul(f(a, b, c), f(a, b, c)))
    const gj = jit(grad(loss, { argnums: [0, 1, 2] }))(q, k, v)
    const ge = grad(loss, { argnums: [0, 1, 2] })(q, k, v)
    gj.forEach((g, i) => expectValues(g, [...ge[i]!.data], 1e-12))
    const graph = makeGraph(f)(q, k, v)
    expect(graph.outputs[0]!.shape).toEqual([2, 3, 3])
  })

  it('names the problem in its errors', () => {
    expect(() => scaledDotProductAttention(q, draw(1, [2, 5, 3]), v)).toThrow(
      /differ in their last axis \(4 vs 3\)/,
    )
    expect(() => scaledDotProductAttention(q, k, draw(1, [2, 4, 3]))).toThrow(
      /different numbers of keys \(5 vs 4\)/,
    )
    expect(() => scaledDotProductAttention(q, k, v, { mask: T.ones([3, 4], 'int32') })).toThrow(
      /cannot broadcast shapes \[2, ?3, ?5\] and \[3, ?4\]/,
    )
    // A mask may not enlarge the logits: one query cannot get three rows of mask.
    const one = T.slice(q, [{}, { start: 0, stop: 1 }])
    expect(() => scaledDotProductAttention(one, k, v, { mask: T.ones([3, 5], 'int32') })).toThrow(
      /mask of shape \[3, ?5\] does not broadcast to the logits' \[\.\.\., 1, 5\]/,
    )
    expect(() => scaledDotProductAttention(q, k, v, { mask: T.ones([3, 5], 'float32') })).toThrow(
      /int32.*float64.*float32/,
    )
    expect(() => scaledDotProductAttention(T.astype(q, 'float32'), k, v)).toThrow(/share one float dtype/)
    expect(() => scaledDotProductAttention(T.reshape(q, [24]), k, v)).toThrow(/needs rank >= 2/)
    expect(() => scaledDotProductAttention(q, k, v, { causl: true } as never)).toThrow(/causl/)
    expect(() => makeGraph((a: Tensor) => scaledDotProductAttention(a, k, draw(1, [2, 4, 3])))(q)).toThrow(
      /different numbers of keys/,
    )
  })
})

describe('scaledDotProductAttention dropout ({ dropout: { rate, key } })', () => {
  const q = draw(21, [2, 3, 4])
  const k = draw(22, [2, 5, 4])
  const v = draw(23, [2, 5, 3])
  const key = T.random.key(7)
  const rate = 0.4
  // The keep mask drawn independently, with the tensor package's sampler: [B, Lq, Lk].
  const keep = T.random.bernoulli(key, 1 - rate, [2, 3, 5])

  it('drops probabilities with the key’s Bernoulli(1 − rate) mask and scales the kept by 1/(1 − rate)', () => {
    const y = scaledDotProductAttention(q, k, v, { dropout: { rate, key } })
    expectValues(y, reference(q, k, v, { scale: 0.5, keep, rate }))
    // Causal, and with a fully masked query (zeros with dropout too).
    const yc = scaledDotProductAttention(q, k, v, { causal: true, scale: 0.3, dropout: { rate, key } })
    expectValues(yc, reference(q, k, v, { scale: 0.3, allowed: (_b, i, j) => j <= i + 2, keep, rate }))
    const mask = T.tensor([1, 0, 1, 1, 0], 'int32')
    const none = T.reshape(T.tensor([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1], 'int32'), [3, 5])
    expectValues(
      scaledDotProductAttention(q, k, v, { mask, dropout: { rate, key } }),
      reference(q, k, v, { scale: 0.5, allowed: (_b, _i, j) => mask.data[j] === 1, keep, rate }),
    )
    const yn = scaledDotProductAttention(q, k, v, { mask: none, dropout: { rate, key } })
    expectValues(
      yn,
      reference(q, k, v, { scale: 0.5, allowed: (_b, i, j) => none.data[i * 5 + j] === 1, keep, rate }),
    )
    expect(Array.from(T.slice(yn, [{}, { start: 1, stop: 2 }]).data)).toEqual([0, 0, 0, 0, 0, 0])
    // A key batch [B, 2]: one mask per batch entry, each that key's draw over [Lq, Lk].
    const keys = T.random.splitEach(T.random.keyData(key), 2)
    const perKey = T.concat(
      [0, 1].map((b) =>
        T.random.bernoulli(
          T.random.wrapKey(T.reshape(T.slice(keys, [{ start: b, stop: b + 1 }]), [2])),
          1 - rate,
          [1, 3, 5],
        ),
      ),
      0,
    )
    expectValues(
      scaledDotProductAttention(q, k, v, { dropout: { rate, key: keys } }),
      reference(q, k, v, { scale: 0.5, keep: perKey, rate }),
    )
  })

  it('drops about `rate` of the probabilities; another key drops others; rate 0 is the plain op, bit for bit', () => {
    // v = identity: the output is P ⊙ D itself, so its zeros are the dropped entries.
    const big = draw(24, [4, 32, 8])
    const eye = T.broadcastTo(T.eye(32, 32, 'float64'), [4, 32, 32])
    const dropped = scaledDotProductAttention(big, big, eye, { dropout: { rate: 0.25, key } })
    const plain = scaledDotProductAttention(big, big, eye)
    let zeros = 0
    dropped.data.forEach((x, i) => {
      if (x === 0) zeros++
      else expect(Math.abs(x - plain.data[i]! / 0.75)).toBeLessThanOrEqual(1e-12)
    })
    expect(zeros / dropped.data.length).toBeGreaterThan(0.22)
    expect(zeros / dropped.data.length).toBeLessThan(0.28)
    const other = scaledDotProductAttention(big, big, eye, { dropout: { rate: 0.25, key: T.random.key(8) } })
    expect(Array.from(other.data)).not.toEqual(Array.from(dropped.data))
    const zero = scaledDotProductAttention(q, k, v, { causal: true, dropout: { rate: 0, key } })
    expect(Array.from(zero.data)).toEqual(
      Array.from(scaledDotProductAttention(q, k, v, { causal: true }).data),
    )
  })

  it('passes checkVjp with a fixed key (the same mask forward and backward), second order included', () => {
    const fixed = T.random.key(3)
    for (const opts of [
      { dropout: { rate: 0.5, key: fixed } },
      { causal: true, dropout: { rate: 0.3, key: fixed } },
      {
        mask: T.tensor(
          [
            [1, 0, 1],
            [0, 0, 0],
          ],
          'int32',
        ),
        dropout: { rate: 0.3, key: fixed },
      },
    ]) {
      const r = checkVjp(
        (a, b, c) => scaledDotProductAttention(a!, b!, c!, opts),
        [draw(31, [2, 3]), draw(32, [3, 3]), draw(33, [3, 2])],
        { secondOrder: true },
      )
      expect(r.ok, r.message).toBe(true)
    }
    // The additive mask's gradient, with dropout.
    const r = checkVjp(
      (a, b, c, m) => scaledDotProductAttention(a!, b!, c!, { mask: m, dropout: { rate: 0.3, key: fixed } }),
      [draw(34, [2, 3]), draw(35, [3, 3]), draw(36, [3, 2]), draw(37, [2, 3])],
      { secondOrder: true },
    )
    expect(r.ok, r.message).toBe(true)
  })

  it('jit (the key a traced input) and grad agree with eager; vmap over keys and over q equals the loop', () => {
    const data = T.random.keyData(key)
    const f = (a: Tensor, b: Tensor, c: Tensor, kd: Tensor): Tensor =>
      scaledDotProductAttention(a, b, c, { causal: true, dropout: { rate, key: kd } })
    expectValues(jit(f)(q, k, v, data), [...f(q, k, v, data).data])
    const loss = (a: Tensor, b: Tensor, c: Tensor, kd: Tensor): Tensor =>
      sum(mul(f(a, b, c, kd), f(a, b, c, kd)))
    const gj = jit(grad(loss, { argnums: [0, 1, 2] }))(q, k, v, data)
    const ge = grad(loss, { argnums: [0, 1, 2] })(q, k, v, data)
    gj.forEach((g, i) => expectValues(g, [...ge[i]!.data], 1e-12))
    // Eval (no dropout) under jit is unchanged.
    const g = (a: Tensor, b: Tensor, c: Tensor): Tensor =>
      scaledDotProductAttention(a, b, c, { causal: true })
    expectValues(jit(g)(q, k, v), [...g(q, k, v).data])

    const keys = T.random.splitEach(T.random.keyData(key), 3)
    const one = (i: number): Tensor => T.slice(keys, [{ start: i, stop: i + 1 }])
    const byKey = vmap((kd: Tensor) => f(q, k, v, kd))(keys)
    expect(byKey.shape).toEqual([3, 2, 3, 3])
    ;[0, 1, 2].forEach((i) =>
      expectValues(T.slice(byKey, [{ start: i, stop: i + 1 }]), [...f(q, k, v, T.reshape(one(i), [2])).data]),
    )
    // q mapped with one key: each example draws the mask it would alone (the same one).
    const qs = draw(25, [3, 2, 3, 4])
    const byQ = vmap((a: Tensor) => f(a, k, v, data))(qs)
    const byBoth = vmap((a: Tensor, kd: Tensor) => f(a, k, v, kd))(qs, keys)
    ;[0, 1, 2].forEach((i) => {
      const qi = T.reshape(T.slice(qs, [{ start: i, stop: i + 1 }]), [2, 3, 4])
      expectValues(T.slice(byQ, [{ start: i, stop: i + 1 }]), [...f(qi, k, v, data).data])
      expectValues(T.slice(byBoth, [{ start: i, stop: i + 1 }]), [
        ...f(qi, k, v, T.reshape(one(i), [2])).data,
      ])
    })
    // Gradients under vmap over keys.
    const gv = vmap((kd: Tensor) => grad((a: Tensor) => sum(f(a, k, v, kd)))(q))(keys)
    ;[0, 1, 2].forEach((i) =>
      expectValues(T.slice(gv, [{ start: i, stop: i + 1 }]), [
        ...grad((a: Tensor) => sum(f(a, k, v, T.reshape(one(i), [2]))))(q).data,
      ]),
    )
  })

  it('names the problem with a bad rate or key', () => {
    expect(() => scaledDotProductAttention(q, k, v, { dropout: { rate: 1, key } })).toThrow(
      /0 <= rate < 1.*got 1/,
    )
    expect(() => scaledDotProductAttention(q, k, v, { dropout: { rate: -0.1, key } })).toThrow(
      /0 <= rate < 1/,
    )
    expect(() => scaledDotProductAttention(q, k, v, { dropout: { rate: NaN, key } })).toThrow(/0 <= rate < 1/)
    expect(() => scaledDotProductAttention(q, k, v, { dropout: { rate: 0.1 } as never })).toThrow(
      /dropout.key must be a Key/,
    )
    expect(() => scaledDotProductAttention(q, k, v, { dropout: 0.1 as never })).toThrow(/dropout/)
    expect(() =>
      scaledDotProductAttention(q, k, v, {
        dropout: { rate: 0.1, key: T.random.splitEach(T.random.keyData(key), 3) },
      }),
    ).toThrow(/key batch of shape \[3, ?2\] needs its leading axes \[3\] to be the logits' leading axes/)
    expect(() =>
      scaledDotProductAttention(q, k, v, { dropout: { rate: 0.1, key: T.ones([2], 'float32') } }),
    ).toThrow(/int32 key batch/)
  })
})

describe('the causal masks are cached', () => {
  it('returns the same concrete tensor for one shape and dtype, a bounded number of them', () => {
    const first = additiveCausalMask(3, 5, 'float32')
    expect(additiveCausalMask(3, 5, 'float32')).toBe(first)
    expect(additiveCausalMask(3, 5, 'float64')).not.toBe(first)
    expect(Array.from(first.data)).toEqual([
      0,
      0,
      0,
      -Infinity,
      -Infinity,
      0,
      0,
      0,
      0,
      -Infinity,
      0,
      0,
      0,
      0,
      0,
    ])
    expect(causalMask(2, 2)).toBe(causalMask(2, 2))
    expect(Array.from(causalMask(2, 2).data)).toEqual([1, 0, 1, 1])
    // Staging causal attention (forward and VJP) leaves concrete masks: eager calls still read them.
    const q = draw(41, [3, 4])
    const k = draw(42, [5, 4])
    const loss = (a: Tensor, b: Tensor): Tensor => sum(scaledDotProductAttention(a, b, b, { causal: true }))
    jit(grad(loss, { argnums: [0, 1] }))(q, k)
    expect(T.isTensor(causalMask(3, 5)) && causalMask(3, 5).data.length).toBe(15)
    expect(Array.from(additiveCausalMask(3, 5, 'float64').data)).toEqual(Array.from(first.data))
    // Bounded: 16 other shapes later, the first has been evicted (rebuilt, equal but not the same).
    for (let l = 1; l <= 16; l++) additiveCausalMask(l, 40, 'float32')
    const again = additiveCausalMask(3, 5, 'float32')
    expect(again).not.toBe(first)
    expect(Array.from(again.data)).toEqual(Array.from(first.data))
  })
})
