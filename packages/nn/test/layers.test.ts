import { describe, it, expect, expectTypeOf } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Shape, Tensor } from '@backfold/tensor'
import { formatLayerError } from '../src/layer'
import type { ApplyContext, Layer, NoParams, NoState } from '../src/layer'
import {
  avgPool2d,
  batchNorm,
  conv2d,
  dense,
  dropout,
  elu,
  embedding,
  flatten,
  gelu,
  globalAvgPool2d,
  layerNorm,
  leakyRelu,
  maxPool2d,
  relu,
  sigmoid,
  silu,
  softmax,
  tanh,
} from '../src/layers/index'
import type { DenseParams, DenseParamsNoBias } from '../src/layers/index'
import { constant, zeros } from '../src/init/index'
import { unwrap, leftOf, key, randn, evalCtx } from './helpers'

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const f64 = (values: T.NestedArray): Tensor => T.tensor(values, 'float64')
const trainCtx: ApplyContext = { training: true }

const expectClose = (
  actual: Tensor,
  expectedShape: Shape,
  expected: ArrayLike<number>,
  tol = 1e-10,
): void => {
  expect(actual.shape).toEqual(expectedShape)
  expect(actual.data.length).toBe(expected.length)
  for (let i = 0; i < expected.length; i++) {
    const a = actual.data[i]!
    const e = expected[i]!
    if (Math.abs(a - e) > tol * (1 + Math.abs(e))) throw new Error(`element ${i}: got ${a}, expected ${e}`)
  }
}

const expectVjp = (
  f: (...args: Tensor[]) => Tensor,
  args: ReadonlyArray<Tensor>,
  opts: O.CheckVjpOptions = {},
): void => {
  const report = O.checkVjp(f, args, { maxJacobianEntries: 20000, ...opts })
  expect(report.ok, report.message).toBe(true)
}

/** Runs `layer.apply` once and returns the output. */
const run = <P, S>(layer: Layer<P, S>, params: P, state: S, x: Tensor, ctx: ApplyContext = evalCtx): Tensor =>
  layer.apply(params, state, x, ctx)[0]

/** Values away from 0 (for activations with a kink there). */
const awayFromZero = (seed: number, shape: Shape): Tensor =>
  T.unsafeTensor(
    'float64',
    shape,
    Float64Array.from(randn(seed, shape).data, (v) => (v >= 0 ? v + 0.1 : v - 0.1)),
  )

const at = (x: Tensor, index: ReadonlyArray<number>): number => {
  let flat = 0
  for (let i = 0; i < index.length; i++) flat = flat * x.shape[i]! + index[i]!
  return x.data[flat]!
}

// ---------------------------------------------------------------------------------------------
// dense
// ---------------------------------------------------------------------------------------------

