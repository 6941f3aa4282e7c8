import { describe, expect, it, vi } from 'vitest'
import fc from 'fast-check'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import {
  argmax,
  argmaxOp,
  argmin,
  argminOp,
  cumprod,
  cumsum,
  logsumexp,
  logsumexpOp,
  max,
  maxOp,
  mean,
  meanOp,
  min,
  minOp,
  norm,
  normOp,
  prod,
  prodOp,
  sum,
  sumOp,
  variance,
} from '../src/reduce/index'
import type { Aval } from '../src/core/op'
import { makeGraph } from '../src/staging/graph'
import { mul } from '../src/binary/mul'
import { oneHot } from '../src/indexing/oneHot'
import { checkVjp } from '../src/check/checkVjp'
import { grad } from '../src/transforms/grad'
import { hvp } from '../src/transforms/hvp'
import { vmap } from '../src/transforms/vmap'
import { anywhere, distinct } from './rows/domains'

const f64 = (shape: ReadonlyArray<number>, values: ReadonlyArray<number>): Tensor =>
  T.unsafeTensor('float64', shape, Float64Array.from(values))
const values = (x: Tensor): number[] => Array.from(x.data)
const gradOf = (f: (x: Tensor) => Tensor, x: Tensor): number[] => values(grad(f)(x))

/** Naive reduction of `x` over `axes` by a plain loop over every element. */
const naiveReduce = (
  x: Tensor,
  axes: ReadonlyArray<number>,
  init: number,
  step: (acc: number, v: number) => number,
): { shape: number[]; data: number[] } => {
  const shape = x.shape
  const outShape = shape.filter((_, i) => !axes.includes(i))
  const outStrides = T.stridesOf(outShape)
  const out = new Array<number>(T.sizeOf(outShape)).fill(init)
  const index = new Array<number>(shape.length).fill(0)
  for (let flat = 0; flat < x.data.length; flat++) {
    let o = 0
    let k = 0
    for (let i = 0; i < shape.length; i++) if (!axes.includes(i)) o += index[i]! * outStrides[k++]!
    out[o] = step(out[o]!, x.data[flat]!)
    for (let i = shape.length - 1; i >= 0; i--) {
      if (++index[i]! < shape[i]!) break
      index[i] = 0
    }
  }
  return { shape: outShape, data: out }
}

const closeTo = (actual: ReadonlyArray<number>, expected: ReadonlyArray<number>, digits = 10): void => {
  expect(actual.length).toBe(expected.length)
  actual.forEach((a, i) => {
    // n − ddof = 0 gives NaN on both sides.
    if (Number.isNaN(expected[i])) expect(a).toBeNaN()
    else expect(a).toBeCloseTo(expected[i]!, digits)
  })
}

/** A random shape of rank 1..3 with a random subset of its axes. */
const shapeAndAxes = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }).chain((shape) =>
  fc.tuple(
    fc.constant(shape),
    fc.subarray(
      shape.map((_, i) => i),
      { minLength: 1 },
    ),
    fc.integer({ min: 0, max: 1000 }),
  ),
)

