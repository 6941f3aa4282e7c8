// The ONNX lowerings of the shape, indexing, sort, attention, random, scan and trigonometric op
// families (issue #13): each op's lowered graph runs in onnxruntime-node (an independent
// implementation) and must give eager mode's shape, dtype and values. Run on its own:
//   npx vitest run packages/ops/test/onnx/
// (onnxruntime-node's native module loads in one thread per process).
import { describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import {
  acos,
  argsort,
  concat,
  cumprod,
  cumsum,
  gather,
  oneHot,
  pad,
  scatterAdd,
  scatterAddAlongAxis,
  slice,
  sort,
  takeAlongAxis,
  asin,
  atan,
  atan2,
  ceil,
  cosh,
  flip,
  floor,
  isfinite,
  isnan,
  repeat,
  roll,
  random,
  randomBits,
  round,
  scaledDotProductAttention,
  scaledDotProductAttentionOp,
  applyOp,
  sign,
  sinh,
  tan,
  tile,
  tril,
  triu,
} from '@backfold/ops'
import { expectSameAsEager, runOnOrt, unsupportedReason } from './harness'

const f32 = (values: number[], shape: number[] = [values.length]): Tensor =>
  T.reshape(T.tensor(values, 'float32'), shape)
const f64 = (values: number[], shape: number[] = [values.length]): Tensor =>
  T.reshape(T.tensor(values, 'float64'), shape)
const i32 = (values: number[], shape: number[] = [values.length]): Tensor =>
  T.reshape(T.tensor(values, 'int32'), shape)

const special = [0, -0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.7, -3.7, 1e-30, -1e30, Infinity, -Infinity, NaN]

describe('trigonometric and hyperbolic lowerings (float32 ONNX Runtime kernels)', () => {
  const unit = [0, -0, 0.25, -0.75, 0.999, -1, 1, 1.5, NaN]
  const any = [0, -0, 0.3, -1.2, 2.5, -4, 10, Infinity, -Infinity, NaN]
  it.each([
    ['tan', tan, [0, -0, 0.3, -1.2, 1.5, -3, 10, NaN]],
    ['asin', asin, unit],
    ['acos', acos, unit],
    ['atan', atan, any],
    ['sinh', sinh, [0, -0, 0.3, -1.2, 2.5, -4, 10, NaN]],
    ['cosh', cosh, [0, -0, 0.3, -1.2, 2.5, -4, 10, NaN]],
  ] as const)('%s on float32, and int32 (promoted to float32)', async (_name, op, values) => {
    await expectSameAsEager((x) => op(x), [f32([...values], [values.length])], 2e-6)
    await expectSameAsEager((x) => op(x), [i32([0, 1, -1, 2, -3], [5])], 2e-6)
  })

  it.each([
    ['tan', tan],
    ['asin', asin],
    ['sinh', sinh],
  ] as const)(
    '%s on float64 is declared unsupported (no float64 kernel), not computed in float32',
    (name, op) => {
      const reason = unsupportedReason((x) => op(x), f64([0.5]))
      expect(reason).toContain('float64')
      expect(reason.toLowerCase()).toContain(name)
    },
  )
})

describe('atan2 lowering (no ONNX Atan2: Atan and quadrant fixes)', () => {
  it('every quadrant, both axes, signed zeros, infinities and NaN, broadcast', async () => {
    const values = [0, -0, 1, -1, 2.5, -0.3, 1e-20, Infinity, -Infinity, NaN]
    // Every pair (a, b): a along rows, b along columns, by broadcasting [n, 1] against [n].
    const a = f32(values, [values.length, 1])
    const b = f32(values, [values.length])
    const [out] = await expectSameAsEager((y, x) => atan2(y, x), [a, b], 2e-6)
    // Spot checks against C's atan2 (Math.atan2 is its JavaScript spelling), signs of zero included.
    const at = (i: number, j: number): number => out!.data[i * values.length + j]!
    expect(Object.is(at(1, 0), -0)).toBe(true) // atan2(-0, +0) = -0
    expect(at(0, 1)).toBeCloseTo(Math.PI, 6) // atan2(+0, -0) = π
    expect(at(1, 1)).toBeCloseTo(-Math.PI, 6) // atan2(-0, -0) = -π
    expect(at(7, 8)).toBeCloseTo((3 * Math.PI) / 4, 6) // atan2(∞, -∞)
    expect(at(8, 7)).toBeCloseTo(-Math.PI / 4, 6) // atan2(-∞, ∞)
  })

  it('int32 operands give float32', async () => {
    await expectSameAsEager((y, x) => atan2(y, x), [i32([1, -1, 0, 3]), i32([0, -2, -5, 4])], 2e-6)
  })

  it('float64 is declared unsupported', () => {
    expect(unsupportedReason((y, x) => atan2(y, x), f64([1]), f64([1]))).toContain('float64')
  })
})

describe('predicates and rounding lowerings', () => {
  it.each([['float32'], ['float64']] as const)(
    'isnan, isfinite, sign, round, floor, ceil on %s',
    async (dtype) => {
      const x = T.reshape(T.tensor(special, dtype), [2, 7])
      for (const op of [isnan, isfinite, sign, round, floor, ceil]) await expectSameAsEager((v) => op(v), [x])
    },
  )

  it('round is half to even, signs of zero kept', async () => {
    const [out] = await expectSameAsEager((v) => round(v), [f32([0.5, 1.5, 2.5, -0.5, -1.5, -0.4, 0.4])])
    expect(out!.data).toEqual([0, 2, 2, -0, -2, -0, 0])
    expect(Object.is(out!.data[3], -0)).toBe(true)
  })

  it('sign keeps -0 and NaN (ONNX Sign gives +0 for -0, ORT Where never outputs -0)', async () => {
    const [out] = await expectSameAsEager((v) => sign(v), [f32([-0, 0, NaN, -2, 3])])
    expect(Object.is(out!.data[0], -0)).toBe(true)
  })

  it('int32 inputs: predicates give masks, rounding is the identity', async () => {
    const x = i32([-3, 0, 7, 2147483647, -2147483648], [5])
    for (const op of [isnan, isfinite, sign, round, floor, ceil]) await expectSameAsEager((v) => op(v), [x])
  })
})

/** 0, 1, 2... shaped `shape`, in `dtype`, with a −0 and a NaN among floats (copies must keep them). */
const iota = (shape: number[], dtype: 'float32' | 'float64' | 'int32' = 'float32'): Tensor => {
  const n = shape.reduce((a, d) => a * d, 1)
  const values = Array.from({ length: n }, (_, i) => (dtype === 'int32' ? i - 3 : (i - 3) * 0.5))
  if (dtype !== 'int32' && n > 4) {
    values[1] = -0
    values[4] = NaN
  }
  return T.reshape(T.tensor(values, dtype), shape)
}

describe('shape lowerings', () => {
  it.each([['float32'], ['float64'], ['int32']] as const)('flip, roll, tile, repeat on %s', async (dtype) => {
    const x = iota([2, 3, 4], dtype)
    await expectSameAsEager((v) => flip(v, { axis: -1 }), [x])
    await expectSameAsEager((v) => flip(v, { axis: [0, 2] }), [x])
    await expectSameAsEager((v) => roll(v, 1, { axis: 1 }), [x])
    await expectSameAsEager((v) => roll(v, [-5, 2], { axis: [-1, 0] }), [x])
    await expectSameAsEager((v) => roll(v, 3, { axis: 1 }), [x]) // a whole turn: unchanged
    await expectSameAsEager((v) => tile(v, [2, 1, 3]), [x])
    await expectSameAsEager((v) => tile(v, 2), [x]) // fewer counts than axes: the last axis
    await expectSameAsEager((v) => tile(v, [2, 1, 1, 2]), [x]) // more: x promoted with a leading 1
    await expectSameAsEager((v) => tile(v, [1, 0, 2]), [x]) // a zero count: an empty axis
    await expectSameAsEager((v) => tile(v, [2, 3]), [T.scalar(-2, dtype)]) // a scalar promoted to rank 2
    await expectSameAsEager((v) => tile(v, [1, 1, 1]), [x]) // nothing to copy
    await expectSameAsEager((v) => repeat(v, 3, { axis: 1 }), [x])
    await expectSameAsEager((v) => repeat(v, 2, { axis: -1 }), [x])
    await expectSameAsEager((v) => repeat(v, 0, { axis: 0 }), [x]) // zero repeats: an empty axis
  })

  it.each([['float32'], ['float64'], ['int32']] as const)(
    'tril and triu for k below, on and above the diagonal, batched, on %s',
    async (dtype) => {
      const x = iota([2, 3, 5], dtype)
      for (const k of [-2, -1, 0, 1, 3, 7])
        for (const op of [tril, triu]) await expectSameAsEager((v) => op(v, { k }), [x])
      await expectSameAsEager((v) => tril(v), [iota([6, 4], dtype)])
    },
  )
})

describe('indexing lowerings', () => {
  it.each([['float32'], ['float64'], ['int32']] as const)(
    'slice: starts, negative steps, empty ranges, on %s',
    async (dtype) => {
      const x = iota([4, 5, 6], dtype)
      await expectSameAsEager(
        (v) => slice(v, [{ start: 1, stop: 3 }, undefined, { start: -4, step: 2 }]),
        [x],
      )
      await expectSameAsEager((v) => slice(v, [{ step: -1 }, { start: 3, stop: 0, step: -2 }]), [x])
      await expectSameAsEager(
        (v) => slice(v, [undefined, { start: 4, step: -3 }, { start: 5, stop: -7, step: -1 }]),
        [x],
      )
      await expectSameAsEager((v) => slice(v, [{ start: 2, stop: 2 }]), [x]) // empty
      await expectSameAsEager((v) => slice(v, [undefined, undefined, { start: -1 }]), [x])
    },
  )

  it.each([['float32'], ['float64'], ['int32']] as const)(
    'pad with zeros and another value, on %s',
    async (dtype) => {
      const x = iota([2, 3, 4], dtype)
      await expectSameAsEager(
        (v) =>
          pad(v, [
            [1, 0],
            [0, 2],
            [3, 1],
          ]),
        [x],
      )
      await expectSameAsEager((v) => pad(v, [[0, 1]], -7), [x]) // fewer pairs than axes
      await expectSameAsEager((v) => pad(v, [[0, 0]], 5), [x]) // nothing added
      await expectSameAsEager((v) => pad(v, []), [T.scalar(2, dtype)]) // a scalar
    },
  )

  it('pad with NaN and -Infinity', async () => {
    await expectSameAsEager((v) => pad(v, [[1, 1]], NaN), [f32([1, -0, 2])])
    await expectSameAsEager((v) => pad(v, [[2, 0]], -Infinity), [f64([1, -0, 2])])
  })

  it('concat promotes mixed dtypes, on every axis', async () => {
    const a = iota([2, 3], 'int32')
    const b = iota([2, 2], 'float32')
    const c = iota([2, 1], 'float64')
    await expectSameAsEager((x, y, z) => concat([x, y, z], { axis: 1 }), [a, b, c])
    await expectSameAsEager(
      (x, y) => concat([x, y], { axis: -2 }),
      [iota([1, 3], 'int32'), iota([4, 3], 'int32')],
    )
  })

  it.each([['float32'], ['int32']] as const)(
    'gather and takeAlongAxis on %s, every axis, matrix and scalar indices',
    async (dtype) => {
      const x = iota([3, 4, 5], dtype)
      const idx = i32([2, 0, 2, 1, 0, 0], [2, 3])
      await expectSameAsEager((v, i) => gather(v, i), [x, idx])
      await expectSameAsEager((v, i) => gather(v, i, { axis: -2 }), [x, i32([3, 0, 3])])
      await expectSameAsEager((v, i) => gather(v, i, { axis: 2 }), [x, i32([4, 1], [2, 1])])
      await expectSameAsEager((v, i) => gather(v, i, { axis: 1 }), [x, T.scalar(3, 'int32')])
      const along = T.reshape(
        T.tensor([0, 4, 4, 1, 2, 3, 3, 0, 1, 1, 2, 2, 4, 0, 0, 3, 1, 2, 4, 4, 0, 1, 2, 3], 'int32'),
        [3, 4, 2],
      )
      await expectSameAsEager((v, i) => takeAlongAxis(v, i, { axis: -1 }), [x, along])
      // Along axis 0 of a [3, 1, 5] slice: indices [2, 1, 5] (fewer rows than x has)
      const rows = T.reshape(T.tensor([2, 0, 1, 1, 0, 2, 2, 2, 1, 0], 'int32'), [2, 1, 5])
      await expectSameAsEager(
        (v, i) => takeAlongAxis(v, i, { axis: 0 }),
        [T.slice(x, [undefined, { stop: 1 }]), rows],
      )
    },
  )

  it('scatterAdd and scatterAddAlongAxis add repeated indices, every axis', async () => {
    const idx = i32([2, 0, 2, 1, 2, 0], [2, 3])
    // updates [...pre, ...indices, ...post] = [2, 2, 3, 4] for axis 1 of a [2, 3, 4] result
    const updates = T.reshape(T.add(T.arange(0, 48), 0.25), [2, 2, 3, 4])
    await expectSameAsEager((u, i) => scatterAdd(u, i, [2, 3, 4], { axis: 1 }), [updates, idx])
    await expectSameAsEager((u, i) => scatterAdd(u, i, [3, 2]), [T.reshape(T.arange(0, 12), [2, 3, 2]), idx])
    await expectSameAsEager(
      (u, i) => scatterAdd(u, i, [5], { axis: 0 }),
      [T.arange(0, 4, 1, 'int32'), i32([4, 4, 0, 4])],
    )
    const along = T.reshape(T.tensor([0, 2, 2, 1, 1, 1, 0, 0], 'int32'), [2, 4])
    await expectSameAsEager(
      (u, i) => scatterAddAlongAxis(u, i, [3, 4], { axis: 0 }),
      [T.reshape(T.arange(1, 9), [2, 4]), along],
    )
    await expectSameAsEager(
      (u, i) => scatterAddAlongAxis(u, i, [2, 3], { axis: -1 }),
      [T.reshape(T.arange(1, 9, 1, 'int32'), [2, 4]), along],
    )
  })

  it.each([['float32'], ['float64'], ['int32']] as const)(
    'oneHot in %s, indices of any rank',
    async (dtype) => {
      await expectSameAsEager((i) => oneHot(i, 4, dtype), [i32([3, 0, 1, 3, 2, 0], [2, 3])])
      await expectSameAsEager((i) => oneHot(i, 3, dtype), [T.scalar(2, 'int32')])
    },
  )

  it('a negative or too large index fails in ONNX Runtime, as backfold rejects it, instead of wrapping', async () => {
    const x = f32([1, 2, 3])
    expect(() => gather(x, i32([-1]))).toThrow(/negative indices are not allowed/)
    await expect(runOnOrt((v, i) => gather(v, i), x, i32([-1]))).rejects.toThrow(/out of|bounds|range/i)
    await expect(runOnOrt((v, i) => gather(v, i), x, i32([3]))).rejects.toThrow(/out of|bounds|range/i)
    await expect(runOnOrt((v, i) => takeAlongAxis(v, i, { axis: 0 }), x, i32([0, -3]))).rejects.toThrow(
      /out of|bounds|range/i,
    )
    await expect(runOnOrt((u, i) => scatterAdd(u, i, [3]), x, i32([0, -1, 1]))).rejects.toThrow(
      /out of|bounds|range/i,
    )
    await expect(
      runOnOrt((u, i) => scatterAddAlongAxis(u, i, [3], { axis: 0 }), x, i32([0, 1, -2])),
    ).rejects.toThrow(/out of|bounds|range/i)
    await expect(runOnOrt((i) => oneHot(i, 3), i32([0, -1]))).rejects.toThrow(/out of|bounds|range/i)
    await expect(runOnOrt((i) => oneHot(i, 3), i32([3, 1]))).rejects.toThrow(/out of|bounds|range/i)
  })
})

describe('scan lowerings', () => {
  const flags = [
    { exclusive: false, reverse: false },
    { exclusive: true, reverse: false },
    { exclusive: false, reverse: true },
    { exclusive: true, reverse: true },
  ]
  it.each([['float32'], ['float64'], ['int32']] as const)(
    'cumsum and cumprod on every axis and flag, on %s',
    async (dtype) => {
      const x =
        dtype === 'int32'
          ? iota([3, 7, 2], 'int32')
          : T.reshape(
              T.tensor(
                Array.from({ length: 42 }, (_, i) => Math.sin(i) * 1.7),
                dtype,
              ),
              [3, 7, 2],
            )
      for (const axis of [0, 1, -1])
        for (const f of flags) {
          await expectSameAsEager((v) => cumsum(v, { axis, ...f }), [x], 1e-6)
          await expectSameAsEager((v) => cumprod(v, { axis, ...f }), [x], 1e-6)
        }
    },
  )

  it('cumprod is exact at zeros, negatives, infinities and NaN (no exp/log)', async () => {
    const x = f64([2, -3, 0, 5, -1, Infinity, 0, -2, NaN, 4, -0.5, 3, -Infinity, -2, 1e-3, 7, 0.5], [17])
    for (const f of flags) await expectSameAsEager((v) => cumprod(v, { axis: 0, ...f }), [x], 1e-12)
    await expectSameAsEager((v) => cumprod(v, { axis: 0 }), [f32([-1, -2, 0, -3])], 0)
  })

  it('int32 cumsum and cumprod wrap as backfold does', async () => {
    const x = i32([65536, 65536, 3, -7, 2147483647, 5])
    await expectSameAsEager((v) => cumprod(v, { axis: 0 }), [x], 0)
    await expectSameAsEager((v) => cumsum(v, { axis: 0 }), [x], 0)
  })
})

describe('sort lowerings (TopK)', () => {
  it.each([['float32'], ['float64']] as const)(
    'stable ties, NaN last ascending and first descending, -0 and infinities, on %s',
    async (dtype) => {
      const row = [3, NaN, -1, 3, Infinity, -0, 0, NaN, -Infinity, 3, Infinity, 0, -1, 2.5]
      const x = T.reshape(T.tensor([...row, ...row.slice().reverse()], dtype), [2, 14])
      for (const descending of [false, true]) {
        await expectSameAsEager((v) => argsort(v, { descending }), [x])
        await expectSameAsEager((v) => sort(v, { descending }), [x])
        await expectSameAsEager((v) => argsort(v, { axis: 0, descending }), [x])
        await expectSameAsEager((v) => sort(v, { axis: 0, descending }), [x])
      }
    },
  )

  it('int32, every axis', async () => {
    const x = T.reshape(T.tensor([5, -2, 5, 0, 7, -2, 5, 1, 0, 0, -9, 7], 'int32'), [2, 3, 2])
    for (const axis of [0, 1, 2])
      for (const descending of [false, true]) {
        await expectSameAsEager((v) => argsort(v, { axis, descending }), [x])
        await expectSameAsEager((v) => sort(v, { axis, descending }), [x])
      }
  })
})

/** Deterministic values in (-2, 2) shaped `shape`. */
const wave = (shape: number[], seed: number, dtype: 'float32' | 'float64' = 'float32'): Tensor => {
  const n = shape.reduce((a, d) => a * d, 1)
  return T.reshape(
    T.tensor(
      Array.from({ length: n }, (_, i) => 2 * Math.sin(seed * 7.1 + i * 1.3)),
      dtype,
    ),
    shape,
  )
}

describe('scaledDotProductAttention lowering (a MatMul / Softmax subgraph)', () => {
  it.each([['float32'], ['float64']] as const)(
    'plain, scaled, causal (Lq < Lk), broadcast batches, on %s',
    async (dtype) => {
      const q = wave([2, 3, 4], 1, dtype)
      const k = wave([2, 5, 4], 2, dtype)
      const v = wave([2, 5, 3], 3, dtype)
      await expectSameAsEager((a, b, c) => scaledDotProductAttention(a, b, c), [q, k, v])
      await expectSameAsEager(
        (a, b, c) => scaledDotProductAttention(a, b, c, { causal: true, scale: 0.7 }),
        [q, k, v],
      )
      // heads broadcast: q [2, 1, 3, 4] against k, v [1, 2, 5, 4]
      const qh = wave([2, 1, 3, 4], 4, dtype)
      await expectSameAsEager(
        (a, b, c) => scaledDotProductAttention(a, b, c),
        [qh, wave([1, 2, 5, 4], 5, dtype), wave([1, 2, 5, 2], 6, dtype)],
      )
      // batch ranks that differ (q [2, 2, 3, 4] against k, v [5, ·]; and the other way round)
      await expectSameAsEager(
        (a, b, c) => scaledDotProductAttention(a, b, c, { causal: true }),
        [wave([2, 2, 3, 4], 10, dtype), wave([5, 4], 11, dtype), wave([5, 2], 12, dtype)],
      )
      await expectSameAsEager(
        (a, b, c) => scaledDotProductAttention(a, b, c),
        [wave([3, 4], 13, dtype), wave([2, 5, 4], 14, dtype), wave([2, 5, 2], 15, dtype)],
      )
      // rank 2
      await expectSameAsEager(
        (a, b, c) => scaledDotProductAttention(a, b, c, { causal: true }),
        [wave([4, 4], 7, dtype), wave([4, 4], 8, dtype), wave([4, 2], 9, dtype)],
      )
    },
  )

  it('int32 and additive masks; a row with every key masked gives zeros', async () => {
    const q = wave([2, 3, 4], 1)
    const k = wave([2, 5, 4], 2)
    const v = wave([2, 5, 3], 3)
    // [2, 3, 5]: the second query of the first batch sees no key.
    const bits = [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1]
    const intMask = T.reshape(T.tensor(bits, 'int32'), [2, 3, 5])
    const [out] = await expectSameAsEager(
      (a, b, c, m) => scaledDotProductAttention(a, b, c, { mask: m }),
      [q, k, v, intMask],
    )
    expect(out!.data.slice(3, 6)).toEqual([0, 0, 0])
    const additive = T.reshape(
      T.tensor(
        bits.map((b, i) => (b === 1 ? 0.1 * i : -Infinity)),
        'float32',
      ),
      [2, 3, 5],
    )
    const [out2] = await expectSameAsEager(
      (a, b, c, m) => scaledDotProductAttention(a, b, c, { mask: m }),
      [q, k, v, additive],
    )
    expect(out2!.data.slice(3, 6)).toEqual([0, 0, 0])
    // a key-padding vector [Lk], combined with causal masking
    await expectSameAsEager(
      (a, b, c, m) => scaledDotProductAttention(a, b, c, { mask: m, causal: true }),
      [q, k, v, i32([0, 1, 1, 0, 1])],
    )
  })
})

describe('random ops are declared unsupported, with the reason', () => {
  it('randomBits names the generator ONNX cannot reproduce', () => {
    const reason = unsupportedReason((key) => randomBits(key, 4), random.keyData(random.key(3)))
    expect(reason).toMatch(/Threefry/)
    expect(reason).toMatch(/opset 17/)
  })

  it('attention dropout is declared unsupported (its mask is a random draw); the op given a keep mask, or without dropout, lowers', async () => {
    const [q, k, v] = [wave([2, 3, 4], 1), wave([2, 5, 4], 2), wave([2, 5, 3], 3)]
    const reason = unsupportedReason(
      (a, b, c, key) => scaledDotProductAttention(a, b, c, { dropout: { rate: 0.1, key } }),
      q,
      k,
      v,
      random.keyData(random.key(3)),
    )
    expect(reason).toMatch(/Threefry/)
    expect(reason).toMatch(/opset 17/)
    await expectSameAsEager(
      (a, b, c) => scaledDotProductAttention(a, b, c, { dropout: { rate: 0, key: random.key(3) } }),
      [q, k, v],
    )
    // The op's own part of dropout (the keep mask as an input, scaled by 1/(1 − rate)), causal.
    const keep = random.bernoulli(random.key(4), 0.6, [2, 3, 5])
    await expectSameAsEager(
      (a, b, c, m) =>
        applyOp(scaledDotProductAttentionOp, [a, b, c, m], { scale: 0.5, causal: true, dropout: 0.4 }),
      [q, k, v, keep],
    )
  })
})
