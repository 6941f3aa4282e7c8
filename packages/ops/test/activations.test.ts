import { describe, it, expect } from 'vitest'
import { BackfoldError, random, stack, unsafeTensor, zeros, type DType, type Tensor } from '@backfold/tensor'
import { grad } from '../src/transforms/grad'
import { vjp } from '../src/transforms/vjp'
import { sum } from '../src/reduce/sum'
import { vmap } from '../src/transforms/vmap'
import { mul } from '../src/binary/mul'
import { applyOp } from '../src/core/op'
import { makeGraph } from '../src/staging/graph'
import * as A from '../src/activations/index'

const f64 = (values: ReadonlyArray<number>, shape: ReadonlyArray<number> = [values.length]): Tensor =>
  unsafeTensor('float64', shape, Float64Array.from(values))
const i32 = (values: ReadonlyArray<number>, shape: ReadonlyArray<number> = [values.length]): Tensor =>
  unsafeTensor('int32', shape, Int32Array.from(values))
const valuesOf = (x: Tensor): number[] => Array.from(x.data)
const derivative = (f: (x: Tensor) => Tensor, x: Tensor): number[] =>
  valuesOf(grad((t: Tensor) => sum(f(t)))(x))
const expectClose = (got: ReadonlyArray<number>, want: ReadonlyArray<number>, digits = 12): void => {
  expect(got.length).toBe(want.length)
  got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, digits))
}

/** erf by its everywhere-convergent series of positive terms, (2/√π) e^(−x²) Σ 2ⁿ x^(2n+1) / (2n+1)!! (no cancellation). */
const erfReference = (x: number): number => {
  // 1 − erf(6) ≈ 2e-17 is below double precision; beyond it the series would also overflow.
  if (Math.abs(x) >= 6) return Math.sign(x)
  let term = x
  let total = x
  for (let n = 1; n < 1000 && Math.abs(term) > 1e-17 * Math.abs(total); n++) {
    term *= (2 * x * x) / (2 * n + 1)
    total += term
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * total
}

/** Naive softmax / log-softmax along `axis` with direct loops (max-shifted, in float64). */
const softmaxReference = (x: Tensor, axis: number, log: boolean): number[] => {
  const shape = x.shape
  const size = shape[axis]!
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1)
  const outer = x.data.length / (size * inner)
  const out = new Array<number>(x.data.length)
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const at = (k: number): number => (o * size + k) * inner + i
      let max = -Infinity
      for (let k = 0; k < size; k++) max = Math.max(max, x.data[at(k)]!)
      let total = 0
      for (let k = 0; k < size; k++) total += Math.exp(x.data[at(k)]! - max)
      for (let k = 0; k < size; k++)
        out[at(k)] = log ? x.data[at(k)]! - max - Math.log(total) : Math.exp(x.data[at(k)]! - max) / total
    }
  return out
}