describe('variance (composite)', () => {
  it('matches a two-pass reference over random axes, ddof 0 and 1', () => {
    fc.assert(
      fc.property(shapeAndAxes, fc.integer({ min: 0, max: 1 }), ([shape, axes, seed], ddof) => {
        const x = anywhere(seed, shape)
        const count = axes.reduce((n, a) => n * shape[a]!, 1)
        const means = naiveReduce(x, axes, 0, (acc, v) => acc + v / count)
        // Second pass: squared deviations, each element against its own group's mean.
        const meanOf = (flat: number): number => {
          let o = 0
          let rest = flat
          const strides = T.stridesOf(shape)
          const outStrides = T.stridesOf(means.shape)
          let k = 0
          for (let i = 0; i < shape.length; i++) {
            const idx = Math.floor(rest / strides[i]!)
            rest -= idx * strides[i]!
            if (!axes.includes(i)) o += idx * outStrides[k++]!
          }
          return means.data[o]!
        }
        const deviations = f64(
          shape,
          values(x).map((v, i) => (v - meanOf(i)) ** 2),
        )
        const expected = naiveReduce(deviations, axes, 0, (acc, v) => acc + v).data.map(
          (s) => s / (count - ddof),
        )
        const actual = variance(x, { axis: axes, ddof })
        expect(actual.shape).toEqual(means.shape)
        closeTo(values(actual), expected)
      }),
      { numRuns: 40 },
    )
  })

  it('stays accurate for data with a large mean (two passes, not E[x²] − E[x]²)', () => {
    const x = f64([3], [1e8 + 1, 1e8 + 2, 1e8 + 3])
    expect(T.item(variance(x))).toBeCloseTo(2 / 3, 8)
    expect(T.item(variance(x, { ddof: 1 }))).toBeCloseTo(1, 8)
  })

  it('keeps dimensions when asked and gives floats for int32', () => {
    const x = T.unsafeTensor('int32', [2, 2], Int32Array.from([1, 3, 5, 9]))
    const v = variance(x, { axis: 1, keepDims: true })
    expect(v.shape).toEqual([2, 1])
    expect(v.dtype).toBe('float32')
    expect(values(v)).toEqual([1, 4])
  })

  it('has gradient 2(x − mean)/(n − ddof)', () => {
    const x = f64([4], [1, 2, 4, 9])
    closeTo(
      gradOf((t) => variance(t, { ddof: 1 }), x),
      [1, 2, 4, 9].map((v) => (2 * (v - 4)) / 3),
    )
  })

  it('rejects a negative ddof and bad axes with typed errors', () => {
    const x = f64([3], [1, 2, 3])
    expect(() => variance(x, { ddof: -1 })).toThrow(T.ValueError)
    expect(() => variance(x, { ddof: -1 })).toThrow(/variance.*ddof -1.*\[3\]/)
    expect(() => variance(x, { axis: 1 })).toThrow(T.ValueError)
  })

  it('divides by n − ddof <= 0 like NumPy (Infinity or NaN, no throw)', () => {
    expect(T.item(variance(f64([1], [5]), { ddof: 1 }))).toBeNaN()
  })
})

describe('norm', () => {
  it('matches a reference over random axes', () => {
    fc.assert(
      fc.property(shapeAndAxes, ([shape, axes, seed]) => {
        const x = anywhere(seed, shape)
        const expected = naiveReduce(x, axes, 0, (acc, v) => acc + v * v).data.map(Math.sqrt)
        closeTo(values(norm(x, { axis: axes })), expected)
      }),
      { numRuns: 30 },
    )
  })

  it('has gradient x / ‖x‖, and 0 (not NaN) at 0', () => {
    closeTo(gradOf(norm, f64([2], [3, 4])), [0.6, 0.8])
    expect(gradOf(norm, f64([3], [0, 0, 0]))).toEqual([0, 0, 0])
    // Per-row: the zero row gets 0, the other row x / ‖x‖.
    const rows = f64([2, 2], [0, 0, 3, 4])
    closeTo(values(grad((x: Tensor) => sum(norm(x, { axis: 1 })))(rows)), [0, 0, 0.6, 0.8])
  })

  it('has finite second derivatives at 0 and the right Hessian elsewhere', () => {
    const [atZero] = hvp(norm)([f64([2], [0, 0])], [f64([2], [1, 0])])
    expect(values(atZero).every(Number.isFinite)).toBe(true)
    // H = (I − x xᵀ/‖x‖²)/‖x‖ at x = [3, 4]: H e₁ = [1 − 9/25, −12/25] / 5.
    const [column] = hvp(norm)([f64([2], [3, 4])], [f64([2], [1, 0])])
    closeTo(values(column), [16 / 125, -12 / 125])
  })
})

