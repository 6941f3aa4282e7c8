import { describe, it, expect } from 'vitest'
import { BackfoldError, random, stack, unsafeTensor, zeros, type DType, type Tensor } from '@backfold/tensor'
import { checkVjp } from '../src/check/checkVjp'
import { applyOp } from '../src/core/op'
import { makeGraph } from '../src/staging/graph'
import { grad } from '../src/transforms/grad'
import { vjp } from '../src/transforms/vjp'
import { vmap } from '../src/transforms/vmap'
import { mul } from '../src/binary/mul'
import { sum } from '../src/reduce/sum'
import * as E from '../src/elementwise/index'
import * as B from '../src/binary/index'
import { activationOps } from '../src/activations/index'
import { binaryOps } from '../src/binary/index'
import { elementwiseOps } from '../src/elementwise/index'
import { lossOps } from '../src/losses/index'
import { elementwiseRows } from './rows/elementwise'
import type { GradRow } from './rows/types'

const f64 = (values: ReadonlyArray<number>, shape: ReadonlyArray<number> = [values.length]): Tensor =>
  unsafeTensor('float64', shape, Float64Array.from(values))
const i32 = (values: ReadonlyArray<number>, shape: ReadonlyArray<number> = [values.length]): Tensor =>
  unsafeTensor('int32', shape, Int32Array.from(values))
const valuesOf = (x: Tensor): number[] => Array.from(x.data)
/** The gradient of sum(f(x)): the elementwise derivative f'(x) for an elementwise f. */
const derivative = (f: (x: Tensor) => Tensor, x: Tensor): number[] =>
  valuesOf(grad((t: Tensor) => sum(f(t)))(x))

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

/** checkVjp on the gradient itself: the VJP of the VJP (with a fixed output cotangent) against finite differences. */
const secondOrderReports = (row: GradRow): ReturnType<typeof checkVjp>[] => {
  const args = row.args()
  const floatArgs = args.flatMap((a, i) => (a.dtype === 'int32' ? [] : [i]))
  const y = row.fn(...args)
  const u = random.normal(random.key(17), y.shape, { dtype: y.dtype })
  return floatArgs.map((_, k) =>
    checkVjp((...xs: Tensor[]) => (vjp(row.fn, { argnums: floatArgs })(...xs)[1](u) as Tensor[])[k]!, args, {
      argnums: floatArgs,
    }),
  )
}

describe('gradient rows of the elementwise, binary, activation and loss groups', () => {
  for (const row of elementwiseRows) {
    it(`${row.op}: ${row.label} (${row.domain})`, () => {
      const report = checkVjp(
        row.fn,
        row.args(),
        row.tolerance === undefined ? {} : { tolerance: row.tolerance },
      )
      expect(report.ok, report.message).toBe(true)
    })
    if (row.secondOrder === true)
      it(`${row.op}: ${row.label}, second order`, () => {
        for (const report of secondOrderReports(row)) expect(report.ok, report.message).toBe(true)
      })
  }

  it('has a row for every op of the four groups', () => {
    const covered = new Set(elementwiseRows.map((r) => r.op))
    const ops = [elementwiseOps, binaryOps, activationOps, lossOps].flatMap((group) => Object.keys(group))
    expect(ops.filter((name) => !covered.has(name))).toEqual([])
  })

  it('registers each op under its own name', () => {
    for (const group of [elementwiseOps, binaryOps, activationOps, lossOps])
      for (const [key, op] of Object.entries(group)) expect(op.name).toBe(key)
  })
})

