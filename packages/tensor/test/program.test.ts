import { describe, it, expect } from 'vitest'
import { DTypeError, ShapeError, ValueError } from '../src/errors'
import { setBackend, type ArithmeticOp, type ElementwiseProgram, type UnaryOp } from '../src/backend'
import { referenceBackend } from '../src/backends/reference/index'
import { wasmAvailable, wasmBackend } from '../src/backends/wasm/index'
import { wasmRunsProgram } from '../src/backends/wasm/program'
import { unsafeTensor, type Tensor } from '../src/tensor'
import { tensor } from '../src/create'
import {
  PROGRAM_UNARY_OPS,
  elementwiseProgram,
  programOutput,
  programScalar,
  programText,
} from '../src/kernels/program'
import * as U from '../src/kernels/unary'
import * as B from '../src/kernels/binary'
import { backends } from './backends'

const UNARY: ReadonlyArray<UnaryOp> = PROGRAM_UNARY_OPS
const ARITHMETIC: ReadonlyArray<ArithmeticOp> = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum']

// Values where the formulas differ if anything drifts: signed zeros, infinities, NaN, halves, large.
const SPECIAL = [
  0,
  -0,
  0.5,
  -0.5,
  1.5,
  2.5,
  -2.5,
  1,
  -1,
  3.7,
  -3.7,
  1e-9,
  40,
  -40,
  800,
  -800,
  Infinity,
  -Infinity,
  NaN,
]

const f64 = (values: ReadonlyArray<number>, shape: ReadonlyArray<number> = [values.length]): Tensor =>
  unsafeTensor('float64', shape, Float64Array.from(values))

const data = (x: Tensor): number[] => Array.from(x.data)

/** The element-by-element result of `program` as the same ops would compute it one by one. */
const unaryProgram = (op: UnaryOp): ElementwiseProgram => ({
  arity: 1,
  instructions: [{ kind: 'unary', op, x: 0 }],
})
const binaryProgram = (op: ArithmeticOp): ElementwiseProgram => ({
  arity: 2,
  instructions: [{ kind: 'binary', op, a: 0, b: 1 }],
})

const UNARY_KERNELS: Readonly<Record<UnaryOp, (x: Tensor) => Tensor>> = U
const BINARY_KERNELS: Readonly<Record<ArithmeticOp, (a: Tensor, b: Tensor) => Tensor>> = B