describe('sum and mean', () => {
  it('spread the cotangent over the reduced axes, with and without keepDims', () => {
    const x = anywhere(1, [2, 3, 2])
    const g = anywhere(2, [2, 2])
    const dx = grad((t: Tensor) => sum(mul(sum(t, { axis: 1 }), g)))(x)
    const dxKept = grad((t: Tensor) =>
      sum(mul(sum(t, { axis: [1], keepDims: true }), T.reshape(g, [2, 1, 2]))),
    )(x)
    // dx[i, j, k] = g[i, k]
    const expected = [0, 1].flatMap((i) => [0, 1, 2].flatMap(() => [0, 1].map((k) => g.data[i * 2 + k]!)))
    expect(values(dx)).toEqual(expected)
    expect(values(dxKept)).toEqual(expected)
  })

  it('mean divides the cotangent by the reduced count', () => {
    expect(gradOf((t) => mean(t), f64([4], [1, 2, 3, 4]))).toEqual([0.25, 0.25, 0.25, 0.25])
    expect(gradOf((t) => sum(mean(t, { axis: 0 })), f64([2, 3], [1, 2, 3, 4, 5, 6]))).toEqual([
      0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
    ])
  })

  it('sum over no axes is the identity and its gradient is the cotangent', () => {
    const x = f64([2], [1, 2])
    expect(values(sum(x, { axis: [] }))).toEqual([1, 2])
    expect(gradOf((t) => sum(mul(sum(t, { axis: [] }), f64([2], [3, 5]))), x)).toEqual([3, 5])
  })

  it('keep the dtype rules of the kernels (sum keeps int32, mean gives float32) and float32 gradients', () => {
    const ints = T.unsafeTensor('int32', [3], Int32Array.from([1, 2, 4]))
    expect(sum(ints).dtype).toBe('int32')
    expect(mean(ints).dtype).toBe('float32')
    const x32 = T.unsafeTensor('float32', [2], Float32Array.from([1, 2]))
    expect(grad((t: Tensor) => mean(t))(x32).dtype).toBe('float32')
  })

  it('reject bad axes with a ValueError naming the op', () => {
    const x = f64([2, 2], [1, 2, 3, 4])
    expect(() => sum(x, { axis: 2 })).toThrow(T.ValueError)
    expect(() => sum(x, { axis: 2 })).toThrow(/sum/)
    expect(() => mean(x, { axis: [0, -2] })).toThrow(/mean.*repeat/)
  })
})

describe('prod', () => {
  it('has gradient y / x without zeros', () => {
    closeTo(gradOf(prod, f64([3], [2, 3, 4])), [12, 8, 6])
  })

  it('is exact with zeros: the product of the others at a single zero, 0 with two or more', () => {
    expect(gradOf(prod, f64([3], [2, 0, 3]))).toEqual([0, 6, 0])
    expect(gradOf(prod, f64([3], [0, 0, 3]))).toEqual([0, 0, 0])
    expect(gradOf(prod, f64([1], [0]))).toEqual([1])
    // Per row of an axis reduction: no zero, one zero, two zeros.
    const x = f64([3, 3], [1, 2, 3, 4, 0, 5, 0, 6, 0])
    expect(values(grad((t: Tensor) => sum(prod(t, { axis: 1 })))(x))).toEqual([6, 3, 2, 0, 20, 0, 0, 0, 0])
  })

  it('has no NaN anywhere in the gradient or second derivative at zeros', () => {
    const x = f64([3], [0, 2, 3])
    const [h] = hvp(prod)([x], [f64([3], [1, 1, 1])])
    // H = [[0, 3, 2], [3, 0, 0], [2, 0, 0]]; H·1 = [5, 3, 2]
    expect(values(h)).toEqual([5, 3, 2])
  })

  it('checks against finite differences with a single exact zero (second order too)', () => {
    const x = f64([2, 3], [1.5, 0, -0.5, 0, 0.7, 1.1])
    const f = (t: Tensor): Tensor => prod(t, { axis: 1 })
    expect(checkVjp(f, [x]).ok).toBe(true)
    const gradient = (t: Tensor): Tensor => grad((u: Tensor) => sum(mul(f(u), f64([2], [0.3, -1.2]))))(t)
    // checkVjp's own second-order check of this gradient is prod's third order.
    const report = checkVjp(gradient, [x])
    expect(report.ok, report.message).toBe(true)
  })

  it('has the exact second derivative between two zeros of a set (the product of the rest)', () => {
    // d²(x0 x1 x2)/dx0 dx1 = x2 = 3 at x = [0, 0, 3]: H = [[0, 3, 0], [3, 0, 0], [0, 0, 0]]
    const [h] = hvp(prod)([f64([3], [0, 0, 3])], [f64([3], [1, 2, 5])])
    expect(values(h)).toEqual([6, 3, 0])
    // Three zeros: every second derivative is a product containing a zero.
    const [h3] = hvp(prod)([f64([3], [0, 0, 0])], [f64([3], [1, 1, 1])])
    expect(values(h3)).toEqual([0, 0, 0])
  })

  it.each([
    ['no zero', [1.2, -0.7, 0.9, 1.4]],
    ['one zero', [1.2, 0, 0.9, 1.4]],
    ['two zeros', [0, -0.7, 0, 1.4]],
    ['three zeros', [0, 0, 0.9, 0]],
  ])('checks against finite differences to third order with %s in a set', (_label, set) => {
    // The set spans axes 0 and 2 of a [2, 2, 2] tensor; the other set mirrors it, negated.
    const x = f64([2, 2, 2], [set[0]!, set[1]!, -set[0]!, -set[1]!, set[2]!, set[3]!, -set[2]!, -set[3]!])
    const f = (t: Tensor): Tensor => prod(t, { axis: [0, 2] })
    const first = checkVjp(f, [x])
    expect(first.ok, first.message).toBe(true)
    const gradient = (t: Tensor): Tensor => grad((u: Tensor) => sum(mul(f(u), f64([2], [0.3, -1.2]))))(t)
    const report = checkVjp(gradient, [x])
    expect(report.ok, report.message).toBe(true)
  })
})

