import { describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import {
  avgPool2d,
  avgPool2dBackward,
  conv2d,
  conv2dBackwardFilter,
  conv2dBackwardInput,
  maxPool2d,
  maxPool2dBackward,
  maxPool2dSelect,
  avgPool2dBackwardOp,
  avgPool2dOp,
  conv2dBackwardFilterOp,
  conv2dBackwardInputOp,
  conv2dOp,
  maxPool2dBackwardOp,
  maxPool2dOp,
  maxPool2dSelectOp,
} from '../src/conv/index'
import { mul } from '../src/binary/mul'
import { add } from '../src/binary/add'
import { sum } from '../src/reduce/sum'
import { checkVjp } from '../src/check/checkVjp'
import { grad } from '../src/transforms/grad'
import { vmap } from '../src/transforms/vmap'
import { anywhere, distinct } from './rows/domains'
import { batchingMismatches } from './batchingCases'
import { expectRuleMatchesForward, expectStagedMatchesEager } from './shapeRuleCases'
import { makeGraph } from '../src/staging/graph'
import { jit } from '../src/staging/jit'
import { concat } from '../src/indexing/concat'
import { split } from '../src/indexing/split'

const f64 = (shape: ReadonlyArray<number>, values: ReadonlyArray<number>): Tensor =>
  T.unsafeTensor('float64', shape, Float64Array.from(values))
const values = (x: Tensor): number[] => Array.from(x.data)

const closeTo = (actual: ReadonlyArray<number>, expected: ReadonlyArray<number>, digits = 10): void => {
  expect(actual.length).toBe(expected.length)
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i]!, digits))
}

interface Geometry {
  readonly stride: readonly [number, number]
  readonly padding: readonly [number, number, number, number]
  readonly dilation: readonly [number, number]
}

/**
 * conv2d by its definition (7 nested loops), together with the gradients of Σ (y ⊙ g) in x and
 * w, accumulated term by term.
 */
const naiveConv = (
  x: Tensor,
  w: Tensor,
  geo: Geometry,
  g: (outShape: number[]) => Tensor,
): { y: number[]; outShape: number[]; dx: number[]; dw: number[] } => {
  const [n, c, h, wd] = x.shape as [number, number, number, number]
  const [o, , kh, kw] = w.shape as [number, number, number, number]
  const [sh, sw] = geo.stride
  const [top, bottom, left, right] = geo.padding
  const [dh, dw] = geo.dilation
  const oh = Math.floor((h + top + bottom - dh * (kh - 1) - 1) / sh) + 1
  const ow = Math.floor((wd + left + right - dw * (kw - 1) - 1) / sw) + 1
  const outShape = [n, o, oh, ow]
  const weights = g(outShape)
  const y = new Array<number>(n * o * oh * ow).fill(0)
  const dx = new Array<number>(x.data.length).fill(0)
  const dwOut = new Array<number>(w.data.length).fill(0)
  for (let b = 0; b < n; b++)
    for (let f = 0; f < o; f++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          const yi = ((b * o + f) * oh + i) * ow + j
          for (let ch = 0; ch < c; ch++)
            for (let p = 0; p < kh; p++)
              for (let q = 0; q < kw; q++) {
                const r = i * sh + p * dh - top
                const s = j * sw + q * dw - left
                if (r < 0 || r >= h || s < 0 || s >= wd) continue
                const xi = ((b * c + ch) * h + r) * wd + s
                const wi = ((f * c + ch) * kh + p) * kw + q
                y[yi] = y[yi]! + x.data[xi]! * w.data[wi]!
                dx[xi] = dx[xi]! + weights.data[yi]! * w.data[wi]!
                dwOut[wi] = dwOut[wi]! + weights.data[yi]! * x.data[xi]!
              }
        }
  return { y, outShape, dx, dw: dwOut }
}

/**
 * Second-order check in every argument at once: the pullback of `f` at `args` applied to a fixed
 * cotangent, weighted into a scalar, is a function of all arguments; its own VJP (cross terms
 * included) must match finite differences.
 */
const checkSecondOrder = (f: (...xs: Tensor[]) => Tensor, args: Tensor[]): void => {
  const y = f(...args)
  const weights = anywhere(77, y.shape)
  const all = args.map((_, i) => i)
  const probes = args.map((a, i) => anywhere(78 + i, a.shape))
  const directional = (...xs: Tensor[]): Tensor => {
    const gradients = grad((...ys: Tensor[]) => sum(mul(f(...ys), weights)), { argnums: all })(...xs)
    return gradients.map((gi, i) => sum(mul(gi, probes[i]!))).reduce((acc, term) => add(acc, term))
  }
  const report = checkVjp(directional, args, { tolerance: 1e-5 })
  expect(report.ok, report.message).toBe(true)
}