describe.each(backends)('elementwiseProgram on the %s backend', (_name, backend) => {
  const run = <R>(f: () => R): R => {
    setBackend(backend)
    try {
      return f()
    } finally {
      setBackend(undefined)
    }
  }

  it.each(UNARY)('one %s step equals the unary kernel bit for bit (float64, special values)', (op) => {
    const x = f64(SPECIAL)
    const [fused, eager] = run(() => [elementwiseProgram(unaryProgram(op), [x]), UNARY_KERNELS[op](x)])
    data(fused).forEach((v, i) => expect(Object.is(v, eager.data[i])).toBe(true))
  })

  it.each(ARITHMETIC)('one %s step equals the binary kernel bit for bit (float64, special values)', (op) => {
    const a = f64(SPECIAL.flatMap((v) => SPECIAL.map(() => v)))
    const b = f64(SPECIAL.flatMap(() => SPECIAL))
    const [fused, eager] = run(() => [
      elementwiseProgram(binaryProgram(op), [a, b]),
      BINARY_KERNELS[op](a, b),
    ])
    data(fused).forEach((v, i) => expect(Object.is(v, eager.data[i])).toBe(true))
  })

  it('broadcasts inputs of every rank against the output, with constants, across several blocks', () => {
    // (x · c + y) with x [3, 1, 700], c scalar, y [5, 1]: output [3, 5, 700], more than one block.
    const xs = Array.from({ length: 3 * 700 }, (_, i) => Math.sin(i))
    const ys = [1, 2, 3, 4, 5]
    const x = f64(xs, [3, 1, 700])
    const y = f64(ys, [5, 1])
    const program: ElementwiseProgram = {
      arity: 3,
      instructions: [
        { kind: 'binary', op: 'mul', a: 0, b: 2 }, // 3
        { kind: 'binary', op: 'add', a: 3, b: 1 }, // 4
        { kind: 'constant', value: 0.25 }, // 5
        { kind: 'binary', op: 'maximum', a: 4, b: 5 }, // 6
      ],
    }
    const out = run(() => elementwiseProgram(program, [x, y, f64([3], [])]))
    expect(out.shape).toEqual([3, 5, 700])
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 5; j++)
        for (let k = 0; k < 700; k++)
          expect(out.data[(i * 5 + j) * 700 + k]).toBe(Math.max(xs[i * 700 + k]! * 3 + ys[j]!, 0.25))
  })

  it('rounds a float32 chain once: within an ulp or two of the ops run one by one', () => {
    const x = tensor(Array.from({ length: 2000 }, (_, i) => (i - 1000) / 97))
    const program: ElementwiseProgram = {
      arity: 1,
      instructions: [
        { kind: 'unary', op: 'tanh', x: 0 }, // 1
        { kind: 'unary', op: 'exp', x: 1 }, // 2
        { kind: 'binary', op: 'mul', a: 2, b: 0 }, // 3
        { kind: 'unary', op: 'sigmoid', x: 3 }, // 4
      ],
    }
    const [fused, eager] = run(() => [
      elementwiseProgram(program, [x]),
      U.sigmoid(B.mul(U.exp(U.tanh(x)), x)),
    ])
    expect(fused.dtype).toBe('float32')
    const exact = Array.from(x.data, (v) => {
      const t = Math.exp(Math.tanh(v)) * v
      return 1 / (1 + Math.exp(-t))
    })
    data(fused).forEach((v, i) => {
      // Rounded once: the correctly rounded float32 of the float64 chain.
      expect(v).toBe(Math.fround(exact[i]!))
      expect(Math.abs(v - eager.data[i]!)).toBeLessThan(1e-6)
    })
  })

  it('gives an empty output for an empty broadcast shape', () => {
    const out = run(() => elementwiseProgram(unaryProgram('exp'), [f64([], [0, 3])]))
    expect(out.shape).toEqual([0, 3])
    expect(out.data.length).toBe(0)
  })
})

describe('elementwiseProgram registers on the reference backend', () => {
  // (x + s) · x over a whole x and a scalar s: registers for x, s, the constant, two steps.
  const program: ElementwiseProgram = {
    arity: 2,
    instructions: [
      { kind: 'binary', op: 'add', a: 0, b: 1 },
      { kind: 'binary', op: 'mul', a: 2, b: 0 },
    ],
  }
  const run = (xs: ReadonlyArray<number> | Tensor, s: number | Tensor): Tensor => {
    const inputs = [Array.isArray(xs) ? f64(xs) : (xs as Tensor), typeof s === 'number' ? f64([s], []) : s]
    setBackend(referenceBackend)
    try {
      return elementwiseProgram(program, inputs)
    } finally {
      setBackend(undefined)
    }
  }
  const expected = (xs: ReadonlyArray<number>, s: number): number[] => xs.map((x) => (x + s) * x)

  it('allocates no registers when the same program runs again on no more elements', () => {
    run([1, 2, 3, 4], 0.5)
    const x = f64([5, 6, 7])
    const scalar = f64([-1], [])
    let made = 0
    const Original = globalThis.Float64Array
    globalThis.Float64Array = new Proxy(Original, {
      construct(target, args, newTarget) {
        made++
        return Reflect.construct(target, args, newTarget) as object
      },
    })
    let out: Tensor
    try {
      out = run(x, scalar)
    } finally {
      globalThis.Float64Array = Original
    }
    // One allocation: the output itself (a float64 result); none for the five registers.
    expect(made).toBe(1)
    expect(data(out)).toEqual(expected([5, 6, 7], -1))
  })

  it('gives each call its own values when reused registers held another call’s (larger, then smaller, then larger)', () => {
    const big = Array.from({ length: 2500 }, (_, i) => Math.cos(i) * 10)
    expect(data(run(big, 2))).toEqual(expected(big, 2))
    expect(data(run([9, -9], 3))).toEqual(expected([9, -9], 3))
    const other = big.map((v) => -v / 3)
    expect(data(run(other, -4))).toEqual(expected(other, -4))
  })
})