describe('cumprod', () => {
  it('computes inclusive, exclusive and reversed products along an axis', () => {
    const x = f64([2, 3], [2, 3, 4, 0, 5, 6])
    expect(values(cumprod(x, { axis: 1 }))).toEqual([2, 6, 24, 0, 0, 0])
    expect(values(cumprod(x, { axis: 1, exclusive: true }))).toEqual([1, 2, 6, 1, 0, 0])
    expect(values(cumprod(x, { axis: -1, reverse: true }))).toEqual([24, 12, 4, 0, 30, 6])
    expect(values(cumprod(x, { axis: 0, exclusive: true, reverse: true }))).toEqual([0, 5, 6, 1, 1, 1])
  })

  it('has the exact gradient at zeros (no division)', () => {
    // y = [x0, x0 x1, x0 x1 x2]; x̄ = [1 + x1 + x1 x2, x0 + x0 x2, x0 x1] at [2, 0, 0]
    expect(gradOf((t) => sum(cumprod(t, { axis: 0 })), f64([3], [2, 0, 0]))).toEqual([1, 2, 0])
  })

  it('refuses a missing axis, an unknown key and a bad flag', () => {
    const x = f64([3], [1, 2, 3])
    expect(() => cumprod(x, { axis: 1 })).toThrow(/axis 1 is out of range/)
    expect(() => cumprod(x, { axis: 0, exclusve: true } as unknown as { axis: number })).toThrow(/exclusve/)
    expect(() => cumprod(x, { axis: 0, reverse: 1 } as unknown as { axis: number })).toThrow(/reverse/)
  })
})

describe('cumsum', () => {
  // The reference: for each position, a plain loop over the positions it includes.
  const reference = (xs: number[], exclusive: boolean, reverse: boolean): number[] =>
    xs.map((_, k) =>
      xs.reduce((acc, v, j) => {
        const included = reverse ? (exclusive ? j > k : j >= k) : exclusive ? j < k : j <= k
        return included ? acc + v : acc
      }, 0),
    )
  it('computes inclusive, exclusive and reversed sums along an axis', () => {
    const rows = [
      [1.5, -2, 3.25, 4],
      [0, 5, -6, 0.5],
    ]
    const x = f64([2, 4], rows.flat())
    for (const exclusive of [false, true])
      for (const reverse of [false, true])
        expect(values(cumsum(x, { axis: 1, exclusive, reverse }))).toEqual(
          rows.flatMap((r) => reference(r, exclusive, reverse)),
        )
    expect(values(cumsum(x, { axis: 0 }))).toEqual([1.5, -2, 3.25, 4, 1.5, 3, -2.75, 4.5])
  })

  it('keeps int32 (wrapping like C) and float32', () => {
    const big = T.unsafeTensor('int32', [2], Int32Array.from([2 ** 31 - 1, 1]))
    const y = cumsum(big, { axis: 0 })
    expect(y.dtype).toBe('int32')
    expect(values(y)).toEqual([2 ** 31 - 1, -(2 ** 31)])
    expect(cumsum(T.unsafeTensor('float32', [2], Float32Array.from([1, 2])), { axis: 0 }).dtype).toBe(
      'float32',
    )
  })

  it('has the reversed cumsum as its gradient', () => {
    // d/dx_i Σ_k w_k y_k = Σ_{k ≥ i} w_k
    const w = f64([3], [1, 10, 100])
    expect(values(grad((t: Tensor) => sum(mul(cumsum(t, { axis: 0 }), w)))(f64([3], [0, 0, 0])))).toEqual([
      111, 110, 100,
    ])
  })

  it('refuses a missing axis, an unknown key and a bad flag', () => {
    const x = f64([3], [1, 2, 3])
    expect(() => cumsum(x, { axis: 1 })).toThrow(/axis 1 is out of range/)
    expect(() => cumsum(x, { axis: 0, exclusve: true } as unknown as { axis: number })).toThrow(/exclusve/)
    expect(() => cumsum(x, { axis: 0, reverse: 1 } as unknown as { axis: number })).toThrow(/reverse/)
  })
})