describe('conv2d', () => {
  const geometries: ReadonlyArray<readonly [string, Geometry, Parameters<typeof conv2d>[2]]> = [
    [
      'stride 2, padding 1',
      { stride: [2, 2], padding: [1, 1, 1, 1], dilation: [1, 1] },
      { stride: 2, padding: 1 },
    ],
    [
      'dilation 2, asymmetric padding, stride [1, 2]',
      { stride: [1, 2], padding: [0, 2, 1, 0], dilation: [2, 2] },
      { stride: [1, 2], padding: [0, 2, 1, 0], dilation: 2 },
    ],
    ['valid', { stride: [1, 1], padding: [0, 0, 0, 0], dilation: [1, 1] }, { padding: 'valid' }],
  ]

  it.each(geometries)('value and gradients match the 7-loop definition (%s)', (_label, geo, opts) => {
    const x = anywhere(10, [2, 3, 5, 6])
    const w = anywhere(11, [4, 3, 3, 2])
    const reference = naiveConv(x, w, geo, (shape) => anywhere(12, shape))
    const y = conv2d(x, w, opts)
    expect(y.shape).toEqual(reference.outShape)
    closeTo(values(y), reference.y)
    const g = anywhere(12, y.shape)
    const [dx, dw] = grad((a: Tensor, b: Tensor) => sum(mul(conv2d(a, b, opts), g)), { argnums: [0, 1] })(
      x,
      w,
    )
    closeTo(values(dx), reference.dx)
    closeTo(values(dw), reference.dw)
  })

  it("resolves 'same' against the input, so the VJPs see explicit padding", () => {
    const x = anywhere(13, [1, 2, 5, 5])
    const w = anywhere(14, [1, 2, 3, 3])
    const y = conv2d(x, w, { stride: 2, padding: 'same' })
    expect(y.shape).toEqual([1, 1, 3, 3])
    // TensorFlow's split: total padding 2 each way here, 1 before and 1 after.
    const reference = naiveConv(x, w, { stride: [2, 2], padding: [1, 1, 1, 1], dilation: [1, 1] }, (s) =>
      T.ones(s, 'float64'),
    )
    closeTo(values(y), reference.y)
    closeTo(values(grad((a: Tensor) => sum(conv2d(a, w, { stride: 2, padding: 'same' })))(x)), reference.dx)
  })

  it('is twice differentiable in both arguments (cross terms included)', () => {
    checkSecondOrder(
      (x, w) => conv2d(x, w, { stride: 2, padding: 1, dilation: [1, 2] }),
      [anywhere(15, [1, 2, 4, 5]), anywhere(16, [2, 2, 2, 2])],
    )
  })

  it('rejects bad shapes and options with typed errors naming the op and shapes', () => {
    const x = anywhere(17, [1, 2, 4, 4])
    expect(() => conv2d(x, anywhere(18, [1, 3, 2, 2]))).toThrow(T.ShapeError)
    expect(() => conv2d(x, anywhere(18, [1, 3, 2, 2]))).toThrow(/conv2d.*\[1,2,4,4\].*\[1,3,2,2\]/)
    expect(() => conv2d(anywhere(19, [2, 4, 4]), anywhere(18, [1, 2, 2, 2]))).toThrow(T.ShapeError)
    expect(() => conv2d(x, anywhere(18, [1, 2, 2, 2]), { stride: 0 })).toThrow(T.ValueError)
  })
})

describe('conv2dBackwardInput and conv2dBackwardFilter', () => {
  const opts = { stride: 2, padding: [1, 0, 0, 1] as const, dilation: [2, 1] as const }
  const x = anywhere(20, [1, 2, 6, 5])
  const w = anywhere(21, [3, 2, 2, 2])
  const dy = anywhere(22, conv2d(x, w, opts).shape)

  it('are the gradients of conv2d (equal to its VJP) and adjoint to it', () => {
    const [dx, dw] = grad((a: Tensor, b: Tensor) => sum(mul(conv2d(a, b, opts), dy)), { argnums: [0, 1] })(
      x,
      w,
    )
    expect(values(conv2dBackwardInput(dy, w, x.shape, opts))).toEqual(values(dx))
    expect(values(conv2dBackwardFilter(x, dy, w.shape, opts))).toEqual(values(dw))
    const inner = (a: Tensor, b: Tensor): number => values(mul(a, b)).reduce((s, v) => s + v, 0)
    const lhs = inner(conv2d(x, w, opts), dy)
    expect(inner(x, conv2dBackwardInput(dy, w, x.shape, opts))).toBeCloseTo(lhs, 10)
    expect(inner(w, conv2dBackwardFilter(x, dy, w.shape, opts))).toBeCloseTo(lhs, 10)
  })

  it('are twice differentiable in both arguments', () => {
    checkSecondOrder((d, k) => conv2dBackwardInput(d, k, x.shape, opts), [dy, w])
    checkSecondOrder((a, d) => conv2dBackwardFilter(a, d, w.shape, opts), [x, dy])
  })

  it('reject a cotangent of the wrong shape with a ShapeError', () => {
    expect(() => conv2dBackwardInput(anywhere(23, [1, 3, 2, 2]), w, x.shape, opts)).toThrow(T.ShapeError)
    expect(() => conv2dBackwardFilter(x, anywhere(23, [1, 3, 2, 2]), w.shape, opts)).toThrow(T.ShapeError)
  })
})