describe('elementwiseProgram errors', () => {
  it('refuses int32 and mixed dtypes, saying to cast', () => {
    expect(() => elementwiseProgram(unaryProgram('exp'), [tensor([1], 'int32')])).toThrow(DTypeError)
    expect(() => elementwiseProgram(binaryProgram('add'), [tensor([1]), tensor([1], 'float64')])).toThrow(
      /astype/,
    )
  })

  it('refuses inputs that do not broadcast, naming the shapes', () => {
    expect(() => elementwiseProgram(binaryProgram('add'), [tensor([1, 2]), tensor([1, 2, 3])])).toThrow(
      ShapeError,
    )
  })

  it('refuses malformed programs', () => {
    expect(() => elementwiseProgram({ arity: 1, instructions: [] }, [tensor([1])])).toThrow(ValueError)
    expect(() =>
      elementwiseProgram({ arity: 1, instructions: [{ kind: 'unary', op: 'exp', x: 1 }] }, [tensor([1])]),
    ).toThrow(/value 1/)
    expect(() => elementwiseProgram(unaryProgram('exp'), [tensor([1]), tensor([2])])).toThrow(
      /takes 1 inputs/,
    )
    const comparison = { arity: 2, instructions: [{ kind: 'binary', op: 'less', a: 0, b: 1 }] }
    // A program from untyped data (JSON) can name any op; the kernel refuses what it cannot run.
    expect(() =>
      programOutput(comparison as unknown as ElementwiseProgram, [tensor([1]), tensor([1])]),
    ).toThrow(/not an arithmetic/)
  })

  it('prints programs as text that tells programs apart', () => {
    expect(programText(binaryProgram('add'))).toBe('(2) add a0 a1')
    expect(programText(binaryProgram('sub'))).not.toBe(programText(binaryProgram('add')))
    const constant = (value: number): ElementwiseProgram => ({
      arity: 0,
      instructions: [{ kind: 'constant', value }],
    })
    expect(programText(constant(-0))).not.toBe(programText(constant(0)))
    expect(programText(constant(NaN))).not.toBe(programText(constant(Infinity)))
  })
})