describe('elementwise forward values', () => {
  const xs = [-3.7, -1, -0.5, -1e-9, 0, 1e-9, 0.25, 0.5, 1, 2.5, 20]
  const cases: ReadonlyArray<readonly [string, (x: Tensor) => Tensor, (v: number) => number]> = [
    ['neg', E.neg, (v) => -v],
    ['abs', E.abs, Math.abs],
    ['exp', E.exp, Math.exp],
    ['expm1', E.expm1, Math.expm1],
    ['square', E.square, (v) => v * v],
    ['sin', E.sin, Math.sin],
    ['cos', E.cos, Math.cos],
    ['tanh', E.tanh, Math.tanh],
    ['sigmoid', E.sigmoid, (v) => 1 / (1 + Math.exp(-v))],
    ['relu', E.relu, (v) => (v > 0 ? v : 0)],
    ['softplus', E.softplus, (v) => Math.log1p(Math.exp(v))],
    ['floor', E.floor, Math.floor],
    ['ceil', E.ceil, Math.ceil],
    ['erf', E.erf, erfReference],
  ]
  for (const [name, f, reference] of cases)
    it(`${name} matches Math on float64`, () => {
      const y = f(f64(xs))
      expect(y.dtype).toBe('float64')
      valuesOf(y).forEach((v, i) => expect(v).toBeCloseTo(reference(xs[i]!), 12))
    })

  const positives = [1e-9, 0.25, 1, 2, 1e6]
  const positiveCases: ReadonlyArray<readonly [string, (x: Tensor) => Tensor, (v: number) => number]> = [
    ['log', E.log, Math.log],
    ['log1p', E.log1p, Math.log1p],
    ['sqrt', E.sqrt, Math.sqrt],
    ['rsqrt', E.rsqrt, (v) => 1 / Math.sqrt(v)],
    ['reciprocal', E.reciprocal, (v) => 1 / v],
  ]
  for (const [name, f, reference] of positiveCases)
    it(`${name} matches Math on positive float64`, () => {
      valuesOf(f(f64(positives))).forEach((v, i) => {
        const want = reference(positives[i]!)
        expect(Math.abs(v - want)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(want)))
      })
    })

  it('sign is -1, 0, 1 with sign(0) = 0', () => {
    expect(valuesOf(E.sign(f64([-2, 0, 3])))).toEqual([-1, 0, 1])
  })

  it('round is half to even', () => {
    expect(valuesOf(E.round(f64([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6])))).toEqual([0, 2, 2, -0, -2, 2, 3])
  })

  it('erf saturates at large |x| and is odd', () => {
    expect(valuesOf(E.erf(f64([-30, -6, 6, 30])))).toEqual([-1, -1, 1, 1])
    const y = valuesOf(E.erf(f64([0.3, -0.3])))
    expect(y[0]).toBeCloseTo(-y[1]!, 15)
  })

  it('log of negatives is NaN and of 0 is -Infinity', () => {
    const y = valuesOf(E.log(f64([-1, 0])))
    expect(y[0]).toBeNaN()
    expect(y[1]).toBe(-Infinity)
  })

  it('keeps int32 for sign-like ops and gives float32 for real-valued ones', () => {
    const x = i32([-2, 0, 3])
    for (const f of [E.neg, E.abs, E.sign, E.square, E.relu, E.floor, E.ceil, E.round])
      expect(f(x).dtype).toBe('int32')
    for (const f of [E.exp, E.expm1, E.log1p, E.sin, E.cos, E.tanh, E.sigmoid, E.softplus, E.erf])
      expect(f(x).dtype).toBe('float32')
    expect(valuesOf(E.square(x))).toEqual([4, 0, 9])
  })

  it('never writes into its input', () => {
    const x = f64([-1.5, 0, 2])
    const before = valuesOf(x)
    for (const f of Object.values(E).filter((v): v is (t: Tensor) => Tensor => typeof v === 'function')) {
      // astype takes a dtype, elementwiseProgram a program (it has its own tests, fuse.test.ts).
      if (f === E.astype || f === (E.elementwiseProgram as unknown)) continue
      // reluGrad(ct, y) takes the cotangent too.
      if (f === (E.reluGrad as unknown)) E.reluGrad(x, x)
      else f(x)
    }
    grad((t: Tensor) => sum(E.tanh(E.exp(t))))(x)
    expect(valuesOf(x)).toEqual(before)
  })
})