describe('dense', () => {
  it('infers [in] → [units] with PyTorch-shaped parameters and defaults', () => {
    const { params, state, outShape } = unwrap(dense(3).init(key(0), [4]))
    expect(outShape).toEqual([3])
    expect(params.weight.shape).toEqual([3, 4])
    expect(params.bias.shape).toEqual([3])
    expect(params.weight.dtype).toBe('float32')
    expect(state).toEqual({})
  })

  it("defaults to PyTorch's U(−1/√in, 1/√in) for weight and bias", () => {
    const { params } = unwrap(dense(200).init(key(1), [25]))
    const bound = 1 / Math.sqrt(25)
    for (const t of [params.weight, params.bias]) {
      const values = Array.from(t.data)
      expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(bound)
      // Spread over the whole interval, not a narrower one.
      expect(Math.max(...values)).toBeGreaterThan(0.9 * bound)
      expect(Math.min(...values)).toBeLessThan(-0.9 * bound)
    }
  })

  it('honours weightInit, biasInit, useBias and dtype', () => {
    const { params } = unwrap(
      dense(2, { weightInit: constant(0.5), biasInit: zeros, dtype: 'float64' }).init(key(0), [3]),
    )
    expect(Array.from(params.weight.data)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    expect(Array.from(params.bias.data)).toEqual([0, 0])
    expect(params.weight.dtype).toBe('float64')
    const noBias = unwrap(dense(2, { useBias: false }).init(key(0), [3]))
    expect(Object.keys(noBias.params)).toEqual(['weight'])
    expectTypeOf(noBias.params).toEqualTypeOf<DenseParamsNoBias>()
    // @ts-expect-error a dense layer without bias has no bias parameter
    void noBias.params.bias
  })

  it('maps each position of a [seq, features] example (the last axis), as nn.Linear does', () => {
    const layer = dense(3)
    const built = layer.init(key(1), [4, 5])
    if (E.isLeft(built)) throw new Error(built.left.message)
    expect(built.right.outShape).toEqual([4, 3])
    const { weight, bias } = built.right.params as { weight: T.Tensor; bias: T.Tensor }
    const x = T.random.normal(key(2), [2, 4, 5], { dtype: 'float64' })
    const [y] = layer.apply(
      { weight: T.astype(weight, 'float64'), bias: T.astype(bias, 'float64') },
      built.right.state,
      x,
      { training: false },
    )
    expect(y.shape).toEqual([2, 4, 3])
    // y[b, s, o] = Σ_i x[b, s, i] W[o, i] + bias[o], by loops.
    const w = T.astype(weight, 'float64').data
    for (let b = 0; b < 2; b++)
      for (let s = 0; s < 4; s++)
        for (let o = 0; o < 3; o++) {
          let want = bias.data[o]!
          for (let i = 0; i < 5; i++) want += x.data[(b * 4 + s) * 5 + i]! * w[o * 5 + i]!
          expect(y.data[(b * 4 + s) * 3 + o]).toBeCloseTo(want, 6)
        }
  })

  it('rejects a wrong input rank, bad units and a bad initialiser, naming the layer and shapes', () => {
    const rank = leftOf(dense(3).init(key(0), []))
    expect(rank.path).toBe('dense')
    expect(rank.message).toContain('scalar')
    expect(formatLayerError(rank)).toMatch(/^dense: /)
    expect(leftOf(dense(0).init(key(0), [4])).message).toContain('units')
    expect(leftOf(dense(2.5).init(key(0), [4])).message).toContain('units')
    const badInit = leftOf(
      dense(3, { weightInit: (_k, _s, dtype) => T.zeros([4, 3], dtype) }).init(key(0), [4]),
    )
    expect(badInit.message).toContain('[4,3]')
    expect(badInit.message).toContain('[3,4]')
  })

  it('computes x Wᵀ + b as a naive loop does', () => {
    const x = randn(1, [5, 4])
    const params: DenseParams = { weight: randn(2, [3, 4]), bias: randn(3, [3]) }
    const expected: number[] = []
    for (let n = 0; n < 5; n++)
      for (let o = 0; o < 3; o++) {
        let s = at(params.bias, [o])
        for (let i = 0; i < 4; i++) s += at(x, [n, i]) * at(params.weight, [o, i])
        expected.push(s)
      }
    expectClose(run(dense(3), params, {}, x), [5, 3], expected)
    const noBias = run(dense(3, { useBias: false }), { weight: params.weight }, {}, x)
    expectClose(
      noBias,
      [5, 3],
      expected.map((v, i) => v - at(params.bias, [i % 3])),
    )
  })

  it('has the right gradient w.r.t. input, weight and bias', () => {
    const layer = dense(3)
    expectVjp(
      (x, w, b) => run(layer, { weight: w, bias: b }, {}, x),
      [randn(1, [2, 4]), randn(2, [3, 4]), randn(3, [3])],
    )
  })
  describe("activation: 'relu'", () => {
    const x = randn(4, [6, 4])
    const withBias: DenseParams = { weight: randn(5, [3, 4]), bias: randn(6, [3]) }
    const noBias: DenseParamsNoBias = { weight: withBias.weight }
    const flat = (tree: unknown): number[] => T.flatten(tree).leaves.flatMap((t) => Array.from(t.data))
    const loss = (y: Tensor): Tensor => O.sum(O.mul(y, randn(7, [6, 3])))

    it('gives bit for bit the values and gradients of dense then relu(), with and without bias', () => {
      const cases = [
        [withBias, {}],
        [noBias, { useBias: false }],
      ] as const
      for (const [params, opts] of cases) {
        const fused = dense(3, { ...opts, activation: 'relu' })
        const plain = dense(3, opts)
        const fusedY = (ps: typeof params, input: Tensor): Tensor => run(fused, ps, {}, input)
        const plainY = (ps: typeof params, input: Tensor): Tensor => O.relu(run(plain, ps, {}, input))
        const y = fusedY(params, x)
        // Some outputs are clipped, or the comparison would not exercise the ReLU.
        expect(Array.from(y.data).filter((v) => v === 0).length).toBeGreaterThan(0)
        expect(Array.from(y.data)).toEqual(Array.from(plainY(params, x).data))
        const gradOf = (f: typeof fusedY) =>
          O.grad((ps: typeof params, input: Tensor) => loss(f(ps, input)), { argnums: [0, 1] })
        expect(flat(gradOf(fusedY)(params, x))).toEqual(flat(gradOf(plainY)(params, x)))
      }
    })

    it("'linear' is no activation, the same layer as without the option", () => {
      const y = run(dense(3, { activation: 'linear' }), withBias, {}, x)
      expect(Array.from(y.data)).toEqual(Array.from(run(dense(3), withBias, {}, x).data))
      expect(dense(3, { activation: 'linear' }).config).toEqual(dense(3).config)
      expect(dense(3, { activation: 'relu' }).config).toEqual({
        kind: 'dense',
        units: 3,
        useBias: true,
        activation: 'relu',
      })
    })

    it('refuses any other activation, naming the accepted ones and what to do instead', () => {
      const make = (activation: unknown) => () =>
        // @ts-expect-error plain-JS callers can pass anything
        dense(3, { activation })
      expect(make('tanh')).toThrow(/dense: option 'activation' must be 'relu' or 'linear'.*got 'tanh'/)
      expect(make('tanh')).toThrow(/activation layer after dense/)
      expect(make('Relu')).toThrow(T.ValueError)
      expect(make(true)).toThrow(/'relu' or 'linear'/)
    })
  })
})

// ---------------------------------------------------------------------------------------------
// conv2d
// ---------------------------------------------------------------------------------------------

/** Naive cross-correlation, NCHW × OIHW, with stride, [top, left] padding and dilation. */
const convReference = (
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  stride: readonly [number, number],
  padding: readonly [number, number, number, number],
  dilation: readonly [number, number],
): { shape: number[]; data: number[] } => {
  const [n, c, h, wd] = x.shape as [number, number, number, number]
  const [o, , kh, kw] = w.shape as [number, number, number, number]
  const outH = Math.floor((h + padding[0] + padding[1] - dilation[0] * (kh - 1) - 1) / stride[0]) + 1
  const outW = Math.floor((wd + padding[2] + padding[3] - dilation[1] * (kw - 1) - 1) / stride[1]) + 1
  const data: number[] = []
  for (let b0 = 0; b0 < n; b0++)
    for (let oc = 0; oc < o; oc++)
      for (let i = 0; i < outH; i++)
        for (let j = 0; j < outW; j++) {
          let s = b === undefined ? 0 : at(b, [oc])
          for (let ic = 0; ic < c; ic++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kw; q++) {
                const r = i * stride[0] + p * dilation[0] - padding[0]
                const col = j * stride[1] + q * dilation[1] - padding[2]
                if (r >= 0 && r < h && col >= 0 && col < wd)
                  s += at(x, [b0, ic, r, col]) * at(w, [oc, ic, p, q])
              }
          data.push(s)
        }
  return { shape: [n, o, outH, outW], data }
}

describe('conv2d', () => {
  it('infers [C, H, W] → [O, H′, W′] with OIHW weights', () => {
    const layer = conv2d(3, [3, 2], { stride: [2, 1], padding: 1, dilation: [1, 2] })
    const { params, outShape } = unwrap(layer.init(key(0), [2, 5, 6]))
    expect(params.weight.shape).toEqual([3, 2, 3, 2])
    expect(params.bias.shape).toEqual([3])
    // outH = floor((5 + 2 − 2 − 1) / 2) + 1 = 3, outW = floor((6 + 2 − 2 − 1) / 1) + 1 = 6
    expect(outShape).toEqual([3, 3, 6])
    expect(unwrap(conv2d(4, 3, { padding: 'same' }).init(key(0), [1, 7, 9])).outShape).toEqual([4, 7, 9])
    expect(unwrap(conv2d(4, 3, { padding: 'same', stride: 2 }).init(key(0), [1, 7, 9])).outShape).toEqual([
      4, 4, 5,
    ])
  })

  it("defaults to PyTorch's U(−1/√fanIn, 1/√fanIn), fanIn = C·kh·kw", () => {
    const { params } = unwrap(conv2d(64, 3).init(key(2), [4, 8, 8]))
    const bound = 1 / Math.sqrt(4 * 3 * 3)
    for (const t of [params.weight, params.bias]) {
      const values = Array.from(t.data)
      expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(bound)
      expect(Math.max(...values.map(Math.abs))).toBeGreaterThan(0.8 * bound)
    }
  })

  it('rejects bad inputs in init, naming the layer and both shapes', () => {
    const rank = leftOf(conv2d(2, 3).init(key(0), [28, 28]))
    expect(rank.path).toBe('conv2d')
    expect(rank.message).toContain('[28,28]')
    const tooBig = leftOf(conv2d(2, 7).init(key(0), [1, 5, 5]))
    expect(tooBig.path).toBe('conv2d')
    expect(tooBig.message).toContain('[1,5,5]')
    expect(tooBig.message).toContain('[2,1,7,7]')
    expect(leftOf(conv2d(0, 3).init(key(0), [1, 5, 5])).message).toContain('outChannels')
    expect(leftOf(conv2d(2, 0).init(key(0), [1, 5, 5])).message).toContain('kernelSize')
    expect(leftOf(conv2d(2, 3, { stride: 0 }).init(key(0), [1, 5, 5])).message).toContain('stride')
    // Valid with padding: the padded input is large enough.
    expect(E.isRight(conv2d(2, 7, { padding: 1 }).init(key(0), [1, 5, 5]))).toBe(true)
  })

  it('takes one kernel size or a pair, never a longer list (its extra sizes were silently dropped)', () => {
    for (const kernelSize of [[3, 5, 7, 9], [3], [], [3, 0], [2.5, 2], '3']) {
      const problem = leftOf(Reflect.apply(conv2d, undefined, [8, kernelSize]).init(key(0), [1, 12, 12]))
      expect(problem.path).toBe('conv2d')
      expect(problem.message).toMatch(
        /^kernelSize must be a positive integer or a pair \[kh, kw\] of them, got /,
      )
    }
    expect(unwrap(conv2d(8, [3, 5]).init(key(0), [1, 12, 12])).params.weight.shape).toEqual([8, 1, 3, 5])
  })

  it('refuses options it does not have, at the call (PyTorch spells useBias `bias`)', () => {
    expect(() => Reflect.apply(conv2d, undefined, [8, 3, { bias: false }])).toThrow(
      /^conv2d: unknown option 'bias' in options; accepted options: stride, padding, dilation, groups, useBias, weightInit, biasInit, dtype$/,
    )
  })

  it('matches a naive convolution with stride, padding and dilation', () => {
    const x = randn(1, [2, 2, 5, 6])
    const w = randn(2, [3, 2, 3, 2])
    const b = randn(3, [3])
    const layer = conv2d(3, [3, 2], { stride: [2, 1], padding: [1, 0, 2, 1], dilation: [1, 2] })
    const expected = convReference(x, w, b, [2, 1], [1, 0, 2, 1], [1, 2])
    expectClose(run(layer, { weight: w, bias: b }, {}, x), expected.shape, expected.data)
    const noBias = conv2d(3, [3, 2], {
      stride: [2, 1],
      padding: [1, 0, 2, 1],
      dilation: [1, 2],
      useBias: false,
    })
    const expectedNoBias = convReference(x, w, undefined, [2, 1], [1, 0, 2, 1], [1, 2])
    expectClose(run(noBias, { weight: w }, {}, x), expectedNoBias.shape, expectedNoBias.data)
  })

  it('has the right gradient w.r.t. input, weight and bias', () => {
    const layer = conv2d(2, [2, 3], { stride: [2, 1], padding: 1, dilation: [1, 2] })
    expectVjp(
      (x, w, b) => run(layer, { weight: w, bias: b }, {}, x),
      [randn(1, [2, 2, 4, 5]), randn(2, [2, 2, 2, 3]), randn(3, [2])],
    )
  })
})

// ---------------------------------------------------------------------------------------------
// pooling and reshaping
// ---------------------------------------------------------------------------------------------

const poolReference = (
  x: Tensor,
  kernel: readonly [number, number],
  stride: readonly [number, number],
  pad: readonly [number, number],
  mode: 'max' | 'avg',
): { shape: number[]; data: number[] } => {
  const [n, c, h, w] = x.shape as [number, number, number, number]
  const outH = Math.floor((h + 2 * pad[0] - kernel[0]) / stride[0]) + 1
  const outW = Math.floor((w + 2 * pad[1] - kernel[1]) / stride[1]) + 1
  const data: number[] = []
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < outH; i++)
        for (let j = 0; j < outW; j++) {
          let best = -Infinity
          let total = 0
          for (let p = 0; p < kernel[0]; p++)
            for (let q = 0; q < kernel[1]; q++) {
              const r = i * stride[0] + p - pad[0]
              const col = j * stride[1] + q - pad[1]
              if (r >= 0 && r < h && col >= 0 && col < w) {
                const v = at(x, [b, ch, r, col])
                best = Math.max(best, v)
                total += v
              }
            }
          // count_include_pad: the divisor is the full window.
          data.push(mode === 'max' ? best : total / (kernel[0] * kernel[1]))
        }
  return { shape: [n, c, outH, outW], data }
}