describe.runIf(wasmAvailable())('elementwiseProgram on generated wasm code', () => {
  // Float32 data with the special values mixed in, an odd length (the last pair is half used).
  const float32s = (seed: number, n: number): Tensor => {
    const data = new Float32Array(n)
    for (let i = 0; i < n; i++)
      data[i] = i < SPECIAL.length ? SPECIAL[(i + seed) % SPECIAL.length]! : Math.sin(i * seed) * 3
    return unsafeTensor('float32', [n], data)
  }
  const EXACT_UNARY: ReadonlyArray<UnaryOp> = [
    'neg',
    'abs',
    'sqrt',
    'rsqrt',
    'square',
    'reciprocal',
    'relu',
    'floor',
    'ceil',
    'round',
    'sign',
  ]
  // Steps the generated code computes with its own float64 functions (wasm/math.ts).
  const APPROXIMATE_UNARY: ReadonlyArray<UnaryOp> = [
    'exp',
    'expm1',
    'log',
    'log1p',
    'tanh',
    'sigmoid',
    'softplus',
    'sin',
    'cos',
    'erf',
  ]
  /** Float32 ulps between two float32 values (0 for identical specials, Infinity for a special mismatch). */
  const f32Ulps = (a: number, b: number): number => {
    if (Object.is(a, b)) return 0
    if (!Number.isFinite(a) || !Number.isFinite(b) || a === b) return Infinity
    const bits = new Int32Array(new Float32Array([a, b]).buffer)
    const ordered = (i: number): number => (bits[i]! < 0 ? -(bits[i]! & 0x7fffffff) : bits[i]!)
    return Math.abs(ordered(0) - ordered(1))
  }
  /** A float32 sweep: the special values, ±(1e-30 … 1e3) geometrically, a dense grid near zero. */
  const wide = (): Tensor => {
    const xs: number[] = [
      ...SPECIAL,
      1e-45,
      -1e-45,
      1.17549435e-38,
      3.4e38,
      -3.4e38,
      88.72,
      88.73,
      -103.9,
      -87.3,
    ]
    for (let e = -30; e <= 3; e += 0.005) xs.push(10 ** e, -(10 ** e))
    for (let i = -30000; i <= 30000; i++) xs.push(i / 1009)
    return unsafeTensor('float32', [xs.length], Float32Array.from(xs))
  }
  const EXACT_BINARY: ReadonlyArray<ArithmeticOp> = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum']
  const same = (wasm: Tensor, reference: Tensor): void => {
    expect(wasm.shape).toEqual(reference.shape)
    data(wasm).forEach((v, i) => expect(Object.is(v, reference.data[i]), `element ${i}`).toBe(true))
  }
  const both = (program: ElementwiseProgram, inputs: ReadonlyArray<Tensor>, shape: ReadonlyArray<number>) => {
    expect(wasmRunsProgram(program, inputs, shape, 'float32')).toBe(true)
    same(
      wasmBackend.elementwiseProgram(program, inputs, shape, 'float32'),
      referenceBackend.elementwiseProgram(program, inputs, shape, 'float32'),
    )
  }

  it.each(EXACT_UNARY)('%s: bit for bit the reference', (op) =>
    both(unaryProgram(op), [float32s(1, 301)], [301]),
  )
  it('repeated trailing rows (a bias against a batch), odd and even row lengths: bit for bit the reference', () => {
    const program: ElementwiseProgram = {
      arity: 3,
      instructions: [
        { kind: 'binary', op: 'mul', a: 0, b: 1 }, // 3
        { kind: 'binary', op: 'add', a: 3, b: 2 }, // 4
        { kind: 'unary', op: 'tanh', x: 4 }, // 5
      ],
    }
    for (const [rows, cols] of [
      [37, 5],
      [16, 8],
      [9, 33],
      [64, 1],
    ] as const) {
      const x = unsafeTensor('float32', [rows, cols], float32s(2, rows * cols).data)
      const w = unsafeTensor('float32', [cols], float32s(3, cols).data)
      const b = unsafeTensor('float32', [1, cols], float32s(4, cols).data)
      expect(wasmRunsProgram(program, [x, w, b], [rows, cols], 'float32')).toBe(true)
      const got = wasmBackend.elementwiseProgram(program, [x, w, b], [rows, cols], 'float32')
      data(got).forEach((v, i) => {
        const t = Math.tanh(x.data[i]! * w.data[i % cols]! + b.data[i % cols]!)
        expect(Object.is(v, Math.fround(t)) || f32Ulps(v, Math.fround(t)) <= 1, `element ${i}`).toBe(true)
      })
    }
    // A [1, h, w] plane against [b, c, h, w], exact steps: bit for bit.
    const plane = unsafeTensor('float32', [1, 3, 7], float32s(5, 21).data)
    both(
      binaryProgram('sub'),
      [float32s(6, 2 * 4 * 21), plane].map((t, k) =>
        k === 0 ? unsafeTensor('float32', [2, 4, 3, 7], t.data) : t,
      ),
      [2, 4, 3, 7],
    )
  })
  it.each(APPROXIMATE_UNARY)(
    '%s: within one float32 ulp of Math.* in float64 rounded once, over a wide sweep with extremes',
    (op) => {
      // sin and cos within their reduction range (a call with a lane beyond it runs on the reference).
      const trig = op === 'sin' || op === 'cos'
      const inRange = wide().data.filter((v) => !trig || !(Math.abs(v) > 1e6))
      const x = unsafeTensor('float32', [inRange.length], inRange)
      const shape = x.shape
      expect(wasmRunsProgram(unaryProgram(op), [x], shape, 'float32')).toBe(true)
      const got = wasmBackend.elementwiseProgram(unaryProgram(op), [x], shape, 'float32')
      // The reference loop is Math.* in float64, rounded once: the definition the tolerance is about.
      const reference = referenceBackend.elementwiseProgram(unaryProgram(op), [x], shape, 'float32')
      let different = 0
      data(got).forEach((v, i) => {
        const ulps = f32Ulps(v, reference.data[i]!)
        expect(ulps, `${op}(${x.data[i]}): ${v} vs ${reference.data[i]}`).toBeLessThanOrEqual(1)
        if (ulps !== 0) different++
      })
      // Off by one only where the float64 value lies a few float64 ulps from a rounding boundary: rare.
      expect(different).toBeLessThan(x.data.length / 10000)
    },
  )
  it('sin and cos of a call with a lane beyond 1e6: the whole call on the reference, bit for bit', () => {
    const x = float32s(9, 300)
    const big = unsafeTensor(
      'float32',
      [300],
      Float32Array.from(x.data, (v, i) => (i === 150 ? 1e22 : i === 151 ? 3e7 : v)),
    )
    for (const op of ['sin', 'cos'] as const) both(unaryProgram(op), [big], [300])
  })
  it('a fused chain with activations (x · w + b, tanh, sigmoid, softplus) stays within a few ulps of eager', () => {
    const n = 4099
    const x = float32s(3, n)
    const w = float32s(5, n)
    const b = unsafeTensor('float32', [], Float32Array.of(0.125))
    const program: ElementwiseProgram = {
      arity: 3,
      instructions: [
        { kind: 'binary', op: 'mul', a: 0, b: 1 }, // 3
        { kind: 'binary', op: 'add', a: 3, b: 2 }, // 4
        { kind: 'unary', op: 'tanh', x: 4 }, // 5
        { kind: 'unary', op: 'sigmoid', x: 5 }, // 6
        { kind: 'unary', op: 'softplus', x: 6 }, // 7
      ],
    }
    const shape = [n]
    expect(wasmRunsProgram(program, [x, w, b], shape, 'float32')).toBe(true)
    const fused = wasmBackend.elementwiseProgram(program, [x, w, b], shape, 'float32')
    setBackend(wasmBackend)
    try {
      const eager = U.softplus(U.sigmoid(U.tanh(B.add(B.mul(x, w), b))))
      data(fused).forEach((v, i) => expect(f32Ulps(v, eager.data[i]!), `element ${i}`).toBeLessThanOrEqual(3))
    } finally {
      setBackend(undefined)
    }
    // And against the formula in float64, rounded once.
    data(fused).forEach((v, i) => {
      const t = Math.tanh(x.data[i]! * w.data[i]! + 0.125)
      const s = 1 / (1 + Math.exp(-t))
      expect(f32Ulps(v, Math.fround(Math.log1p(Math.exp(s))))).toBeLessThanOrEqual(1)
    })
  })
  it.each(EXACT_BINARY)('%s: bit for bit the reference, whole and scalar operands', (op) => {
    both(binaryProgram(op), [float32s(1, 301), float32s(2, 301)], [301])
    both(binaryProgram(op), [float32s(3, 301), unsafeTensor('float32', [], Float32Array.of(-0.75))], [301])
  })
  it('a chain with constants and a shared value: bit for bit the reference, and cached per program', () => {
    const program: ElementwiseProgram = {
      arity: 2,
      instructions: [
        { kind: 'constant', value: 0.1 }, // 2
        { kind: 'binary', op: 'mul', a: 0, b: 2 }, // 3
        { kind: 'binary', op: 'add', a: 3, b: 1 }, // 4
        { kind: 'unary', op: 'square', x: 4 }, // 5
        { kind: 'binary', op: 'div', a: 5, b: 3 }, // 6
        { kind: 'unary', op: 'relu', x: 6 }, // 7
      ],
    }
    both(program, [float32s(4, 1000), float32s(5, 1000)], [1000])
    both(program, [float32s(6, 77), float32s(7, 77)], [77])
  })
  it('caches one module per program: constants that JSON would confuse (NaN, Infinity, 0, -0) stay apart', () => {
    const x = float32s(8, 200)
    for (const value of [Infinity, NaN, 0, -0, -Infinity]) {
      const program: ElementwiseProgram = {
        arity: 1,
        instructions: [
          { kind: 'constant', value }, // 1
          { kind: 'binary', op: 'div', a: 0, b: 1 }, // 2: ±Inf for ±0, NaN for NaN
          { kind: 'binary', op: 'minimum', a: 2, b: 1 }, // 3
        ],
      }
      both(program, [x], [200])
    }
  })

  it('leaves other steps, dtypes, broadcasts and small sizes to the reference', () => {
    const x = float32s(1, 300)
    expect(wasmRunsProgram(unaryProgram('atan'), [x], [300], 'float32')).toBe(false)
    expect(wasmRunsProgram(binaryProgram('pow'), [x, x], [300], 'float32')).toBe(false)
    expect(wasmRunsProgram(unaryProgram('neg'), [f64(Array.from(x.data))], [300], 'float64')).toBe(false)
    expect(wasmRunsProgram(unaryProgram('neg'), [float32s(1, 10)], [10], 'float32')).toBe(false)
    const column = unsafeTensor('float32', [100, 1], new Float32Array(100))
    expect(wasmRunsProgram(binaryProgram('add'), [float32s(1, 300), column], [100, 3], 'float32')).toBe(false)
    // Rows of two different lengths.
    const row3 = unsafeTensor('float32', [3], Float32Array.of(1, 2, 3))
    const row6 = unsafeTensor('float32', [2, 3], new Float32Array(6))
    const three = {
      arity: 3,
      instructions: [
        { kind: 'binary', op: 'add', a: 0, b: 1 },
        { kind: 'binary', op: 'add', a: 3, b: 2 },
      ],
    } as const
    expect(wasmRunsProgram(three, [float32s(1, 600), row3, row6], [100, 2, 3], 'float32')).toBe(false)
  })
})