describe('conv2d with groups', () => {
  // An independent reference: the ungrouped op per block of channels, concatenated (differentiable
  // through split and concat).
  const perGroup = (x: Tensor, w: Tensor, groups: number, opts: Parameters<typeof conv2d>[2]): Tensor => {
    const ws = split(w, groups, { axis: 0 })
    return concat(
      split(x, groups, { axis: 1 }).map((xk, k) => conv2d(xk, ws[k]!, opts)),
      { axis: 1 },
    )
  }
  const cases = [
    {
      label: '2 groups, stride 2, padding 1',
      x: [2, 4, 5, 6],
      w: [6, 2, 3, 2],
      groups: 2,
      opts: { stride: 2, padding: 1 },
    },
    { label: 'depthwise, dilation 2', x: [1, 3, 6, 5], w: [3, 1, 2, 2], groups: 3, opts: { dilation: 2 } },
    {
      label: 'depthwise, multiplier 2, same',
      x: [2, 2, 4, 4],
      w: [4, 1, 3, 3],
      groups: 2,
      opts: { padding: 'same' as const },
    },
    { label: 'grouped 1x1', x: [1, 6, 3, 3], w: [4, 3, 1, 1], groups: 2, opts: {} },
  ]

  it.each(cases)(
    'value and gradients match the per-group ungrouped convolutions ($label)',
    ({ x, w, groups, opts }) => {
      const [xs, ws] = [anywhere(40, x), anywhere(41, w)]
      const y = conv2d(xs, ws, { ...opts, groups })
      closeTo(values(y), values(perGroup(xs, ws, groups, opts)))
      const g = anywhere(42, y.shape)
      const gradients = (f: (a: Tensor, b: Tensor) => Tensor): Tensor[] =>
        grad((a: Tensor, b: Tensor) => sum(mul(f(a, b), g)), { argnums: [0, 1] })(xs, ws)
      const [dx, dw] = gradients((a, b) => conv2d(a, b, { ...opts, groups }))
      const [rx, rw] = gradients((a, b) => perGroup(a, b, groups, opts))
      closeTo(values(dx!), values(rx!))
      closeTo(values(dw!), values(rw!))
    },
  )

  it('has VJPs that match finite differences in x and w (first and second order)', () => {
    for (const { x, w, groups, opts } of cases.slice(0, 2)) {
      const f = (a: Tensor, b: Tensor): Tensor => conv2d(a, b, { ...opts, groups })
      const report = checkVjp(f, [anywhere(43, x), anywhere(44, w)], { tolerance: 1e-6 })
      expect(report.ok, report.message).toBe(true)
      checkSecondOrder(f, [anywhere(43, x), anywhere(44, w)])
    }
  })

  it('has grouped backward ops that are its gradients, twice differentiable', () => {
    const opts = { stride: 2, padding: [1, 0, 0, 1] as const, groups: 2 }
    const x = anywhere(45, [1, 4, 6, 5])
    const w = anywhere(46, [6, 2, 2, 2])
    const dy = anywhere(47, conv2d(x, w, opts).shape)
    const [dx, dw] = grad((a: Tensor, b: Tensor) => sum(mul(conv2d(a, b, opts), dy)), { argnums: [0, 1] })(
      x,
      w,
    )
    expect(values(conv2dBackwardInput(dy, w, x.shape, opts))).toEqual(values(dx))
    expect(values(conv2dBackwardFilter(x, dy, w.shape, opts))).toEqual(values(dw))
    checkSecondOrder((d, k) => conv2dBackwardInput(d, k, x.shape, opts), [dy, w])
    checkSecondOrder((a, d) => conv2dBackwardFilter(a, d, w.shape, opts), [x, dy])
  })

  it('batches every layout of its operands (vmap), as do the grouped backward ops', () => {
    const examples =
      (shapes: ReadonlyArray<ReadonlyArray<number>>, seed: number) =>
      (arg: number, i: number): Tensor =>
        anywhere(seed + 10 * arg + i + 1, shapes[arg]!)
    for (const [n, { x, w, groups, opts }] of cases.entries()) {
      const failures = batchingMismatches(
        (a, b) => conv2d(a, b, { ...opts, groups }),
        [4, 4],
        examples([x, w], 4000 + 100 * n),
      )
      expect(failures, `x ${T.fmtShape(x)}, w ${T.fmtShape(w)}, groups ${groups}`).toEqual([])
    }
    const opts = { stride: 2, padding: [1, 0, 1, 0] as const, groups: 2 }
    const input = batchingMismatches(
      (dy, w) => conv2dBackwardInput(dy, w, [2, 4, 4, 5], opts),
      [4, 4],
      examples(
        [
          [2, 6, 2, 3],
          [6, 2, 2, 2],
        ],
        4500,
      ),
    )
    expect(input).toEqual([])
    const filter = batchingMismatches(
      (x, dy) => conv2dBackwardFilter(x, dy, [6, 2, 2, 2], { dilation: [2, 1], padding: 1, groups: 2 }),
      [4, 4],
      examples(
        [
          [2, 4, 4, 4],
          [2, 6, 4, 5],
        ],
        4600,
      ),
    )
    expect(filter).toEqual([])
  })

  it('gives the same values and gradients under jit as eagerly, and its shape rule matches', () => {
    const { x, w, groups, opts } = cases[0]!
    const [xs, ws] = [anywhere(48, x), anywhere(49, w)]
    const f = (a: Tensor, b: Tensor): Tensor =>
      sum(mul(conv2d(a, b, { ...opts, groups }), conv2d(a, b, { ...opts, groups })))
    closeTo(values(jit(f)(xs, ws)), values(f(xs, ws)))
    const g = grad(f, { argnums: [0, 1] })
    const [jx, jw] = jit(g)(xs, ws)
    const [ex, ew] = g(xs, ws)
    closeTo(values(jx!), values(ex!))
    closeTo(values(jw!), values(ew!))
    const spec = T.conv2dSpec('conv2d', x, w, { ...opts, groups })
    expectRuleMatchesForward(conv2dOp, [T.zeros(x, 'float32'), T.zeros(w, 'float64')], spec)
    expectRuleMatchesForward(conv2dOp, [T.zeros([2, 5, 5, 6], 'float32'), T.zeros(w, 'float32')], spec)
    expectStagedMatchesEager(
      (a: Tensor, b: Tensor) => conv2d(a, b, { groups: 3 }),
      [T.zeros([1, 6, 4, 4]), T.zeros([3, 2, 3, 3])],
    )
    expectStagedMatchesEager(
      (a: Tensor, b: Tensor) => conv2d(a, b, { groups: 3 }),
      [T.zeros([1, 6, 4, 4]), T.zeros([4, 2, 3, 3])],
    )
  })

  it('rejects groups that do not fit the shapes, naming the op and both shapes', () => {
    const x = anywhere(50, [1, 4, 5, 5])
    expect(() => conv2d(x, anywhere(51, [6, 2, 3, 3]), { groups: 3 })).toThrow(T.ShapeError)
    expect(() => conv2d(x, anywhere(51, [6, 2, 3, 3]), { groups: 3 })).toThrow(
      /^conv2d: groups 3 must divide both the input channels \(x \[1,4,5,5\]: 4\) and the output channels \(w \[6,2,3,3\]: 6\)/,
    )
    expect(() => conv2d(x, anywhere(51, [4, 4, 3, 3]), { groups: 2 })).toThrow(
      /^conv2d: channel mismatch.*\[4,4,3,3\]/,
    )
    expect(() => conv2d(x, anywhere(51, [4, 2, 3, 3]), { groups: 0 })).toThrow(T.ValueError)
    expect(() => conv2d(x, anywhere(51, [4, 2, 3, 3]), { groups: 2.5 })).toThrow(
      /^conv2d: groups must be a positive integer/,
    )
    const dy = anywhere(52, [1, 4, 3, 3])
    expect(() => conv2dBackwardInput(dy, anywhere(51, [4, 4, 3, 3]), x.shape, { groups: 2 })).toThrow(
      /^conv2dBackwardInput: channel mismatch/,
    )
    expect(() => conv2dBackwardFilter(x, dy, [4, 1, 3, 3], { groups: 2 })).toThrow(
      /^conv2dBackwardFilter: channel mismatch/,
    )
  })
})