describe('maxPool2d and avgPool2d', () => {
  it('infer the pooled shape and reject bad geometry naming the layer', () => {
    expect(unwrap(maxPool2d({ kernelSize: 2 }).init(key(0), [3, 6, 7])).outShape).toEqual([3, 3, 3])
    expect(
      unwrap(avgPool2d({ kernelSize: 3, stride: 2, padding: 1 }).init(key(0), [1, 5, 5])).outShape,
    ).toEqual([1, 3, 3])
    const tooBig = leftOf(maxPool2d({ kernelSize: 7 }).init(key(0), [1, 5, 5]))
    expect(tooBig.path).toBe('maxPool2d')
    expect(tooBig.message).toContain('[1,5,5]')
    const rank = leftOf(avgPool2d({ kernelSize: 2 }).init(key(0), [5, 5]))
    expect(rank.path).toBe('avgPool2d')
    expect(rank.message).toContain('[5,5]')
    expect(leftOf(maxPool2d({ kernelSize: 0 }).init(key(0), [1, 5, 5])).message).toContain('kernelSize')
  })

  it('match naive pooling, padding included', () => {
    const x = randn(4, [2, 2, 5, 6])
    const opts = { kernelSize: [3, 2] as const, stride: [2, 2] as const, padding: [1, 1] as const }
    const max = poolReference(x, [3, 2], [2, 2], [1, 1], 'max')
    expectClose(run(maxPool2d(opts), {}, {}, x), max.shape, max.data)
    const avg = poolReference(x, [3, 2], [2, 2], [1, 1], 'avg')
    expectClose(run(avgPool2d(opts), {}, {}, x), avg.shape, avg.data)
  })

  it('have the right gradient w.r.t. the input', () => {
    const opts = { kernelSize: 2, stride: 1, padding: 1 }
    expectVjp((x) => run(maxPool2d(opts), {}, {}, x), [randn(5, [2, 2, 3, 4])])
    expectVjp((x) => run(avgPool2d(opts), {}, {}, x), [randn(6, [2, 2, 3, 4])])
  })
})