describe('max and min', () => {
  it('split the cotangent evenly among tied extremes (PyTorch convention)', () => {
    expect(gradOf(max, f64([3], [1, 3, 3]))).toEqual([0, 0.5, 0.5])
    expect(gradOf(min, f64([4], [2, 2, 2, 2]))).toEqual([0.25, 0.25, 0.25, 0.25])
    const x = f64([2, 3], [5, 1, 5, 0, 7, 2])
    expect(values(grad((t: Tensor) => sum(max(t, { axis: 1 })))(x))).toEqual([0.5, 0, 0.5, 0, 1, 0])
    expect(values(grad((t: Tensor) => sum(min(t, { axis: 0, keepDims: true })))(x))).toEqual([
      0, 1, 0, 1, 0, 1,
    ])
  })

  it('send the whole cotangent to a unique extreme, with large magnitudes', () => {
    expect(gradOf(max, f64([3], [-1e300, 1e300, 0]))).toEqual([0, 1, 0])
    expect(gradOf(min, f64([3], [-Infinity, 1, 2]))).toEqual([1, 0, 0])
  })

  it('give a NaN set a NaN gradient and keep float32 gradients float32', () => {
    expect(gradOf(max, f64([3], [1, NaN, 2])).every(Number.isNaN)).toBe(true)
    const x32 = T.unsafeTensor('float32', [3], Float32Array.from([1, 4, 4]))
    const g = grad((t: Tensor) => min(max(t, { axis: 0, keepDims: true })))(x32)
    expect(g.dtype).toBe('float32')
    expect(values(g)).toEqual([0, 0.5, 0.5])
  })

  it('reject an empty reduction with a ValueError', () => {
    expect(() => max(T.unsafeTensor('float64', [0], new Float64Array(0)))).toThrow(T.ValueError)
  })
})

describe('argmax and argmin', () => {
  it('give int32 indices (first on ties) and a zero gradient', () => {
    const x = f64([2, 3], [1, 9, 9, 4, 0, 0])
    const a = argmax(x, { axis: 1 })
    expect(a.dtype).toBe('int32')
    expect(values(a)).toEqual([1, 0])
    expect(values(argmin(x, { axis: -1, keepDims: true }))).toEqual([0, 1])
    expect(argmin(x, { axis: -1, keepDims: true }).shape).toEqual([2, 1])
    expect(values(argmax(x))).toEqual([1])
    // The composite below is differentiable through x, and not through the indices.
    const picked = (t: Tensor): Tensor => sum(mul(t, oneHot(argmax(t, { axis: 1 }), 3, 'float64')))
    expect(gradOf(picked, x)).toEqual([0, 1, 0, 1, 0, 0])
  })

  it('reject a bad axis with a ValueError naming the op', () => {
    expect(() => argmax(f64([2], [1, 2]), { axis: 1 })).toThrow(/argmax/)
  })
})