describe('maxPool2d', () => {
  it('sends each window’s cotangent to its first maximum on ties (PyTorch convention)', () => {
    const x = f64([1, 1, 2, 4], [1, 3, 2, 2, 3, 0, 2, 2])
    expect(values(maxPool2d(x, { kernelSize: 2 }))).toEqual([3, 2])
    expect(values(grad((t: Tensor) => sum(maxPool2d(t, { kernelSize: 2 })))(x))).toEqual([
      0, 1, 1, 0, 0, 0, 0, 0,
    ])
  })

  it('never picks a padded position, even when every real value is negative', () => {
    const x = f64([1, 1, 2, 2], [-4, -3, -2, -1])
    const opts = { kernelSize: 2, stride: 1, padding: 1 }
    const y = maxPool2d(x, opts)
    expect(y.shape).toEqual([1, 1, 3, 3])
    expect(values(y)).toEqual([-4, -3, -3, -2, -1, -1, -2, -1, -1])
    expect(values(grad((t: Tensor) => sum(maxPool2d(t, opts)))(x))).toEqual([1, 2, 2, 4])
  })

  it('has well-defined second derivatives: backward and select are each other’s VJP', () => {
    const x = distinct(30, [1, 2, 4, 5])
    const opts = { kernelSize: 3, stride: 2, padding: 1 }
    expect(values(maxPool2dSelect(x, x, opts))).toEqual(values(maxPool2d(x, opts)))
    const dy = anywhere(31, maxPool2d(x, opts).shape)
    const src = anywhere(32, x.shape)
    const inner = (a: Tensor, b: Tensor): number => values(mul(a, b)).reduce((s, v) => s + v, 0)
    expect(inner(maxPool2dBackward(dy, x, opts), src)).toBeCloseTo(
      inner(dy, maxPool2dSelect(src, x, opts)),
      12,
    )
    checkSecondOrder((d) => maxPool2dBackward(d, x, opts), [dy])
    checkSecondOrder((s) => maxPool2dSelect(s, x, opts), [src])
    // The gradient of max pooling is piecewise constant in x: its derivative in x is zero.
    const gradient = (t: Tensor): Tensor => grad((u: Tensor) => sum(mul(maxPool2d(u, opts), dy)))(t)
    const hessianProbe = grad((t: Tensor) => sum(mul(gradient(t), src)))(x)
    expect(values(hessianProbe).every((v) => v === 0)).toBe(true)
  })

  it('rejects a rank-3 input and mismatched select shapes with ShapeErrors', () => {
    expect(() => maxPool2d(anywhere(33, [1, 4, 4]), { kernelSize: 2 })).toThrow(T.ShapeError)
    const x = anywhere(34, [1, 1, 4, 4])
    expect(() => maxPool2dSelect(anywhere(35, [1, 1, 4, 3]), x, { kernelSize: 2 })).toThrow(T.ShapeError)
  })
})