describe('globalAvgPool2d', () => {
  it('maps [C, H, W] to [C] with the spatial mean', () => {
    expect(unwrap(globalAvgPool2d().init(key(0), [8, 3, 4])).outShape).toEqual([8])
    const rank = leftOf(globalAvgPool2d().init(key(0), [8]))
    expect(rank.path).toBe('globalAvgPool2d')
    expect(rank.message).toContain('[8]')
    const x = randn(7, [2, 3, 2, 4])
    const expected: number[] = []
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < 3; c++) {
        let s = 0
        for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) s += at(x, [n, c, i, j])
        expected.push(s / 8)
      }
    expectClose(run(globalAvgPool2d(), {}, {}, x), [2, 3], expected)
    expectVjp((input) => run(globalAvgPool2d(), {}, {}, input), [x])
  })
})

describe('flatten', () => {
  it('flattens each example row-major', () => {
    expect(unwrap(flatten().init(key(0), [2, 3, 4])).outShape).toEqual([24])
    expect(unwrap(flatten().init(key(0), [])).outShape).toEqual([1])
    const x = randn(8, [3, 2, 3, 4])
    const y = run(flatten(), {}, {}, x)
    expectClose(y, [3, 24], Array.from(x.data))
    expectVjp((input) => run(flatten(), {}, {}, input), [randn(9, [2, 2, 3])])
  })
})