describe('logsumexp', () => {
  it('is stable at large magnitudes, value and gradient', () => {
    const x = f64([2], [1000, 1000])
    expect(T.item(logsumexp(x))).toBeCloseTo(1000 + Math.LN2, 10)
    closeTo(gradOf(logsumexp, x), [0.5, 0.5], 12)
    const spread = gradOf(logsumexp, f64([3], [-1000, 0, 1000]))
    expect(spread).toEqual([0, 0, 1])
  })

  it('has gradient softmax(x) over the reduced axes', () => {
    const x = f64([2, 2], [0, Math.log(3), 1, 1])
    closeTo(values(grad((t: Tensor) => sum(logsumexp(t, { axis: 1 })))(x)), [0.25, 0.75, 0.5, 0.5])
  })

  it('has Hessian diag(p) − p pᵀ', () => {
    const x = f64([3], [0.1, -0.4, 0.9])
    const e = Array.from(x.data, Math.exp)
    const total = e.reduce((a, b) => a + b, 0)
    const p = e.map((v) => v / total)
    const v = [0.3, -1, 2]
    const pv = p.reduce((acc, pi, i) => acc + pi * v[i]!, 0)
    const [h] = hvp(logsumexp)([x], [f64([3], v)])
    closeTo(
      values(h),
      p.map((pi, i) => pi * v[i]! - pi * pv),
    )
  })
})

/**
 * `vmap(f)` over the examples stacked along every axis of the batch (negative ones included), with
 * one example and with all of them, equals `f` applied to each example, stacked; so does
 * `vmap(grad)` against per-example gradients, unless `f` gives indices.
 */
const expectBatchesLikeALoop = (f: (x: Tensor) => Tensor, examples: ReadonlyArray<Tensor>): void => {
  const rank = examples[0]!.shape.length + 1
  const out = f(examples[0]!)
  const weighting = T.unsafeTensor(
    'float64',
    out.shape,
    Float64Array.from({ length: T.sizeOf(out.shape) }, (_, i) => Math.sin(i + 1)),
  )
  const perExampleGrad = grad((x: Tensor) => sum(mul(f(x), weighting)))
  const differentiable = out.dtype !== 'int32'
  for (const chosen of [examples.slice(0, 1), examples]) {
    const expected = T.stack(chosen.map(f))
    const expectedGrad = differentiable ? T.stack(chosen.map(perExampleGrad)) : undefined
    for (let axis = -rank; axis < rank; axis++) {
      const batch = T.stack(chosen, axis < 0 ? axis + rank : axis)
      const where = `${chosen.length} examples along axis ${axis}`
      const got = vmap(f, { inAxes: [axis] })(batch)
      expect(got.shape, where).toEqual(expected.shape)
      expect(got.dtype, where).toBe(expected.dtype)
      closeTo(values(got), values(expected), 12)
      if (expectedGrad === undefined) continue
      const g = vmap(perExampleGrad, { inAxes: [axis] })(batch)
      expect(g.shape, where).toEqual(expectedGrad.shape)
      closeTo(values(g), values(expectedGrad), 12)
    }
  }
}

const threeExamples = (shape: ReadonlyArray<number>, seed: number): Tensor[] =>
  [0, 1, 2].map((i) => distinct(seed + i, shape))