describe('avgPool2d', () => {
  it('counts padded positions in the divisor (count_include_pad) in value and gradient', () => {
    const x = f64([1, 1, 2, 2], [1, 2, 3, 4])
    const opts = { kernelSize: 2, stride: 1, padding: 1 }
    const y = avgPool2d(x, opts)
    expect(values(y)).toEqual([0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1])
    // Every input lies in 4 of the 9 windows, each dividing by 4.
    expect(values(grad((t: Tensor) => sum(avgPool2d(t, opts)))(x))).toEqual([1, 1, 1, 1])
  })

  it('avgPool2dBackward is avgPool2d’s VJP and its own VJP is avgPool2d', () => {
    const x = anywhere(40, [1, 2, 5, 4])
    const opts = { kernelSize: [3, 2] as const, stride: [2, 1] as const, padding: [1, 0, 0, 1] as const }
    const dy = anywhere(41, avgPool2d(x, opts).shape)
    const viaGrad = grad((t: Tensor) => sum(mul(avgPool2d(t, opts), dy)))(x)
    expect(values(avgPool2dBackward(dy, x.shape, opts))).toEqual(values(viaGrad))
    checkSecondOrder((d) => avgPool2dBackward(d, x.shape, opts), [dy])
  })
})

describe('batching rules (vmap)', () => {
  const examples =
    (shapes: ReadonlyArray<ReadonlyArray<number>>, seed: number, distinctArgs: ReadonlyArray<number> = []) =>
    (arg: number, i: number): Tensor =>
      (distinctArgs.includes(arg) ? distinct : anywhere)(seed + 10 * arg + i + 1, shapes[arg]!)

  it('conv2d: every layout of x and w (examples folded into N, into O, or im2col when both vary)', () => {
    const cases = [
      { x: [2, 2, 4, 5], w: [3, 2, 2, 2], opts: {} },
      {
        x: [1, 2, 5, 4],
        w: [2, 2, 3, 2],
        opts: { stride: 2, padding: [1, 0, 0, 1] as const, dilation: [1, 2] as const },
      },
      { x: [2, 1, 4, 4], w: [2, 1, 3, 3], opts: { stride: 2, padding: 'same' as const } },
    ]
    cases.forEach(({ x, w, opts }, n) => {
      const failures = batchingMismatches(
        (a, b) => conv2d(a, b, opts),
        [4, 4],
        examples([x, w], 3000 + 100 * n),
      )
      expect(failures, `x ${T.fmtShape(x)}, w ${T.fmtShape(w)}`).toEqual([])
    })
  })

  it('conv2dBackwardInput and conv2dBackwardFilter: every layout of both operands', () => {
    const opts = { stride: 2, padding: [1, 0, 1, 0] as const }
    const input = batchingMismatches(
      (dy, w) => conv2dBackwardInput(dy, w, [2, 2, 4, 5], opts),
      [4, 4],
      examples(
        [
          [2, 3, 2, 3],
          [3, 2, 2, 2],
        ],
        3500,
      ),
    )
    expect(input).toEqual([])
    const filter = batchingMismatches(
      (x, dy) => conv2dBackwardFilter(x, dy, [3, 2, 2, 2], { dilation: [2, 1], padding: 1 }),
      [4, 4],
      examples(
        [
          [2, 2, 4, 4],
          [2, 3, 4, 5],
        ],
        3600,
      ),
    )
    expect(filter).toEqual([])
  })

  it('pooling ops and their backward ops: every layout (examples folded into N or C)', () => {
    const opts = { kernelSize: 3, stride: 2, padding: 1 }
    const single: ReadonlyArray<readonly [string, (x: Tensor) => Tensor, ReadonlyArray<number>, boolean]> = [
      ['maxPool2d', (x) => maxPool2d(x, opts), [2, 2, 4, 5], true],
      [
        'avgPool2d',
        (x) => avgPool2d(x, { kernelSize: [2, 3], stride: [1, 2], padding: [0, 1, 1, 0] }),
        [2, 2, 3, 5],
        false,
      ],
      ['avgPool2dBackward', (dy) => avgPool2dBackward(dy, [2, 2, 4, 5], opts), [2, 2, 2, 3], false],
    ]
    single.forEach(([name, fn, shape, needsDistinct], n) => {
      expect(
        batchingMismatches(fn, [4], examples([shape], 3700 + 10 * n, needsDistinct ? [0] : [])),
        name,
      ).toEqual([])
    })
    const backward = batchingMismatches(
      (dy, x) => maxPool2dBackward(dy, x, opts),
      [4, 4],
      examples(
        [
          [2, 2, 2, 3],
          [2, 2, 4, 5],
        ],
        3800,
        [1],
      ),
    )
    expect(backward, 'maxPool2dBackward').toEqual([])
    const select = batchingMismatches(
      (src, x) => maxPool2dSelect(src, x, opts),
      [4, 4],
      examples(
        [
          [2, 2, 4, 5],
          [2, 2, 4, 5],
        ],
        3900,
        [1],
      ),
    )
    expect(select, 'maxPool2dSelect').toEqual([])
  })

  it('vmap(grad) of a conv + pool network gives per-example gradients of the shared filters', () => {
    // The per-example-gradient pattern: x mapped, w shared; the VJP's conv2dBackwardFilter then sees
    // both of its operands mapped.
    const net = (w: Tensor, x: Tensor): Tensor =>
      sum(mul(maxPool2d(conv2d(x, w, { padding: 1 }), { kernelSize: 2 }), 0.5))
    const w = anywhere(4000, [2, 1, 3, 3])
    const xs = Array.from({ length: 4 }, (_, i) => distinct(4010 + i, [1, 1, 4, 4]))
    const perExample = grad(net)
    const batched = vmap(perExample, { inAxes: [null, 0] })(w, T.stack(xs))
    const expected = T.stack(xs.map((x) => perExample(w, x)))
    closeTo(values(batched), values(expected), 10)
  })

  it('fold, not loop: a mapped input becomes more images, mapped filters more output channels', () => {
    const calls: number[][][] = []
    const record = (xs: [Tensor, Tensor], q: T.Conv2dSpec): Tensor => {
      calls.push(xs.map((t) => [...t.shape]))
      return conv2dOp.forward(xs, q)
    }
    const spec = T.conv2dSpec('conv2d', [2, 3, 5, 5], [4, 3, 3, 3], {})
    const [images, imagesAxis] = conv2dOp.batch(
      [anywhere(1, [6, 2, 3, 5, 5]), anywhere(2, [4, 3, 3, 3])],
      [0, undefined],
      spec,
      record,
    )
    const [channels, channelsAxis] = conv2dOp.batch(
      [anywhere(1, [2, 3, 5, 5]), anywhere(2, [6, 4, 3, 3, 3])],
      [undefined, 0],
      spec,
      record,
    )
    expect(calls).toEqual([
      [
        [12, 3, 5, 5],
        [4, 3, 3, 3],
      ],
      [
        [2, 3, 5, 5],
        [24, 3, 3, 3],
      ],
    ])
    expect([imagesAxis, images.shape]).toEqual([0, [6, 2, 4, 3, 3]])
    expect([channelsAxis, channels.shape]).toEqual([1, [2, 6, 4, 3, 3]])
    // Examples right after C of a pooled batch fold into C: [N, C, B, H, W] -> [N, C·B, H, W].
    const pooled: number[][] = []
    const [out, outAxis] = maxPool2dOp.batch(
      [distinct(3, [2, 3, 6, 4, 4])],
      [2],
      T.pool2dSpec('maxPool2d', [2, 3, 4, 4], { kernelSize: 2 }),
      (xs, q) => {
        pooled.push([...xs[0].shape])
        return maxPool2dOp.forward(xs, q)
      },
    )
    expect(pooled).toEqual([[2, 18, 4, 4]])
    expect([outAxis, out.shape]).toEqual([2, [2, 3, 6, 2, 2]])
  })
})