// ---------------------------------------------------------------------------------------------
// dropout
// ---------------------------------------------------------------------------------------------

describe('dropout', () => {
  const ones = T.ones([200, 500], 'float64')

  it('is the identity in evaluation and needs no key there', () => {
    const x = randn(1, [4, 5])
    expect(run(dropout(0.5), {}, {}, x, evalCtx)).toBe(x)
    expect(unwrap(dropout(0.5).init(key(0), [5])).outShape).toEqual([5])
  })

  it('zeroes about `rate` of the elements and scales the rest by 1/(1 − rate)', () => {
    const y = run(dropout(0.3), {}, {}, ones, { training: true, key: key(3) })
    let zeros = 0
    let wrongScale = 0
    for (const v of y.data) {
      if (v === 0) zeros++
      else if (Math.abs(v - 1 / 0.7) > 1e-12) wrongScale++
    }
    expect(wrongScale).toBe(0)
    expect(zeros / y.data.length).toBeGreaterThan(0.29)
    expect(zeros / y.data.length).toBeLessThan(0.31)
  })

  it('draws the same mask for the same key and a different one for another key', () => {
    const x = randn(2, [10, 20])
    const a = run(dropout(0.5), {}, {}, x, { training: true, key: key(7) })
    const b = run(dropout(0.5), {}, {}, x, { training: true, key: key(7) })
    const c = run(dropout(0.5), {}, {}, x, { training: true, key: key(8) })
    expect(Array.from(a.data)).toEqual(Array.from(b.data))
    expect(Array.from(a.data)).not.toEqual(Array.from(c.data))
  })

  it('requires ctx.key in training, with a clear error', () => {
    expect(() => run(dropout(0.5), {}, {}, ones, trainCtx)).toThrow(T.ValueError)
    expect(() => run(dropout(0.5), {}, {}, ones, trainCtx)).toThrow(/ctx\.key is required/)
  })

  it('validates 0 <= rate < 1', () => {
    for (const rate of [1, -0.1, 1.5, Number.NaN]) {
      const e = leftOf(dropout(rate).init(key(0), [3]))
      expect(e.path).toBe('dropout')
      expect(e.message).toContain('rate')
      expect(() => run(dropout(rate), {}, {}, ones, { training: true, key: key(0) })).toThrow(T.ValueError)
    }
    const x = randn(1, [2, 3])
    expect(run(dropout(0), {}, {}, x, { training: true, key: key(0) })).toBe(x)
  })

  it('passes the gradient through the kept elements, scaled', () => {
    const ctx = { training: true, key: key(5) }
    expectVjp((x) => run(dropout(0.4), {}, {}, x, ctx), [randn(3, [3, 4])])
    const g = O.grad((x: Tensor) => O.sum(run(dropout(0.4), {}, {}, x, ctx)))(T.ones([3, 4], 'float64'))
    const y = run(dropout(0.4), {}, {}, T.ones([3, 4], 'float64'), ctx)
    expect(Array.from(g.data)).toEqual(Array.from(y.data))
  })
})