describe('softmax and logSoftmax', () => {
  const x = random.normal(random.key(3), [2, 3, 4], { dtype: 'float64' })

  for (const axis of [0, 1, 2, -1])
    it(`match a naive reference along axis ${axis}`, () => {
      const resolved = axis < 0 ? axis + 3 : axis
      expectClose(valuesOf(A.softmax(x, { axis })), softmaxReference(x, resolved, false), 14)
      expectClose(valuesOf(A.logSoftmax(x, { axis })), softmaxReference(x, resolved, true), 13)
    })

  it('are stable at [1000, 0, -1000]', () => {
    const big = f64([1000, 0, -1000])
    expect(valuesOf(A.softmax(big))).toEqual([1, 0, 0])
    expect(valuesOf(A.logSoftmax(big))).toEqual([0, -1000, -2000])
    for (const f of [A.softmax, A.logSoftmax]) {
      const [, pullback] = vjp((t: Tensor) => f(t))(big)
      const [g] = pullback(f64([0.3, -1, 2])) as Tensor[]
      for (const v of valuesOf(g!)) expect(Number.isFinite(v)).toBe(true)
    }
    // d logSoftmax_0 / dx = e_0 − softmax = [0, 0, 0] here; d logSoftmax_1 / dx = [−1, 1, 0].
    const [, pullback] = vjp((t: Tensor) => A.logSoftmax(t))(big)
    expect(valuesOf((pullback(f64([0, 1, 0])) as Tensor[])[0]!)).toEqual([-1, 1, 0])
  })

  it('the softmax gradient sums to zero along the axis and logSoftmax matches ȳ − softmax Σȳ', () => {
    const u = random.normal(random.key(4), [2, 3, 4], { dtype: 'float64' })
    const [, softmaxPullback] = vjp((t: Tensor) => A.softmax(t, { axis: 1 }))(x)
    const g = (softmaxPullback(u) as Tensor[])[0]!
    for (let o = 0; o < 2; o++)
      for (let i = 0; i < 4; i++) {
        let total = 0
        for (let k = 0; k < 3; k++) total += g.data[(o * 3 + k) * 4 + i]!
        expect(total).toBeCloseTo(0, 14)
      }
    const [, logPullback] = vjp((t: Tensor) => A.logSoftmax(t, { axis: 1 }))(x)
    const lg = (logPullback(u) as Tensor[])[0]!
    const probs = softmaxReference(x, 1, false)
    for (let o = 0; o < 2; o++)
      for (let i = 0; i < 4; i++) {
        let total = 0
        for (let k = 0; k < 3; k++) total += u.data[(o * 3 + k) * 4 + i]!
        for (let k = 0; k < 3; k++) {
          const at = (o * 3 + k) * 4 + i
          expect(lg.data[at]).toBeCloseTo(u.data[at]! - probs[at]! * total, 13)
        }
      }
  })

  it('give float32 for int32 input', () => {
    const y = A.softmax(i32([1, 2, 3]))
    expect(y.dtype).toBe('float32')
    expectClose(valuesOf(y), softmaxReference(f64([1, 2, 3]), 0, false), 6)
  })

  it('give an empty result over an empty axis (as logSoftmax, PyTorch and JAX), with an empty gradient', () => {
    for (const [shape, axis] of [
      [[0], -1],
      [[2, 0], 1],
      [[0, 3], 0],
      [[0, 3], 1],
    ] as const) {
      const x = unsafeTensor('float64', shape, new Float64Array(0))
      for (const f of [A.softmax, A.logSoftmax]) {
        const y = f(x, { axis })
        expect([y.shape, y.dtype]).toEqual([shape, 'float64'])
        const g = grad((t: Tensor) => sum(f(t, { axis })))(x)
        expect(g.shape).toEqual(shape)
      }
    }
    expect(A.softmax(unsafeTensor('int32', [2, 0], new Int32Array(0))).dtype).toBe('float32')
  })

  it('reject an out-of-range axis and a scalar with a ValueError naming the op', () => {
    expect(() => A.softmax(f64([1, 2]), { axis: 1 })).toThrow(
      expect.objectContaining({ kind: 'ValueError', op: 'softmax' }),
    )
    expect(() => A.logSoftmax(f64([1], []))).toThrow(
      expect.objectContaining({ kind: 'ValueError', op: 'logSoftmax' }),
    )
  })
})

describe('sigmoid-family stability', () => {
  const extremes = f64([-1000, 1000])

  it('logSigmoid is finite at ±1000 with a finite gradient', () => {
    const [atMinus, atPlus] = valuesOf(A.logSigmoid(extremes))
    expect(atMinus).toBe(-1000)
    expect(Math.abs(atPlus!)).toBe(0)
    expect(derivative(A.logSigmoid, extremes)).toEqual([1, 0])
    const xs = [-3, -0.5, 0, 2]
    expectClose(
      valuesOf(A.logSigmoid(f64(xs))),
      xs.map((v) => Math.log(1 / (1 + Math.exp(-v)))),
      14,
    )
  })

  it('silu matches x σ(x) and is finite at ±1000 with a finite gradient', () => {
    const xs = [-3, -0.5, 0, 2]
    expectClose(
      valuesOf(A.silu(f64(xs))),
      xs.map((v) => v / (1 + Math.exp(-v))),
      14,
    )
    expect(valuesOf(A.silu(extremes))).toEqual([-0, 1000])
    expect(derivative(A.silu, extremes)).toEqual([0, 1])
  })
})