describe('elementwise gradient conventions and edge cases', () => {
  it("abs'(0) = 0 and relu'(0) = 0 (PyTorch's conventions)", () => {
    expect(derivative(E.abs, f64([-2, 0, 3]))).toEqual([-1, 0, 1])
    expect(derivative(E.relu, f64([-2, 0, 3]))).toEqual([0, 0, 1])
  })

  it('sign, floor, ceil and round have an exactly zero gradient', () => {
    const x = f64([-1.5, 0, 0.5, 2.2])
    for (const f of [E.sign, E.floor, E.ceil, E.round]) expect(derivative(f, x)).toEqual([0, 0, 0, 0])
  })

  it("sqrt'(0) is +Infinity, as in PyTorch and JAX", () => {
    expect(derivative(E.sqrt, f64([0, 4]))).toEqual([Infinity, 0.25])
  })

  it('sigmoid and softplus are finite at ±1000 and so are their gradients', () => {
    const x = f64([-1000, 1000])
    expect(valuesOf(E.sigmoid(x))).toEqual([0, 1])
    expect(valuesOf(E.softplus(x))).toEqual([0, 1000])
    expect(derivative(E.sigmoid, x)).toEqual([0, 0])
    expect(derivative(E.softplus, x)).toEqual([0, 1])
  })

  it('erf has the derivative (2/√π) e^(−x²), finite far out', () => {
    const x = [-30, -1, 0, 0.5, 30]
    derivative(E.erf, f64(x)).forEach((d, i) =>
      expect(d).toBeCloseTo((2 / Math.sqrt(Math.PI)) * Math.exp(-x[i]! * x[i]!), 14),
    )
  })

  it('second derivatives: (tanh)″ = −2 tanh (1 − tanh²), (sin)″ = −sin, (1/x)″ = 2/x³, (log)″ = −1/x²', () => {
    const x = f64([-1.2, 0.3, 2])
    const second = (f: (t: Tensor) => Tensor): number[] =>
      valuesOf(grad((t: Tensor) => sum(grad((s: Tensor) => sum(f(s)))(t)))(x))
    const points = valuesOf(x)
    second(E.tanh).forEach((v, i) => {
      const t = Math.tanh(points[i]!)
      expect(v).toBeCloseTo(-2 * t * (1 - t * t), 12)
    })
    second(E.sin).forEach((v, i) => expect(v).toBeCloseTo(-Math.sin(points[i]!), 12))
    second(E.reciprocal).forEach((v, i) => expect(v).toBeCloseTo(2 / points[i]! ** 3, 12))
    expect(valuesOf(grad((t: Tensor) => sum(grad((s: Tensor) => sum(E.log(s)))(t)))(f64([0.5, 2])))).toEqual([
      -4, -0.25,
    ])
  })

  it('works on float32 inputs and keeps the gradient float32', () => {
    const x = unsafeTensor('float32', [2], Float32Array.from([0.5, -1]))
    const g = grad((t: Tensor) => sum(E.square(E.sin(t))))(x)
    expect(g.dtype).toBe('float32')
    valuesOf(g).forEach((v, i) => {
      const p = valuesOf(x)[i]!
      expect(v).toBeCloseTo(2 * Math.sin(p) * Math.cos(p), 6)
    })
  })
})