// ---------------------------------------------------------------------------------------------
// batchNorm
// ---------------------------------------------------------------------------------------------

describe('batchNorm', () => {
  it('initialises weight 1, bias 0, runningMean 0, runningVar 1 per channel', () => {
    const { params, state, outShape } = unwrap(batchNorm().init(key(0), [3, 4, 4]))
    expect(outShape).toEqual([3, 4, 4])
    expect(Array.from(params.weight.data)).toEqual([1, 1, 1])
    expect(Array.from(params.bias.data)).toEqual([0, 0, 0])
    expect(Array.from(state.runningMean.data)).toEqual([0, 0, 0])
    expect(Array.from(state.runningVar.data)).toEqual([1, 1, 1])
    expect(unwrap(batchNorm({ affine: false }).init(key(0), [5])).params).toEqual({})
    const scalar = leftOf(batchNorm().init(key(0), []))
    expect(scalar.path).toBe('batchNorm')
    expect(scalar.message).toContain('[]')
    expect(leftOf(batchNorm({ momentum: 2 }).init(key(0), [3])).message).toContain('momentum')
  })

  it('matches hand-computed PyTorch values for [N, F] over two training steps', () => {
    const layer = batchNorm({ dtype: 'float64' })
    const { params, state } = unwrap(layer.init(key(0), [2]))
    // Feature 0: {1, 3}: mean 2, biased var 1, unbiased 2. Feature 1: {2, 6}: mean 4, biased var 4, unbiased 8.
    const [y, s1] = layer.apply(
      params,
      state,
      f64([
        [1, 2],
        [3, 6],
      ]),
      trainCtx,
    )
    const e = 1e-5
    expectClose(
      y,
      [2, 2],
      [-1 / Math.sqrt(1 + e), -2 / Math.sqrt(4 + e), 1 / Math.sqrt(1 + e), 2 / Math.sqrt(4 + e)],
    )
    // running = 0.9 running + 0.1 batch (unbiased variance), as torch.nn.BatchNorm1d gives.
    expectClose(s1.runningMean, [2], [0.2, 0.4], 1e-14)
    expectClose(s1.runningVar, [2], [1.1, 1.7], 1e-14)
    // Second batch {0, 2} in both features: mean 1, unbiased var 2.
    const [, s2] = layer.apply(
      params,
      s1,
      f64([
        [0, 0],
        [2, 2],
      ]),
      trainCtx,
    )
    expectClose(s2.runningMean, [2], [0.28, 0.46], 1e-14)
    expectClose(s2.runningVar, [2], [1.19, 1.73], 1e-14)
    // Evaluation normalises with the running statistics and leaves the state alone.
    const [yEval, sEval] = layer.apply(params, s2, f64([[1, 1]]), evalCtx)
    expect(sEval).toBe(s2)
    expectClose(yEval, [1, 2], [(1 - 0.28) / Math.sqrt(1.19 + e), (1 - 0.46) / Math.sqrt(1.73 + e)])
  })

  it('normalises NCHW per channel over batch and space, with weight, bias and momentum', () => {
    const layer = batchNorm({ momentum: 0.3, eps: 1e-3, dtype: 'float64' })
    const params = { weight: f64([1.5, -0.5]), bias: f64([0.1, 0.2]) }
    const state = { runningMean: f64([0.5, -1]), runningVar: f64([2, 0.5]) }
    const x = randn(11, [3, 2, 2, 3])
    const [y, next] = layer.apply(params, state, x, trainCtx)
    const expected = new Array<number>(36)
    const count = 3 * 2 * 3
    for (let c = 0; c < 2; c++) {
      let s = 0
      for (let n = 0; n < 3; n++)
        for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) s += at(x, [n, c, i, j])
      const mean = s / count
      let ss = 0
      for (let n = 0; n < 3; n++)
        for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) ss += (at(x, [n, c, i, j]) - mean) ** 2
      const biased = ss / count
      for (let n = 0; n < 3; n++)
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 3; j++)
            expected[((n * 2 + c) * 2 + i) * 3 + j] =
              ((at(x, [n, c, i, j]) - mean) / Math.sqrt(biased + 1e-3)) * at(params.weight, [c]) +
              at(params.bias, [c])
      expect(at(next.runningMean, [c])).toBeCloseTo(0.7 * at(state.runningMean, [c]) + 0.3 * mean, 12)
      expect(at(next.runningVar, [c])).toBeCloseTo(
        0.7 * at(state.runningVar, [c]) + (0.3 * ss) / (count - 1),
        12,
      )
    }
    expectClose(y, [3, 2, 2, 3], expected)
  })

  it('refuses to train on one value per channel', () => {
    const layer = batchNorm()
    const { params, state } = unwrap(layer.init(key(0), [3]))
    expect(() => layer.apply(params, state, T.ones([1, 3]), trainCtx)).toThrow(
      /more than one value per channel/,
    )
    expect(() => layer.apply(params, state, T.ones([1, 3]), evalCtx)).not.toThrow()
  })

  it('has the right gradients in training and evaluation, and keeps the state out of the gradient', () => {
    const layer = batchNorm({ dtype: 'float64' })
    const state = { runningMean: f64([0.3, -0.2]), runningVar: f64([1.5, 0.7]) }
    const args = [randn(12, [3, 2, 2, 2]), f64([1.2, 0.8]), f64([0.1, -0.3])]
    for (const ctx of [trainCtx, evalCtx])
      expectVjp((x, w, b) => layer.apply({ weight: w, bias: b }, state, x, ctx)[0], args)
    const [, grads, nextState] = O.valueAndGrad(
      (x: Tensor) => {
        const [y, s] = layer.apply({ weight: args[1]!, bias: args[2]! }, state, x, trainCtx)
        return [O.sum(O.square(y)), s] as const
      },
      { hasAux: true },
    )(args[0]!)
    expect(grads.shape).toEqual([3, 2, 2, 2])
    expect(nextState.runningMean).not.toBeInstanceOf(O.Tracer)
    expect(nextState.runningVar).not.toBeInstanceOf(O.Tracer)
  })
})