describe('gelu', () => {
  const xs = [-6, -2.5, -1, -0.3, 0, 0.3, 1, 2.5, 6]

  it('exact form matches x Φ(x) with a high-precision erf', () => {
    expectClose(
      valuesOf(A.gelu(f64(xs))),
      xs.map((v) => 0.5 * v * (1 + erfReference(v / Math.SQRT2))),
      13,
    )
    // d/dx x Φ(x) = Φ(x) + x φ(x)
    expectClose(
      derivative(A.gelu, f64(xs)),
      xs.map(
        (v) =>
          0.5 * (1 + erfReference(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI),
      ),
      13,
    )
  })

  it('tanh form matches its formula', () => {
    const c = Math.sqrt(2 / Math.PI)
    expectClose(
      valuesOf(A.gelu(f64(xs), { approximate: 'tanh' })),
      xs.map((v) => 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3)))),
      14,
    )
  })

  it('is finite at ±1000 with a finite gradient, in both forms', () => {
    for (const approximate of ['none', 'tanh'] as const) {
      const f = (t: Tensor): Tensor => A.gelu(t, { approximate })
      expect(valuesOf(f(f64([-1000, 1000])))).toEqual([-0, 1000])
      expect(derivative(f, f64([-1000, 1000]))).toEqual([0, 1])
    }
  })

  it('gives float32 for int32 input and rejects an unknown approximation', () => {
    expect(A.gelu(i32([1, 2])).dtype).toBe('float32')
    // Deliberately wrong at runtime: untyped callers can pass any string.
    expect(() => A.gelu(f64([1]), { approximate: 'erf' as unknown as 'none' })).toThrow(
      expect.objectContaining({ kind: 'ValueError', op: 'gelu' }),
    )
  })
})

describe('elu and leakyRelu', () => {
  it('elu matches its definition and has a finite gradient at large |x|', () => {
    const xs = [-1000, -2, -0.5, 0, 0.5, 3, 1000]
    expectClose(
      valuesOf(A.elu(f64(xs), 1.5)),
      xs.map((v) => (v > 0 ? v : 1.5 * Math.expm1(v))),
      14,
    )
    expectClose(
      derivative((t) => A.elu(t, 1.5), f64(xs)),
      xs.map((v) => (v > 0 ? 1 : 1.5 * Math.exp(v))),
      14,
    )
  })

  it("elu'(0) = alpha and leakyRelu'(0) = slope (PyTorch's conventions)", () => {
    expect(derivative((t) => A.elu(t, 2), f64([0]))).toEqual([2])
    expect(derivative((t) => A.leakyRelu(t, 0.2), f64([0]))).toEqual([0.2])
  })

  it('leakyRelu matches its definition, default slope 0.01, float32 for int32 input', () => {
    expect(valuesOf(A.leakyRelu(f64([-2, 0, 3])))).toEqual([-0.02, 0, 3])
    expect(derivative((t) => A.leakyRelu(t, 0.1), f64([-2, 3]))).toEqual([0.1, 1])
    const y = A.leakyRelu(i32([-100, 5]), 0.5)
    expect(y.dtype).toBe('float32')
    expect(valuesOf(y)).toEqual([-50, 5])
  })
})

describe('clip', () => {
  it('clips and passes the gradient inclusively at the boundaries', () => {
    const x = f64([-2, -1, 0.5, 1, 3])
    expect(valuesOf(A.clip(x, -1, 1))).toEqual([-1, -1, 0.5, 1, 1])
    expect(derivative((t) => A.clip(t, -1, 1), x)).toEqual([0, 1, 1, 1, 0])
  })

  it('allows lo = hi and infinite bounds, and keeps NaN', () => {
    expect(valuesOf(A.clip(f64([-1, 2]), 0.5, 0.5))).toEqual([0.5, 0.5])
    expect(derivative((t) => A.clip(t, 0.5, 0.5), f64([-1, 0.5]))).toEqual([0, 1])
    expect(valuesOf(A.clip(f64([-1e300, 5]), -Infinity, 2))).toEqual([-1e300, 2])
    expect(valuesOf(A.clip(f64([NaN]), 0, 1))).toEqual([NaN])
    const ints = A.clip(i32([-5, 0, 5]), -Infinity, 3)
    expect(ints.dtype).toBe('int32')
    expect(valuesOf(ints)).toEqual([-5, 0, 3])
  })

  it('rejects lo > hi and NaN bounds with a ValueError naming clip', () => {
    expect(() => A.clip(f64([1]), 2, 1)).toThrow(expect.objectContaining({ kind: 'ValueError', op: 'clip' }))
    expect(() => A.clip(f64([1]), NaN, 1)).toThrow(
      expect.objectContaining({ kind: 'ValueError', op: 'clip' }),
    )
  })
})