describe('programScalar', () => {
  it('gives elementwiseProgram on scalars bit for bit, every unary and arithmetic step on special values', () => {
    for (const op of UNARY)
      for (const v of SPECIAL) {
        const want = elementwiseProgram(unaryProgram(op), [f64([v], [])]).data[0]!
        expect(Object.is(programScalar(unaryProgram(op), [v]), want), `${op}(${v})`).toBe(true)
      }
    for (const op of ARITHMETIC)
      for (const a of SPECIAL)
        for (const b of SPECIAL) {
          const want = elementwiseProgram(binaryProgram(op), [f64([a], []), f64([b], [])]).data[0]!
          expect(Object.is(programScalar(binaryProgram(op), [a, b]), want), `${op}(${a}, ${b})`).toBe(true)
        }
  })

  it('runs constants and chains unrounded (float64), and rejects a wrong number of values', () => {
    // 1 - 0.9^t, Adam's bias correction
    const correction: ElementwiseProgram = {
      arity: 1,
      instructions: [
        { kind: 'constant', value: 0.9 },
        { kind: 'binary', op: 'pow', a: 1, b: 0 },
        { kind: 'constant', value: 1 },
        { kind: 'binary', op: 'sub', a: 3, b: 2 },
      ],
    }
    for (const t of [1, 2, 17, 1350])
      expect(programScalar(correction, [t])).toBe(elementwiseProgram(correction, [f64([t], [])]).data[0])
    expect(programScalar(correction, [3])).toBe(1 - Math.pow(0.9, 3))
    expect(() => programScalar(correction, [])).toThrow(ValueError)
  })
})
