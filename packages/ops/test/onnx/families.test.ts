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
  round,
  sign,
  sinh,
  tan,
  tile,
  tril,
  triu,
} from '@backfold/ops'
import { expectSameAsEager, unsupportedReason } from './harness'

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
  ] as const)('%s on float64 is declared unsupported (no float64 kernel), not computed in float32', (name, op) => {
    const reason = unsupportedReason((x) => op(x), f64([0.5]))
    expect(reason).toContain('float64')
    expect(reason.toLowerCase()).toContain(name)
  })
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
  it.each([['float32'], ['float64']] as const)('isnan, isfinite, sign, round, floor, ceil on %s', async (dtype) => {
    const x = T.reshape(T.tensor(special, dtype), [2, 7])
    for (const op of [isnan, isfinite, sign, round, floor, ceil]) await expectSameAsEager((v) => op(v), [x])
  })

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
    await expectSameAsEager((v) => repeat(v, 3, { axis: 1 }), [x])
    await expectSameAsEager((v) => repeat(v, 2, { axis: -1 }), [x])
    await expectSameAsEager((v) => repeat(v, 0, { axis: 0 }), [x]) // zero repeats: an empty axis
  })

  it.each([['float32'], ['float64'], ['int32']] as const)('tril and triu for k below, on and above the diagonal, batched, on %s', async (dtype) => {
    const x = iota([2, 3, 5], dtype)
    for (const k of [-2, -1, 0, 1, 3, 7])
      for (const op of [tril, triu]) await expectSameAsEager((v) => op(v, { k }), [x])
    await expectSameAsEager((v) => tril(v), [iota([6, 4], dtype)])
  })
})