describe('shape and dtype rules (staging)', () => {
  const of = (dtype: T.DType, shape: ReadonlyArray<number>): Tensor => T.zeros(shape, dtype)
  const geometry = T.conv2dSpec('conv2d', [2, 3, 7, 6], [4, 3, 3, 2], {
    stride: 2,
    padding: 'same',
    dilation: [1, 2],
  })
  const pooling = T.pool2dSpec('maxPool2d', [2, 3, 7, 6], { kernelSize: 3, stride: 2, padding: 1 })
  const pooled = T.pool2dOutputShape([2, 3, 7, 6], pooling)
  const convolved = T.conv2dOutputShape([2, 3, 7, 6], [4, 3, 3, 2], geometry)

  it('conv2d and its backward ops: the kernels’ shapes, promoted dtypes and errors', () => {
    for (const [x, w] of [
      [of('float32', [2, 3, 7, 6]), of('float32', [4, 3, 3, 2])],
      [of('int32', [2, 3, 7, 6]), of('float64', [4, 3, 3, 2])],
      [of('float32', [2, 2, 7, 6]), of('float32', [4, 3, 3, 2])], // channels
      [of('float32', [3, 7, 6]), of('float32', [4, 3, 3, 2])], // rank
      [of('float32', [2, 3, 1, 1]), of('float32', [4, 3, 3, 3])], // kernel larger than the input
    ] as const)
      expectRuleMatchesForward(conv2dOp, [x, w], geometry)
    const input = { ...geometry, xShape: [2, 3, 7, 6] }
    const filter = { ...geometry, wShape: [4, 3, 3, 2] }
    for (const dtype of ['float32', 'int32'] as const) {
      expectRuleMatchesForward(
        conv2dBackwardInputOp,
        [of(dtype, convolved), of('float64', [4, 3, 3, 2])],
        input,
      )
      expectRuleMatchesForward(
        conv2dBackwardFilterOp,
        [of('float32', [2, 3, 7, 6]), of(dtype, convolved)],
        filter,
      )
    }
    const wrong = [convolved[0]!, convolved[1]!, convolved[2]! + 1, convolved[3]!]
    expectRuleMatchesForward(
      conv2dBackwardInputOp,
      [of('float32', wrong), of('float32', [4, 3, 3, 2])],
      input,
    )
    expectRuleMatchesForward(
      conv2dBackwardInputOp,
      [of('float32', convolved), of('float32', [4, 2, 3, 2])],
      input,
    )
    expectRuleMatchesForward(
      conv2dBackwardFilterOp,
      [of('float32', [2, 3, 7, 6]), of('float32', wrong)],
      filter,
    )
    expectRuleMatchesForward(
      conv2dBackwardFilterOp,
      [of('float32', [2, 3, 7, 5]), of('float32', convolved)],
      filter,
    )

    // Staged through the user-facing functions: the cotangent's shape is checked by the op's rule.
    const backwardInput = (dy: Tensor, w: Tensor): Tensor =>
      conv2dBackwardInput(dy, w, [2, 3, 7, 6], geometry)
    expectStagedMatchesEager(backwardInput, [of('float32', convolved), of('float32', [4, 3, 3, 2])])
    expectStagedMatchesEager(backwardInput, [of('float32', wrong), of('float32', [4, 3, 3, 2])])
    expect(() => makeGraph(backwardInput)(of('float32', wrong), of('float32', [4, 3, 3, 2]))).toThrow(
      /while staging function backwardInput: .*conv2dBackwardInput.*does not match the conv2d output/,
    )
    const backwardFilter = (x: Tensor, dy: Tensor): Tensor =>
      conv2dBackwardFilter(x, dy, [4, 3, 3, 2], geometry)
    expectStagedMatchesEager(backwardFilter, [of('int32', [2, 3, 7, 6]), of('float32', convolved)])
    expectStagedMatchesEager(backwardFilter, [of('float32', [2, 3, 7, 6]), of('float32', wrong)])
    expectStagedMatchesEager(
      (x: Tensor, w: Tensor) => conv2d(x, w, { padding: 1 }),
      [of('int32', [1, 2, 4, 4]), of('float32', [3, 2, 3, 3])],
    )
  })

  it('the pools and their backward ops: pooled shapes, kept or float dtypes, and the kernels’ errors', () => {
    for (const dtype of ['float32', 'float64', 'int32'] as const) {
      expectRuleMatchesForward(maxPool2dOp, [of(dtype, [2, 3, 7, 6])], pooling)
      expectRuleMatchesForward(avgPool2dOp, [of(dtype, [2, 3, 7, 6])], pooling)
      expectRuleMatchesForward(maxPool2dBackwardOp, [of(dtype, pooled), of('float32', [2, 3, 7, 6])], pooling)
      expectRuleMatchesForward(
        maxPool2dSelectOp,
        [of(dtype, [2, 3, 7, 6]), of('float32', [2, 3, 7, 6])],
        pooling,
      )
      expectRuleMatchesForward(avgPool2dBackwardOp, [of(dtype, pooled)], { ...pooling, xShape: [2, 3, 7, 6] })
    }
    const wrong = [pooled[0]!, pooled[1]!, pooled[2]!, pooled[3]! + 1]
    expectRuleMatchesForward(maxPool2dOp, [of('float32', [2, 3, 6])], pooling)
    expectRuleMatchesForward(maxPool2dOp, [of('float32', [2, 3, 1, 6])], pooling) // window larger than input
    expectRuleMatchesForward(avgPool2dOp, [of('float32', [2, 3, 0, 6])], pooling)
    expectRuleMatchesForward(
      maxPool2dBackwardOp,
      [of('float32', wrong), of('float32', [2, 3, 7, 6])],
      pooling,
    )
    expectRuleMatchesForward(
      maxPool2dSelectOp,
      [of('float32', [2, 3, 7, 5]), of('float32', [2, 3, 7, 6])],
      pooling,
    )
    expectRuleMatchesForward(avgPool2dBackwardOp, [of('float32', wrong)], {
      ...pooling,
      xShape: [2, 3, 7, 6],
    })

    const opts = { kernelSize: 3, stride: 2, padding: 1 }
    const routeBack = (dy: Tensor, x: Tensor): Tensor => maxPool2dBackward(dy, x, opts)
    expectStagedMatchesEager(routeBack, [of('float64', pooled), of('float32', [2, 3, 7, 6])])
    expectStagedMatchesEager(routeBack, [of('float32', wrong), of('float32', [2, 3, 7, 6])])
    const select = (src: Tensor, x: Tensor): Tensor => maxPool2dSelect(src, x, opts)
    expectStagedMatchesEager(select, [of('float32', [2, 3, 7, 5]), of('float32', [2, 3, 7, 6])])
    const spread = (dy: Tensor): Tensor => avgPool2dBackward(dy, [2, 3, 7, 6], opts)
    expectStagedMatchesEager(spread, [of('int32', pooled)])
    expectStagedMatchesEager(spread, [of('float32', wrong)])
    expectStagedMatchesEager((x: Tensor) => avgPool2d(x, opts), [of('int32', [2, 3, 7, 6])])
    expectStagedMatchesEager((x: Tensor) => maxPool2d(x, opts), [of('int32', [2, 3, 7, 6])])
  })
})