// ---------------------------------------------------------------------------------------------
// layerNorm
// ---------------------------------------------------------------------------------------------

describe('layerNorm', () => {
  it('infers parameters over the last `axes` dimensions', () => {
    expect(unwrap(layerNorm().init(key(0), [4, 6])).params.weight.shape).toEqual([6])
    expect(unwrap(layerNorm({ axes: 2 }).init(key(0), [4, 6])).params.bias.shape).toEqual([4, 6])
    const e = leftOf(layerNorm({ axes: 3 }).init(key(0), [4, 6]))
    expect(e.path).toBe('layerNorm')
    expect(e.message).toContain('[4,6]')
    expect(leftOf(layerNorm({ axes: 0 }).init(key(0), [4])).message).toContain('axes')
  })

  it('normalises each example over its last dims as a naive loop does', () => {
    const x = randn(13, [2, 3, 4])
    const params = { weight: randn(14, [3, 4]), bias: randn(15, [3, 4]) }
    const y = run(layerNorm({ axes: 2, eps: 1e-4 }), params, {}, x)
    const expected: number[] = []
    for (let n = 0; n < 2; n++) {
      const values = Array.from(x.data.subarray(n * 12, n * 12 + 12))
      const mean = values.reduce((a, b) => a + b, 0) / 12
      const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / 12
      values.forEach((v, i) =>
        expected.push(
          ((v - mean) / Math.sqrt(variance + 1e-4)) * params.weight.data[i]! + params.bias.data[i]!,
        ),
      )
    }
    expectClose(y, [2, 3, 4], expected)
    // The same in training and evaluation.
    expectClose(run(layerNorm({ axes: 2, eps: 1e-4 }), params, {}, x, trainCtx), [2, 3, 4], expected)
  })

  it('has the right gradient w.r.t. input, weight and bias', () => {
    const layer = layerNorm()
    expectVjp(
      (x, w, b) => run(layer, { weight: w, bias: b }, {}, x),
      [randn(16, [3, 4]), randn(17, [4]), randn(18, [4])],
    )
  })
})

// ---------------------------------------------------------------------------------------------
// embedding
// ---------------------------------------------------------------------------------------------

describe('embedding', () => {
  const indices = T.tensor(
    [
      [1, 0, 4],
      [4, 4, 2],
    ],
    'int32',
  )

  it('maps int32 [N, ...] to [N, ..., dim] by row lookup', () => {
    const layer = embedding(5, 3)
    expect(unwrap(layer.init(key(0), [3])).outShape).toEqual([3, 3])
    const weight = randn(20, [5, 3])
    const y = run(layer, { weight }, {}, indices)
    const expected: number[] = []
    for (const index of indices.data) for (let d = 0; d < 3; d++) expected.push(at(weight, [index, d]))
    expectClose(y, [2, 3, 3], expected, 0)
  })

  it('defaults to N(0, 1) weights, as PyTorch', () => {
    const { params } = unwrap(embedding(1000, 50).init(key(3), [1]))
    const values = Array.from(params.weight.data)
    const mean = values.reduce((a, b) => a + b, 0) / values.length
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length)
    expect(Math.abs(mean)).toBeLessThan(0.02)
    expect(std).toBeGreaterThan(0.98)
    expect(std).toBeLessThan(1.02)
  })

  it('reports out-of-range and non-int32 indices clearly', () => {
    const layer = embedding(4, 2)
    const weight = randn(21, [4, 2])
    expect(() => run(layer, { weight }, {}, indices)).toThrow(T.ValueError)
    expect(() => run(layer, { weight }, {}, indices)).toThrow(
      /embedding.*index 4 \(at flat position 2 of indices\).*0 <= index < 4/,
    )
    expect(() => run(layer, { weight }, {}, T.tensor([[-1]], 'int32'))).toThrow(/index -1/)
    expect(() => run(layer, { weight }, {}, T.tensor([[1]], 'float32'))).toThrow(T.DTypeError)
    expect(leftOf(embedding(0, 2).init(key(0), [1])).message).toContain('numEmbeddings')
  })

  it('accumulates the gradient of repeated indices', () => {
    const layer = embedding(5, 3)
    expectVjp((w) => run(layer, { weight: w }, {}, indices), [randn(22, [5, 3])])
    const g = O.grad((w: Tensor) => O.sum(run(layer, { weight: w }, {}, indices)))(randn(22, [5, 3]))
    // Row i receives one per occurrence of index i: counts 1, 1, 1, 0, 3.
    expectClose(g, [5, 3], [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 3, 3, 3], 0)
  })
})