describe('reductions under vmap (batching rules)', () => {
  const reductions = { sum, mean, prod, max, min, logsumexp, norm }
  const options = [
    { axis: [0, 2] },
    { axis: 1, keepDims: true },
    { axis: -1 },
    {},
    { keepDims: true },
    { axis: [0, 1, 2] },
  ] as const
  for (const [name, reduce] of Object.entries(reductions))
    it(`${name}: reduces each example over its own axes, the examples' axis anywhere`, () => {
      for (const opts of options) expectBatchesLikeALoop((x) => reduce(x, opts), threeExamples([2, 3, 2], 40))
      expectBatchesLikeALoop((x) => reduce(x, { axis: 0 }), threeExamples([4], 50))
      expectBatchesLikeALoop((x) => reduce(x), threeExamples([], 55))
    })

  it('sum over no axes stays the identity on each example', () => {
    expectBatchesLikeALoop((x) => sum(x, { axis: [] }), threeExamples([2, 3], 60))
  })

  it('variance (composite) reads only the shape of one example', () => {
    expectBatchesLikeALoop(
      (x) => variance(x, { axis: [0, 2], ddof: 1, keepDims: true }),
      threeExamples([2, 3, 2], 70),
    )
    expectBatchesLikeALoop((x) => variance(x), threeExamples([3, 2], 75))
  })

  it('argmax/argmin: with an axis, the index along it in each example', () => {
    for (const reduce of [argmax, argmin]) {
      expectBatchesLikeALoop((x) => reduce(x, { axis: 1 }), threeExamples([3, 4, 2], 80))
      expectBatchesLikeALoop((x) => reduce(x, { axis: -1, keepDims: true }), threeExamples([3, 4], 85))
    }
  })

  it('argmax/argmin: without an axis, the index into one flattened example (not into the batch)', () => {
    for (const reduce of [argmax, argmin]) {
      expectBatchesLikeALoop((x) => reduce(x), threeExamples([3, 2, 2], 90))
      expectBatchesLikeALoop((x) => reduce(x, { keepDims: true }), threeExamples([3, 4], 95))
      expectBatchesLikeALoop((x) => reduce(x), threeExamples([5], 100))
      expectBatchesLikeALoop((x) => reduce(x, { keepDims: true }), threeExamples([], 105))
    }
    // Maxima at different flat positions per example, the examples along the middle axis.
    const examples = [f64([2, 2], [0, 9, 1, 2]), f64([2, 2], [0, 1, 2, 9])]
    expect(values(vmap((x: Tensor) => argmax(x), { inAxes: [1] })(T.stack(examples, 1)))).toEqual([1, 3])
  })

  it('a reduction inside a vjp inside vmap: per-example gradients of max with ties shared', () => {
    const examples = [f64([2, 2], [1, 3, 3, 0]), f64([2, 2], [5, 5, 5, 2])]
    const g = vmap(
      grad((x: Tensor) => max(x)),
      { inAxes: [-1] },
    )(T.stack(examples, 2))
    expect(values(g)).toEqual([0, 0.5, 0.5, 0, 1 / 3, 1 / 3, 1 / 3, 0])
  })
})

describe('module loading', () => {
  // The reductions read their batching rule from internal/reduceParams when they load; an import
  // cycle back to it (through broadcastTo, unbroadcast and sum) once left sum's rule undefined
  // whenever the cycle was entered there, e.g. by importing reduce/index first.
  const entries = [
    () => import('../src/internal/reduceParams'),
    () => import('../src/internal/reduceCotangent'),
    () => import('../src/reduce/argmax'),
    () => import('../src/reduce/sum'),
    () => import('../src/shape/reshape'),
    () => import('../src/shape/broadcastTo'),
    () => import('../src/core/unbroadcast'),
    () => import('../src/core/batching'),
  ]
  it('every reduction and shape op has its batching and shape rules, whichever module loads first', async () => {
    for (const entry of entries) {
      vi.resetModules()
      await entry()
      const { reduceOps } = await import('../src/reduce/index')
      const { shapeOps } = await import('../src/shape/index')
      for (const op of [...Object.values(reduceOps), ...Object.values(shapeOps)]) {
        expect(typeof op.batch, `${op.name} after loading ${entry.toString()}`).toBe('function')
        expect(typeof op.abstract, `${op.name} after loading ${entry.toString()}`).toBe('function')
      }
    }
  })
})

/**
 * The op's shape rule agrees with its forward: the same shape and dtype, or the same error (class
 * and message), so a program fails while it is staged exactly as it would when run.
 */
const expectRuleMatchesForward = (rule: () => Aval, forward: () => Tensor): void => {
  let expected: Aval | Error
  try {
    const y = forward()
    expected = { shape: [...y.shape], dtype: y.dtype }
  } catch (error) {
    if (!(error instanceof Error)) throw error
    expected = error
  }
  if (!(expected instanceof Error)) {
    expect(rule()).toEqual(expected)
    return
  }
  let thrown: unknown
  try {
    rule()
  } catch (error) {
    thrown = error
  }
  // The exact class (a ValueError is not a ShapeError) and the exact message.
  expect(thrown instanceof Error ? [thrown.constructor, thrown.message] : thrown).toEqual([
    expected.constructor,
    expected.message,
  ])
}

