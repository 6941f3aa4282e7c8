import { describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import {
  add,
  astype,
  clip,
  exp,
  expm1,
  log1p,
  matmul,
  maximum,
  mul,
  relu,
  reshape,
  softplus,
  where,
  type Tensor,
} from '@backfold/ops'
import { runOnOrt } from './helpers'

/** Elementwise closeness against values computed here from the formula. */
const expectClose = (
  actual: Tensor,
  expected: ReadonlyArray<number>,
  shape: ReadonlyArray<number>,
  tol = 1e-6,
) => {
  expect(actual.shape).toEqual(shape)
  expect(actual.data.length).toBe(expected.length)
  actual.data.forEach((v, i) =>
    expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(expected[i]!))),
  )
}

describe('ONNX lowerings run in onnxruntime-node', () => {
  it('matmul with each transpose flag (Gemm for matrices, MatMul for batches), add, mul, exp, reshape', () => {
    const a = T.tensor([
      [0.1, -0.2, 0.3],
      [0.4, 0.5, -0.6],
    ]) // [2,3]
    const b = T.tensor([
      [1, 2],
      [3, -4],
      [0.5, 6],
    ]) // [3,2]
    const mm = (x: number[][], y: number[][]) =>
      x.map((row) => y[0]!.map((_, j) => row.reduce((s, v, k) => s + v * y[k]![j]!, 0)))
    const A = [
      [0.1, -0.2, 0.3],
      [0.4, 0.5, -0.6],
    ]
    const B = [
      [1, 2],
      [3, -4],
      [0.5, 6],
    ]
    const tr = (x: number[][]) => x[0]!.map((_, j) => x.map((r) => r[j]!))
    const [ab] = runOnOrt((x, y) => matmul(x, y), a, b)
    expectClose(ab!, mm(A, B).flat(), [2, 2], 1e-6)
    const [atbt] = runOnOrt((x, y) => matmul(x, y, { transposeA: true, transposeB: true }), b, a)
    expectClose(atbt!, mm(tr(B), tr(A)).flat(), [2, 2], 1e-6)
    // batched [2,2,3] x [3,2]^T... as a batch of two: MatMul with a transposed operand
    const batch = T.reshape(T.tensor([...A.flat(), ...A.flat().map((v) => -v)]), [2, 2, 3])
    const [bt] = runOnOrt((x, y) => matmul(x, y, { transposeB: true }), batch, T.tensor(tr(B)))
    expectClose(
      bt!,
      [
        ...mm(A, B).flat(),
        ...mm(A, B)
          .flat()
          .map((v) => -v),
      ],
      [2, 2, 2],
      1e-6,
    )
    const [y] = runOnOrt((x) => reshape(add(exp(x), mul(x, 2)), [3, 2]), a)
    expectClose(
      y!,
      A.flat().map((v) => Math.exp(v) + 2 * v),
      [3, 2],
      1e-6,
    )
  })

  it('int32 inputs promote as backfold does (exp of int32 is float32; int32 + float32 is float32)', () => {
    const i = T.tensor([1, 2, 3], 'int32')
    const f = T.tensor([0.5, 0.25, 0.125])
    const [e, s] = runOnOrt((x, y) => [exp(x), add(x, y)], i, f)
    expect(e!.dtype).toBe('float32')
    expectClose(e!, [1, 2, 3].map(Math.exp), [3], 1e-6)
    expect(s!.dtype).toBe('float32')
    expectClose(s!, [1.5, 2.25, 3.125], [3], 0)
  })
})

describe('lowerings that ONNX has no single operator for keep eager accuracy and special values', () => {
  const xs = [1e-10, -1e-7, 3e-4, 0.3, -0.49, 0.6, -20, 30, 1e-30]
  it('log1p and expm1 (Kahan forms) and softplus within a few float64 ulps of Math.log1p / Math.expm1', () => {
    const x = T.tensor(xs, 'float64')
    const [l, e, s] = runOnOrt((v) => [log1p(v), expm1(v), softplus(v)], x)
    xs.forEach((v, i) => {
      if (v <= -1) expect(l!.data[i]).toBeNaN()
      else expect(Math.abs(l!.data[i]! - Math.log1p(v))).toBeLessThanOrEqual(4e-16 * Math.abs(Math.log1p(v)))
      expect(Math.abs(e!.data[i]! - Math.expm1(v))).toBeLessThanOrEqual(4e-16 * Math.abs(Math.expm1(v)))
      const sp = Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)))
      expect(Math.abs(s!.data[i]! - sp)).toBeLessThanOrEqual(4e-16 * sp)
    })
  })

  it('NaN, infinities and saturation as backfold defines them (maximum, relu, clip, astype to int32, where)', () => {
    const x = T.tensor([NaN, 1, -2, Infinity, -Infinity, 0.5, 3e9, -3e9])
    const y = T.tensor([1, NaN, -3, 2, 5, NaN, 0, 0])
    const [mx, r, c, i32, w] = runOnOrt(
      (a, b) => [maximum(a, b), relu(a), clip(a, -1, 1), astype(a, 'int32'), where(a, b, 7)],
      x,
      y,
    )
    expect(Array.from(mx!.data)).toEqual([NaN, NaN, -2, Infinity, 5, NaN, 3e9, 0])
    expect(Array.from(r!.data)).toEqual([NaN, 1, 0, Infinity, 0, 0.5, 3e9, 0])
    expect(Array.from(c!.data)).toEqual([NaN, 1, -1, 1, -1, 0.5, 1, -1])
    // Truncation toward zero, NaN to 0, saturation at the int32 range (ONNX's Cast leaves these undefined).
    expect(Array.from(i32!.data)).toEqual([0, 1, -2, 2147483647, -2147483648, 0, 2147483647, -2147483648])
    // NaN in cond counts as true.
    expect(Array.from(w!.data)).toEqual([1, NaN, -3, 2, 5, NaN, 0, 0])
  })
})