// ---------------------------------------------------------------------------------------------
// activations
// ---------------------------------------------------------------------------------------------

/** erf by its Maclaurin series (converges well for |x| < 4 in float64). */
const erf = (x: number): number => {
  let term = x
  let sum = x
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n
    sum += term / (2 * n + 1)
  }
  return (2 / Math.sqrt(Math.PI)) * sum
}

const elementwise: ReadonlyArray<{
  name: string
  layer: Layer<NoParams, NoState>
  reference: (v: number) => number
}> = [
  { name: 'relu', layer: relu(), reference: (v) => Math.max(v, 0) },
  { name: 'leakyRelu', layer: leakyRelu(0.2), reference: (v) => (v > 0 ? v : 0.2 * v) },
  { name: 'leakyRelu default', layer: leakyRelu(), reference: (v) => (v > 0 ? v : 0.01 * v) },
  { name: 'elu', layer: elu(0.7), reference: (v) => (v > 0 ? v : 0.7 * Math.expm1(v)) },
  { name: 'gelu', layer: gelu(), reference: (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)) },
  {
    name: 'gelu tanh',
    layer: gelu('tanh'),
    reference: (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))),
  },
  { name: 'silu', layer: silu(), reference: (v) => v / (1 + Math.exp(-v)) },
  { name: 'sigmoid', layer: sigmoid(), reference: (v) => 1 / (1 + Math.exp(-v)) },
  { name: 'tanh', layer: tanh(), reference: (v) => Math.tanh(v) },
]

describe('activation layers', () => {
  for (const { name, layer, reference } of elementwise) {
    it(`${name}: keeps the shape, matches the formula and its gradient`, () => {
      expect(unwrap(layer.init(key(0), [3, 2])).outShape).toEqual([3, 2])
      const x = awayFromZero(30, [4, 3])
      expectClose(run(layer, {}, {}, x), [4, 3], Array.from(x.data, reference), 1e-9)
      expectVjp((input) => run(layer, {}, {}, input), [x])
    })
  }

  it('reject bad arguments in init', () => {
    expect(leftOf(leakyRelu(Number.NaN).init(key(0), [2])).path).toBe('leakyRelu')
    expect(leftOf(elu(Number.POSITIVE_INFINITY).init(key(0), [2])).message).toContain('alpha')
    // @ts-expect-error only 'none' and 'tanh' exist
    expect(leftOf(gelu('erf').init(key(0), [2])).message).toContain('approximate')
  })

  it('softmax normalises along the chosen batch axis', () => {
    const x = randn(31, [2, 3, 4])
    const softmaxRef = (axis: 1 | 2): number[] => {
      const out = new Array<number>(24)
      for (let n = 0; n < 2; n++)
        for (let other = 0; other < (axis === 2 ? 3 : 4); other++) {
          const idx = (k: number): number => (axis === 2 ? (n * 3 + other) * 4 + k : (n * 3 + k) * 4 + other)
          const size = axis === 2 ? 4 : 3
          let max = -Infinity
          for (let k = 0; k < size; k++) max = Math.max(max, x.data[idx(k)]!)
          let total = 0
          for (let k = 0; k < size; k++) total += Math.exp(x.data[idx(k)]! - max)
          for (let k = 0; k < size; k++) out[idx(k)] = Math.exp(x.data[idx(k)]! - max) / total
        }
      return out
    }
    expectClose(run(softmax(), {}, {}, x), [2, 3, 4], softmaxRef(2))
    expectClose(run(softmax(1), {}, {}, x), [2, 3, 4], softmaxRef(1))
    expectClose(run(softmax(-2), {}, {}, x), [2, 3, 4], softmaxRef(1))
    expectVjp((input) => run(softmax(1), {}, {}, input), [randn(32, [2, 3, 2])])
    expect(unwrap(softmax(2).init(key(0), [3, 4])).outShape).toEqual([3, 4])
    const e = leftOf(softmax(3).init(key(0), [3, 4]))
    expect(e.path).toBe('softmax')
    expect(e.message).toContain('[3,4]')
  })
})