/** A shape of rank 0..3 (empty axes included), axes among its own and one out of range, a dtype. */
const reductionCase = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }).chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    axes: fc.subarray(Array.from({ length: shape.length + 1 }, (_, i) => i)),
    axis: fc.option(fc.integer({ min: 0, max: shape.length }), { nil: undefined }),
    keepDims: fc.boolean(),
    dtype: fc.constantFrom<T.DType>('float32', 'float64', 'int32'),
  }),
)

describe('shape and dtype rules (abstract)', () => {
  const reductions = [sumOp, meanOp, prodOp, maxOp, minOp, logsumexpOp, normOp]

  it("each reduction's rule gives forward's shape and dtype, or its error (property)", () => {
    fc.assert(
      fc.property(reductionCase, ({ shape, axes, axis, keepDims, dtype }) => {
        const x = T.zeros(shape, dtype)
        for (const op of reductions)
          expectRuleMatchesForward(
            () => op.abstract([x], { axes, keepDims }),
            () => op.forward([x], { axes, keepDims }),
          )
        for (const op of [argmaxOp, argminOp])
          expectRuleMatchesForward(
            () => op.abstract([x], { axis, keepDims }),
            () => op.forward([x], { axis, keepDims }),
          )
      }),
      { numRuns: 200 },
    )
  })

  it("gives the kernels' dtypes: means float, indices int32, the rest the input's", () => {
    const x = T.zeros([2, 3], 'int32')
    const p = { axes: [1], keepDims: false }
    expect(meanOp.abstract([x], p)).toEqual({ shape: [2], dtype: 'float32' })
    expect(logsumexpOp.abstract([x], p)).toEqual({ shape: [2], dtype: 'float32' })
    expect(normOp.abstract([x], p)).toEqual({ shape: [2], dtype: 'float32' })
    expect(sumOp.abstract([x], { axes: [0, 1], keepDims: true })).toEqual({ shape: [1, 1], dtype: 'int32' })
    expect(maxOp.abstract([T.zeros([2, 3], 'float64')], p)).toEqual({ shape: [2], dtype: 'float64' })
    expect(argmaxOp.abstract([T.zeros([2, 3], 'float64')], { axis: undefined, keepDims: true })).toEqual({
      shape: [1, 1],
      dtype: 'int32',
    })
  })

  it("stages every reduction with eager mode's output shape and dtype, variance included", () => {
    const x = T.unsafeTensor('int32', [2, 3], Int32Array.of(1, 2, 3, 4, 5, 6))
    const programs: ReadonlyArray<(v: Tensor) => Tensor> = [
      (v) => sum(v, { axis: 0 }),
      (v) => mean(v, { axis: -1, keepDims: true }),
      (v) => prod(v),
      (v) => max(v, { axis: [0, 1], keepDims: true }),
      (v) => min(v, { axis: 1 }),
      (v) => logsumexp(v, { axis: 0 }),
      (v) => norm(v, { axis: 1 }),
      (v) => argmax(v),
      (v) => argmin(v, { axis: 0, keepDims: true }),
      (v) => variance(v, { axis: 1, ddof: 1 }),
    ]
    for (const f of programs) {
      const eager = f(x)
      const graph = makeGraph(f)(x)
      expect(graph.outputs.map((v) => [v.shape, v.dtype])).toEqual([[eager.shape, eager.dtype]])
    }
  })

  it('refuses an empty max, argmax or min while staging, with the eager error', () => {
    const empty = T.zeros([0, 3])
    const stagedMax = makeGraph((v: Tensor) => max(v, { axis: 0 }))
    expect(() => max(empty, { axis: 0 })).toThrow(T.ValueError)
    expect(() => stagedMax(empty)).toThrow(T.ValueError)
    expect(() => stagedMax(empty)).toThrow(/while staging.*max.*\[0,3\].*no elements/)
    expect(() => makeGraph((v: Tensor) => argmax(v, { axis: 0 }))(empty)).toThrow(/argmax.*\[0,3\]/)
    expect(() => makeGraph((v: Tensor) => min(v))(empty)).toThrow(/min.*\[0,3\]/)
    // Over the non-empty axis there is nothing to pick from and nothing to fill: shape [0].
    expect(makeGraph((v: Tensor) => max(v, { axis: 1 }))(empty).outputs[0]!.shape).toEqual([0])
  })
})