describe('batching rules of the activations', () => {
  // Examples of shape [2,3,4] (no two axes of one size, so a mixed-up axis cannot pass).
  const examples = [0, 1, 2].map((i) => random.normal(random.key(40 + i), [2, 3, 4], { dtype: 'float64' }))
  const batches = [0, 1, 2, 3].map((axis) => stack(examples, axis))
  const closeTo = (got: Tensor, want: Tensor): void => {
    expect(got.shape).toEqual(want.shape)
    expectClose(valuesOf(got), valuesOf(want), 12)
  }

  for (const [name, f] of [
    ['softmax', A.softmax],
    ['logSoftmax', A.logSoftmax],
  ] as const)
    for (const inAxis of [0, 1, 2, 3, -1, -3])
      for (const axis of [0, 1, 2, -1])
        it(`${name} along axis ${axis} under vmap with the examples along ${inAxis} equals the per-example results, and so does vmap(grad)`, () => {
          const batch = batches[inAxis < 0 ? inAxis + 4 : inAxis]
          if (batch === undefined) throw new Error('no such batch')
          closeTo(
            vmap((t: Tensor) => f(t, { axis }), { inAxes: [inAxis] })(batch),
            stack(examples.map((e) => f(e, { axis }))),
          )
          const weights = random.normal(random.key(50), [2, 3, 4], { dtype: 'float64' })
          const g = grad((t: Tensor) => sum(mul(f(t, { axis }), weights)))
          closeTo(vmap(g, { inAxes: [inAxis] })(batch), stack(examples.map(g)))
        })

  it('renumber the normalised axis around the examples and leave them where they are (no transpose)', () => {
    const x = batches[1]
    if (x === undefined) throw new Error('no such batch')
    for (const op of [A.softmaxOp, A.logSoftmaxOp])
      for (const [batchAxis, axis, expected] of [
        [1, 0, 0],
        [1, 1, 2],
        [1, 2, 3],
        [0, 0, 1],
        [3, 2, 2],
      ] as const) {
        const seen: number[] = []
        const [out, outAxis] = op.batch([x], [batchAxis], { axis }, (ys, p) => {
          // The rule hands the batch on untouched: no transpose before the op.
          expect(ys[0]).toBe(x)
          seen.push(p.axis)
          return applyOp(op, ys, p)
        })
        expect([seen, outAxis, out.shape]).toEqual([[expected], batchAxis, x.shape])
      }
  })

  it('composites (elu, gelu, leakyRelu, logSigmoid, silu) compute with ops only: they run under vmap on int32 and float input', () => {
    const ints = unsafeTensor('int32', [3, 2], Int32Array.from([-2, -1, 0, 1, 2, 3]))
    const floats = f64([-2.5, -0.5, 0.25, 1, 2, 3.5], [2, 3])
    for (const f of [
      (t: Tensor) => A.elu(t, 1.5),
      (t: Tensor) => A.gelu(t),
      (t: Tensor) => A.gelu(t, { approximate: 'tanh' }),
      (t: Tensor) => A.leakyRelu(t, 0.1),
      A.logSigmoid,
      A.silu,
    ]) {
      // int32 examples take the cast to float32 (floatInput) inside the mapped function.
      const byColumn = vmap(f, { inAxes: [1] })(ints)
      const columns = [0, 1].map((j) =>
        unsafeTensor('int32', [3], Int32Array.from([0, 1, 2].map((i) => ints.data[2 * i + j] ?? NaN))),
      )
      expect(byColumn.dtype).toBe('float32')
      expectClose(valuesOf(byColumn), valuesOf(stack(columns.map(f))), 6)
      const g = grad((t: Tensor) => sum(f(t)))
      closeTo(vmap(g)(floats), stack([0, 1].map((i) => g(f64(valuesOf(floats).slice(3 * i, 3 * i + 3))))))
    }
  })
})

/** What a shape rule must reproduce: the output's shape and dtype, or the error's kind, op and message. */
type Outcome =
  | { readonly shape: ReadonlyArray<number>; readonly dtype: DType }
  | { readonly error: string; readonly op: string; readonly message: string }