describe('astype', () => {
  it('returns its input unchanged (no op) when the dtype already matches', () => {
    const x = f64([1.5, 2])
    expect(E.astype(x, 'float64')).toBe(x)
    expect(grad((t: Tensor) => sum(E.astype(t, 'float64')))(x).dtype).toBe('float64')
  })

  it('truncates toward zero when casting to int32', () => {
    const y = E.astype(f64([1.7, -1.7, 0.2]), 'int32')
    expect(y.dtype).toBe('int32')
    expect(valuesOf(y)).toEqual([1, -1, 0])
  })

  it('casts the cotangent back to the input dtype', () => {
    const g = grad((t: Tensor) => sum(E.square(E.astype(t, 'float32'))))(f64([0.5, -2]))
    expect(g.dtype).toBe('float64')
    expect(valuesOf(g)).toEqual([1, -4])
  })

  it('passes a zero gradient through a cast to int32', () => {
    const g = grad((t: Tensor) => sum(E.astype(E.astype(t, 'int32'), 'float64')))(f64([0.5, 2.5]))
    expect(valuesOf(g)).toEqual([0, 0])
  })

  it('rejects an unknown dtype with a DTypeError', () => {
    // Deliberately wrong at runtime: a caller without types can pass any string.
    expect(() => E.astype(f64([1]), 'float16' as unknown as 'float32')).toThrow(
      expect.objectContaining({ kind: 'DTypeError' }),
    )
  })
})

describe('reluGrad', () => {
  /** `batch` examples of shape [2,3] stacked along `axis` (example i is the base scaled by 1 + i; signs kept). */
  const stacked = (base: Tensor, axis: number | null, batch: number): Tensor =>
    axis === null
      ? base
      : stack(
          Array.from({ length: batch }, (_, i) => mul(base, 1 + i)),
          axis < 0 ? axis + base.shape.length + 1 : axis,
        )
  const ct = f64([1, 2, 3, 4, 5, 6], [2, 3])
  const y = f64([-1, 2, -3, 4, 0.5, -0.5], [2, 3])
  const axes: ReadonlyArray<number | null> = [0, 1, 2, -1, null]

  // The fused kernel wants operands of one shape: an unmapped operand is repeated along the mapped
  // one's axis and operands mapped along different axes are lined up, for every combination.
  for (const ctAxis of axes)
    for (const yAxis of axes) {
      if (ctAxis === null && yAxis === null) continue
      it(`under vmap with ct mapped along ${String(ctAxis)} and y along ${String(yAxis)} equals the per-example results`, () => {
        const batch = 3
        const got = vmap(E.reluGrad, { inAxes: [ctAxis, yAxis] })(
          stacked(ct, ctAxis, batch),
          stacked(y, yAxis, batch),
        )
        const want = stack(
          Array.from({ length: batch }, (_, i) =>
            E.reluGrad(ctAxis === null ? ct : mul(ct, 1 + i), yAxis === null ? y : mul(y, 1 + i)),
          ),
        )
        expect(got.shape).toEqual(want.shape)
        expect(valuesOf(got)).toEqual(valuesOf(want))
      })
    }

  it('under vmap(grad) gives the per-example mask with y shared', () => {
    const g = grad((c: Tensor, m: Tensor) => sum(mul(E.reluGrad(c, m), c)))
    const cts = stacked(ct, 0, 2)
    const got = vmap(g, { inAxes: [0, null] })(cts, y)
    const want = stack([g(ct, y), g(mul(ct, 2), y)])
    expect(valuesOf(got)).toEqual(valuesOf(want))
  })

  it('rejects operands of different shapes with a ShapeError, also when the dtypes differ', () => {
    // Mixed dtypes take the composed (broadcasting) path, so without the check this broadcast silently.
    expect(() => E.reluGrad(f64([1, 2, 3, 4, 5, 6], [2, 3]), i32([1, -1, 1]))).toThrow(
      expect.objectContaining({ kind: 'ShapeError' }),
    )
    expect(() => E.reluGrad(f64([1, 2, 3]), f64([1, -1, 1], [3, 1]))).toThrow(
      expect.objectContaining({ kind: 'ShapeError' }),
    )
  })

  it('takes a mixed-dtype mask: float ct, int32 y', () => {
    expect(valuesOf(E.reluGrad(f64([5, 6, 7]), i32([-1, 0, 2])))).toEqual([0, 0, 7])
  })
})