const outcomeOf = (run: () => { readonly shape: ReadonlyArray<number>; readonly dtype: DType }): Outcome => {
  try {
    const { shape, dtype } = run()
    return { shape: [...shape], dtype }
  } catch (error) {
    if (!(error instanceof BackfoldError)) throw error
    // makeGraph names the staged function before the op's own message.
    return { error: error.kind, op: error.op, message: error.message.replace(/^while staging [^:]*: /, '') }
  }
}
const eagerOutcome = (f: (x: Tensor) => Tensor, x: Tensor): Outcome => outcomeOf(() => f(x))
/** `f` staged on an abstract value shaped like `x` (reading its data throws): its one output's aval. */
const stagedOutcome = (f: (x: Tensor) => Tensor, x: Tensor): Outcome =>
  outcomeOf(() => {
    const graph = makeGraph(f)(x)
    expect(graph.outputs).toHaveLength(1)
    return graph.outputs[0]!
  })

describe('shape and dtype rules of the activations (staging)', () => {
  const dtypes: ReadonlyArray<DType> = ['int32', 'float32', 'float64']
  const shapes: ReadonlyArray<ReadonlyArray<number>> = [[3], [2, 3], [2, 0], [0, 3]]
  interface Case {
    readonly op: string
    readonly label: string
    readonly fn: (x: Tensor) => Tensor
  }
  const bounds: ReadonlyArray<readonly [number, number]> = [
    [-1, 1],
    [-Infinity, 3],
    [0.5, 3],
    [-1, 2.5],
    [1e10, Infinity],
    [-Infinity, Infinity],
  ]
  const functions: Case[] = [
    ...bounds.map(([lo, hi]) => ({
      op: 'clip',
      label: `[${lo}, ${hi}]`,
      fn: (x: Tensor) => A.clip(x, lo, hi),
    })),
    ...[0, -1].flatMap((axis) => [
      { op: 'softmax', label: `axis ${axis}`, fn: (x: Tensor) => A.softmax(x, { axis }) },
      { op: 'logSoftmax', label: `axis ${axis}`, fn: (x: Tensor) => A.logSoftmax(x, { axis }) },
    ]),
    { op: 'elu', label: 'alpha 1.5', fn: (x: Tensor) => A.elu(x, 1.5) },
    { op: 'gelu', label: 'exact', fn: (x: Tensor) => A.gelu(x) },
    { op: 'gelu', label: 'tanh', fn: (x: Tensor) => A.gelu(x, { approximate: 'tanh' }) },
    { op: 'leakyRelu', label: 'slope 0.1', fn: (x: Tensor) => A.leakyRelu(x, 0.1) },
    { op: 'logSigmoid', label: '', fn: A.logSigmoid },
    { op: 'silu', label: '', fn: A.silu },
  ]

  for (const { op, label, fn } of functions)
    for (const dtype of dtypes)
      for (const shape of shapes)
        it(`${op} ${label} of ${dtype}[${shape.join(',')}]: staged as eager mode computes it`, () => {
          const x = zeros(shape, dtype)
          expect(stagedOutcome(fn, x)).toEqual(eagerOutcome(fn, x))
        })

  it('covers every activation op', () => {
    const covered = new Set(functions.map((c) => c.op))
    expect(Object.keys(A.activationOps).filter((name) => !covered.has(name))).toEqual([])
  })

  it('clip of int32: integer bounds keep int32, a fractional bound gives float32, staged and eager', () => {
    const ints = i32([-5, 0, 5])
    const fractional = A.clip(ints, 0.5, 3)
    expect(fractional.dtype).toBe('float32')
    expect(valuesOf(fractional)).toEqual([0.5, 0.5, 3])
    expect(stagedOutcome((x) => A.clip(x, 0.5, 3), ints)).toEqual({ shape: [3], dtype: 'float32' })
    expect(stagedOutcome((x) => A.clip(x, -1, 3), ints)).toEqual({ shape: [3], dtype: 'int32' })
  })

  it('softmax and logSoftmax ops with an axis out of range fail while staging with eager mode’s error', () => {
    for (const op of [A.softmaxOp, A.logSoftmaxOp])
      for (const [x, axis] of [
        [zeros([2, 3]), 2],
        [zeros([]), 0],
      ] as const) {
        // The op itself: its wrapper would reject the axis before applying it.
        const apply = (t: Tensor): Tensor => applyOp(op, [t], { axis })
        const staged = stagedOutcome(apply, x)
        expect(staged).toMatchObject({ error: 'ValueError' })
        expect(staged).toEqual(eagerOutcome(apply, x))
      }
  })
})