describe('zero-VJP ops under vmap', () => {
  it('sign, floor, ceil, round and a cast to int32 stay mapped and keep an exactly zero per-example gradient', () => {
    const values = [-1.5, 0.3, 2.7, -0.2, 1.1, -3.6]
    const xs = f64(values, [3, 2])
    // Mapped along axis 1, example j is column j.
    const column = (j: number): Tensor => f64([values[j] ?? NaN, values[2 + j] ?? NaN, values[4 + j] ?? NaN])
    for (const f of [
      E.sign,
      E.floor,
      E.ceil,
      E.round,
      (t: Tensor) => E.astype(E.astype(t, 'int32'), 'float64'),
    ]) {
      // d/dt Σ f(t) t = f(t) where f is piecewise constant.
      const g = grad((t: Tensor) => sum(mul(f(t), t)))
      const got = vmap(g, { inAxes: [1] })(xs)
      expect(got.shape).toEqual([2, 3])
      const want = stack([f(column(0)), f(column(1))])
      // The zero cotangent is added to ceil(−0.2) = −0: compare values, not the sign of zero.
      expect(valuesOf(got).map((v) => v + 0)).toEqual(valuesOf(want).map((v) => v + 0))
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
const eagerOutcome = (f: (...xs: Tensor[]) => Tensor, args: Tensor[]): Outcome => outcomeOf(() => f(...args))
/** `f` staged on abstract values shaped like `args` (reading their data throws): its one output's aval. */
const stagedOutcome = (f: (...xs: Tensor[]) => Tensor, args: Tensor[]): Outcome =>
  outcomeOf(() => {
    const graph = makeGraph(f)(...args)
    expect(graph.outputs).toHaveLength(1)
    return graph.outputs[0]!
  })

describe('shape and dtype rules of the elementwise ops (staging)', () => {
  const dtypes: ReadonlyArray<DType> = ['int32', 'float32', 'float64']
  const shapes: ReadonlyArray<ReadonlyArray<number>> = [[], [2, 3], [0, 4]]
  const unaryNames = [
    'neg',
    'abs',
    'sign',
    'exp',
    'expm1',
    'log',
    'log1p',
    'sqrt',
    'rsqrt',
    'square',
    'reciprocal',
    'sin',
    'cos',
    'tanh',
    'sigmoid',
    'relu',
    'softplus',
    'floor',
    'ceil',
    'round',
    'erf',
    'tan',
    'asin',
    'acos',
    'atan',
    'sinh',
    'cosh',
    'isnan',
    'isfinite',
  ] as const
  interface Case {
    readonly op: string
    readonly label: string
    readonly fn: (...xs: Tensor[]) => Tensor
    readonly args: Tensor[]
  }
  const each = (f: (dtype: DType, shape: ReadonlyArray<number>) => Case[]): Case[] =>
    dtypes.flatMap((dtype) => shapes.flatMap((shape) => f(dtype, shape)))
  const at = (dtype: DType, shape: ReadonlyArray<number>): string => `${dtype}[${shape.join(',')}]`
  const cases: Case[] = [
    ...each((dtype, shape) =>
      unaryNames.map((op) => ({ op, label: at(dtype, shape), fn: E[op], args: [zeros(shape, dtype)] })),
    ),
    ...each((dtype, shape) =>
      dtypes.map((to) => ({
        op: 'astype',
        label: `${at(dtype, shape)} -> ${to}`,
        fn: (x: Tensor) => E.astype(x, to),
        args: [zeros(shape, dtype)],
      })),
    ),
    ...each((dtype, shape) => [
      { op: 'stopGradient', label: at(dtype, shape), fn: E.stopGradient, args: [zeros(shape, dtype)] },
    ]),
    // The fused kernel for floats of one dtype, the composed path for the others.
    ...each((ctDtype, shape) =>
      dtypes.map((yDtype) => ({
        op: 'reluGrad',
        label: `ct ${at(ctDtype, shape)}, y ${yDtype}`,
        fn: E.reluGrad,
        args: [zeros(shape, ctDtype), zeros(shape, yDtype)],
      })),
    ),
    // The op itself (not its wrapper, which checks the shapes first): the kernels' errors and broadcasting.
    ...(
      [
        ['float32', [2], 'float32', [3]],
        ['float64', [2, 3], 'float32', [2, 3]],
        ['float32', [2, 1], 'int32', [3]],
        ['int32', [2], 'float64', [3]],
      ] as const
    ).map(([ctDtype, ctShape, yDtype, yShape]) => ({
      op: 'reluGrad',
      label: `the op on ct ${at(ctDtype, ctShape)}, y ${at(yDtype, yShape)}`,
      fn: (ct: Tensor, y: Tensor) => applyOp(E.reluGradOp, [ct, y], undefined),
      args: [zeros(ctShape, ctDtype), zeros(yShape, yDtype)],
    })),
    // A two-input program: broadcasting, and the kernel's errors (int32, mixed dtypes, bad shapes).
    ...(
      [
        ['float32', [2, 3], 'float32', [3]],
        ['float64', [], 'float64', [2, 1]],
        ['int32', [2], 'int32', [2]],
        ['float32', [2], 'float64', [2]],
        ['float32', [2], 'float32', [3]],
      ] as const
    ).map(([aDtype, aShape, bDtype, bShape]) => ({
      op: 'elementwiseProgram',
      label: `exp(a) · b on a ${at(aDtype, aShape)}, b ${at(bDtype, bShape)}`,
      fn: (a: Tensor, b: Tensor) =>
        E.elementwiseProgram(
          {
            arity: 2,
            instructions: [
              { kind: 'unary', op: 'exp', x: 0 },
              { kind: 'binary', op: 'mul', a: 2, b: 1 },
            ],
          },
          [a, b],
        ),
      args: [zeros(aShape, aDtype), zeros(bShape, bDtype)],
    })),
  ]

  for (const { op, label, fn, args } of cases)
    it(`${op} ${label}: staged as eager mode computes it`, () => {
      expect(stagedOutcome(fn, args)).toEqual(eagerOutcome(fn, args))
    })

  it('covers every elementwise op', () => {
    const covered = new Set(cases.map((c) => c.op))
    expect(Object.keys(elementwiseOps).filter((name) => !covered.has(name))).toEqual([])
  })

  it('gives float32 for int32 input to the real-valued ops and keeps the dtype of the others', () => {
    const staged = (f: (x: Tensor) => Tensor): Outcome => stagedOutcome(f, [zeros([2], 'int32')])
    expect(staged(E.exp)).toEqual({ shape: [2], dtype: 'float32' })
    expect(staged(E.softplus)).toEqual({ shape: [2], dtype: 'float32' })
    expect(staged(E.abs)).toEqual({ shape: [2], dtype: 'int32' })
  })

  it('fails while staging as eager mode does: reluGrad of two shapes, astype to an unknown dtype', () => {
    const mismatched = (ct: Tensor, y: Tensor): Tensor => applyOp(E.reluGradOp, [ct, y], undefined)
    const args = [zeros([2], 'float32'), zeros([3], 'float32')]
    expect(stagedOutcome(mismatched, args)).toMatchObject({ error: 'ShapeError', op: 'reluGrad' })
    expect(stagedOutcome(mismatched, args)).toEqual(eagerOutcome(mismatched, args))
    // Deliberately wrong at runtime: a caller without types can pass any string.
    const toHalf = (x: Tensor): Tensor => E.astype(x, 'float16' as unknown as DType)
    expect(stagedOutcome(toHalf, [f64([1])])).toMatchObject({ error: 'DTypeError', op: 'astype' })
    expect(stagedOutcome(toHalf, [f64([1])])).toEqual(eagerOutcome(toHalf, [f64([1])]))
  })
})

describe('trigonometric, hyperbolic and predicate ops against their formulas', () => {
  // References by identities the kernels do not use: Math.tan etc. would repeat the kernels' calls.
  const xs = [-0.95, -0.5, -1e-8, 0, 1e-8, 0.3, 0.9]
  const close = (y: Tensor, reference: (v: number) => number, input = xs): void => {
    expect(y.dtype).toBe('float64')
    valuesOf(y).forEach((v, i) => expect(v).toBeCloseTo(reference(input[i]!), 12))
  }
  /** atan by its series after two argument halvings (|x| ≤ 1 → |t| ≤ 0.2): 4·atan(t)… */
  const atanSeries = (x: number): number => {
    let t = x
    for (let k = 0; k < 2; k++) t = t / (1 + Math.sqrt(1 + t * t))
    let sum = 0
    for (let n = 0, p = t; n < 40; n++, p *= -t * t) sum += p / (2 * n + 1)
    return 4 * sum
  }
  it('tan = sin / cos', () => close(E.tan(f64(xs)), (v) => Math.sin(v) / Math.cos(v)))
  it('asin and acos invert sin and cos, acos = π/2 − asin', () => {
    close(E.asin(f64(xs.map(Math.sin))), (v) => v)
    close(E.acos(f64(xs)), (v) => Math.PI / 2 - atanSeries(v / Math.sqrt(1 - v * v)))
  })
  it('atan by its series', () => close(E.atan(f64(xs)), atanSeries))
  it('sinh and cosh by exponentials', () => {
    const wide = [-3, -0.5, 0, 0.25, 2]
    close(E.sinh(f64(wide)), (v) => (Math.exp(v) - Math.exp(-v)) / 2, wide)
    close(E.cosh(f64(wide)), (v) => (Math.exp(v) + Math.exp(-v)) / 2, wide)
  })
  it('asin and acos are NaN outside [-1, 1]; real-valued ops give float32 for int32', () => {
    expect(valuesOf(E.asin(f64([1.5, -2]))).every(Number.isNaN)).toBe(true)
    expect(valuesOf(E.acos(f64([1.5]))).every(Number.isNaN)).toBe(true)
    for (const f of [E.tan, E.asin, E.acos, E.atan, E.sinh, E.cosh])
      expect(f(i32([0, 1])).dtype).toBe('float32')
  })
  it('atan2 by quadrant from atan(a / b)', () => {
    const as = [1, 1, -1, -1, 0.5, 0, 2]
    const bs = [1, -1, -1, 1, 0, -3, 0.1]
    // Written out per point: the angle of (b, a).
    const expected = [
      Math.PI / 4,
      (3 * Math.PI) / 4,
      (-3 * Math.PI) / 4,
      -Math.PI / 4,
      Math.PI / 2,
      Math.PI,
      Math.PI / 2 - atanSeries(0.05),
    ]
    const y = B.atan2(f64(as), f64(bs))
    valuesOf(y).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 12))
    expect(B.atan2(i32([1]), i32([1])).dtype).toBe('float32')
  })
  it('isnan and isfinite on special values and int32', () => {
    const special = f64([0, -0, 1, NaN, Infinity, -Infinity, 1e308])
    expect(valuesOf(E.isnan(special))).toEqual([0, 0, 0, 1, 0, 0, 0])
    expect(valuesOf(E.isfinite(special))).toEqual([1, 1, 1, 0, 0, 0, 1])
    expect(E.isnan(special).dtype).toBe('int32')
    expect(valuesOf(E.isnan(i32([3, -1])))).toEqual([0, 0])
    expect(valuesOf(E.isfinite(i32([3, -1])))).toEqual([1, 1])
    expect(valuesOf(E.isfinite(unsafeTensor('float32', [2], Float32Array.from([Infinity, 2]))))).toEqual([
      0, 1,
    ])
  })
})
