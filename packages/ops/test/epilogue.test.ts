import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Backend, Tensor } from '@backfold/tensor'
import {
  add,
  fuseEpilogues,
  grad,
  jit,
  makeGraph,
  matmul,
  matmulEpilogue,
  mean,
  mul,
  optimize,
  relu,
  square,
  sub,
  sum,
  tanh,
  type Graph,
} from '@backfold/ops'
import { filled } from './filled'

// Matmul epilogue fusion: the pass on graphs in isolation, the fused kernel's values against the
// formula computed here in float64, and jit(grad(mlp)) against eager gradients, on every backend.

const backends: ReadonlyArray<readonly [string, Backend]> = [
  ['reference', T.referenceBackend],
  ...(T.wasmAvailable() ? [['wasm', T.wasmBackend] as const] : []),
]

const f32 = (v: number): number => Math.fround(v)

/** op(A)[i, k] of a row-major matrix stored [rows, cols], read transposed when `t`. */
const at = (x: Tensor, t: boolean, i: number, k: number, offset = 0): number => {
  const cols = x.shape[x.shape.length - 1]!
  return x.data[offset + (t ? k * cols + i : i * cols + k)]!
}

const expectNear = (
  actual: Tensor,
  expected: ArrayLike<number>,
  shape: ReadonlyArray<number>,
  tol = 2e-5,
): void => {
  expect(actual.shape).toEqual(shape)
  expect(actual.data.length).toBe(expected.length)
  // The first element out of tolerance, if any (one assertion: these products have 90k elements).
  let worst = -1
  for (let i = 0; i < expected.length && worst < 0; i++)
    if (!(Math.abs(actual.data[i]! - expected[i]!) <= tol * (1 + Math.abs(expected[i]!)))) worst = i
  expect(worst < 0 ? 'all close' : `element ${worst}: ${actual.data[worst]} vs ${expected[worst]}`).toBe(
    'all close',
  )
}

const opsIn = (g: Graph): string[] => g.equations.map((eq) => eq.op.name)

describe('the epilogue pass on graphs', () => {
  const x = filled(1, [8, 16])
  const w = filled(2, [12, 16])
  const b = filled(3, [12])

  it('fuses a dense layer (matmul, bias add, ReLU) into one matmulEpilogue', () => {
    const dense = (x: Tensor, w: Tensor, b: Tensor): Tensor =>
      relu(add(matmul(x, w, { transposeB: true }), b))
    const fused = fuseEpilogues(optimize(makeGraph(dense)(x, w, b)))
    expect(opsIn(fused)).toEqual(['matmulEpilogue'])
    const eq = fused.equations[0]!
    expect(eq.inputs.map((v) => v.shape)).toEqual([[8, 16], [12, 16], [12]])
    expect(eq.params).toMatchObject({ transposeA: false, transposeB: true })
  })

  it('fuses a lone bias add (a one-op reader) and keeps both operands of a residual add', () => {
    const biased = fuseEpilogues(
      optimize(
        makeGraph((x: Tensor, w: Tensor, b: Tensor) => add(matmul(x, w, { transposeB: true }), b))(x, w, b),
      ),
    )
    expect(opsIn(biased)).toEqual(['matmulEpilogue'])
    const r = filled(4, [8, 12])
    const residual = fuseEpilogues(
      optimize(
        makeGraph((x: Tensor, w: Tensor, r: Tensor) => add(r, matmul(x, w, { transposeB: true })))(x, w, r),
      ),
    )
    expect(opsIn(residual)).toEqual(['matmulEpilogue'])
    expect(residual.equations[0]!.inputs.length).toBe(3)
  })

  it('leaves a product that is an output, or read twice, or broadcast up by its reader', () => {
    const asOutput = (x: Tensor, w: Tensor): Tensor[] => {
      const y = matmul(x, w, { transposeB: true })
      return [y, relu(y)]
    }
    expect(opsIn(fuseEpilogues(optimize(makeGraph(asOutput)(x, w))))).toContain('matmul')
    const readTwice = (x: Tensor, w: Tensor): Tensor => {
      const y = matmul(x, w, { transposeB: true })
      return add(relu(y), sum(y))
    }
    expect(opsIn(fuseEpilogues(optimize(makeGraph(readTwice)(x, w))))).toContain('matmul')
    const big = filled(5, [3, 8, 12])
    const broadcastUp = (x: Tensor, w: Tensor, big: Tensor): Tensor =>
      add(matmul(x, w, { transposeB: true }), big)
    expect(opsIn(fuseEpilogues(optimize(makeGraph(broadcastUp)(x, w, big))))).toEqual(['matmul', 'add'])
  })

  it('fuses the transposed products of the backward pass', () => {
    const loss = (w: Tensor, x: Tensor, b: Tensor): Tensor =>
      sum(square(tanh(add(matmul(x, w, { transposeB: true }), b))))
    const jitted = jit(grad(loss))
    jitted(w, x, b)
    const names = opsIn(jitted.stats().lastGraph!)
    expect(names).toContain('matmulEpilogue')
  })
})

describe.each(backends)('matmulEpilogue values on the %s backend', (_name, backend) => {
  beforeAll(() => T.setBackend(backend))
  afterAll(() => T.setBackend(undefined))

  const relu2 = {
    arity: 2,
    instructions: [
      { kind: 'binary', op: 'add', a: 0, b: 1 },
      { kind: 'unary', op: 'relu', x: 2 },
    ],
  } as const

  // Odd column counts exercise the kernel's one-element tail; sizes pass the wasm GEMM threshold.
  it.each([
    [false, false, [33, 20], [20, 15]],
    [false, true, [33, 20], [15, 20]],
    [true, false, [20, 33], [20, 15]],
    [true, true, [20, 33], [15, 20]],
  ] as const)('relu(op(a) op(b) + bias), transposeA %s transposeB %s', (ta, tb, aShape, bShape) => {
    const a = filled(11, aShape)
    const b = filled(12, bShape)
    const m = ta ? aShape[1] : aShape[0]
    const k = ta ? aShape[0] : aShape[1]
    const n = tb ? bShape[0] : bShape[1]
    const bias = filled(13, [n])
    const expected: number[] = []
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0
        for (let p = 0; p < k; p++) s += at(a, ta, i, p) * at(b, tb, p, j)
        expected.push(Math.max(f32(s) + bias.data[j]!, 0))
      }
    const y = matmulEpilogue(a, b, relu2, [bias], { transposeA: ta, transposeB: tb })
    expectNear(y, expected, [m, n])
  })

  it('a residual add, a scalar and a batch axis: (A_t B) · 0.5 + R_t with A [2,9,16], B [16,11]', () => {
    const a = filled(21, [2, 9, 16])
    const b = filled(22, [16, 11])
    const r = filled(23, [2, 9, 11])
    const half = T.scalar(0.5, 'float32')
    const program = {
      arity: 3,
      instructions: [
        { kind: 'binary', op: 'mul', a: 0, b: 2 },
        { kind: 'binary', op: 'add', a: 3, b: 1 },
      ],
    } as const
    const expected: number[] = []
    for (let t = 0; t < 2; t++)
      for (let i = 0; i < 9; i++)
        for (let j = 0; j < 11; j++) {
          let s = 0
          for (let p = 0; p < 16; p++) s += a.data[t * 144 + i * 16 + p]! * b.data[p * 11 + j]!
          expected.push(f32(s) * 0.5 + r.data[t * 99 + i * 11 + j]!)
        }
    expectNear(matmulEpilogue(a, b, program, [r, half]), expected, [2, 9, 11])
  })

  it('a product of several row blocks (300 × 301: the epilogue runs per block) with a bias and a residual', () => {
    const a = filled(51, [300, 8])
    const b = filled(52, [8, 301])
    const bias = filled(53, [301])
    const r = filled(54, [300, 301])
    const program = {
      arity: 3,
      instructions: [
        { kind: 'binary', op: 'add', a: 0, b: 1 },
        { kind: 'unary', op: 'relu', x: 3 },
        { kind: 'binary', op: 'sub', a: 4, b: 2 },
      ],
    } as const
    const expected: number[] = []
    for (let i = 0; i < 300; i++)
      for (let j = 0; j < 301; j++) {
        let s = 0
        for (let p = 0; p < 8; p++) s += a.data[i * 8 + p]! * b.data[p * 301 + j]!
        expected.push(Math.max(f32(s) + bias.data[j]!, 0) - r.data[i * 301 + j]!)
      }
    expectNear(matmulEpilogue(a, b, program, [bias, r]), expected, [300, 301])
  })

  it('several row blocks and depth blocks (700 × 600 · (150 × 600)ᵀ + bias): the same bits as matmul then add', () => {
    // k = 600 is three depth blocks, 700 rows of 600 bytes are two row blocks: the blocked path
    // (B packed once for every row block) must sum each element as the whole product does.
    const a = filled(61, [700, 600])
    const b = filled(62, [150, 600])
    const bias = filled(63, [150])
    const program = { arity: 2, instructions: [{ kind: 'binary', op: 'add', a: 0, b: 1 }] } as const
    // One thread: a product split across threads is not blocked by rows.
    const threads = T.getThreads()
    T.setThreads(1)
    const fused = matmulEpilogue(a, b, program, [bias], { transposeB: true }).data
    T.setThreads(threads)
    const composed = add(matmul(a, b, { transposeB: true }), bias).data
    let first = -1
    for (let i = 0; i < composed.length && first < 0; i++) if (!Object.is(fused[i], composed[i])) first = i
    expect(first < 0 ? 'identical' : `element ${first}: ${fused[first]} vs ${composed[first]}`).toBe(
      'identical',
    )
  })

  it('a transcendental epilogue (tanh) and a column-shaped extra run on the composed path', () => {
    const a = filled(31, [12, 10])
    const b = filled(32, [10, 7])
    const col = filled(33, [12, 1])
    const program = {
      arity: 2,
      instructions: [
        { kind: 'binary', op: 'sub', a: 0, b: 1 },
        { kind: 'unary', op: 'tanh', x: 2 },
      ],
    } as const
    const expected: number[] = []
    for (let i = 0; i < 12; i++)
      for (let j = 0; j < 7; j++) {
        let s = 0
        for (let p = 0; p < 10; p++) s += a.data[i * 10 + p]! * b.data[p * 7 + j]!
        expected.push(Math.tanh(f32(s) - col.data[i]!))
      }
    expectNear(matmulEpilogue(a, b, program, [col]), expected, [12, 7])
  })

  it('refuses an epilogue that broadcasts the product up', () => {
    const add2 = { arity: 2, instructions: [{ kind: 'binary', op: 'add', a: 0, b: 1 }] } as const
    expect(() => matmulEpilogue(filled(1, [2, 3]), filled(2, [3, 4]), add2, [filled(3, [5, 2, 4])])).toThrow(
      /must keep the product's shape/,
    )
  })

  it('jit(grad(mlp)) fuses epilogues and agrees with eager gradients', () => {
    const x = filled(41, [32, 20])
    const target = filled(42, [32, 5])
    const params = {
      w1: filled(43, [24, 20]),
      b1: filled(44, [24]),
      w2: filled(45, [5, 24]),
      b2: filled(46, [5]),
    }
    type P = typeof params
    const mlp = (p: P, x: Tensor, y: Tensor): Tensor => {
      const h = relu(add(matmul(x, p.w1, { transposeB: true }), p.b1))
      const out = add(matmul(h, p.w2, { transposeB: true }), p.b2)
      return mean(square(sub(out, y)))
    }
    const eager = grad(mlp)(params, x, target)
    const jitted = jit(grad(mlp))
    const staged = jitted(params, x, target)
    expect(
      jitted.stats().lastGraph!.equations.filter((eq) => eq.op.name === 'matmulEpilogue').length,
    ).toBeGreaterThanOrEqual(2)
    for (const key of ['w1', 'b1', 'w2', 'b2'] as const)
      expectNear(staged[key], eager[key].data, eager[key].shape, 1e-5)
    const scaled = jit(grad((p: P, x: Tensor, y: Tensor) => mul(mlp(p, x, y), 2)))(params, x, target)
    expectNear(
      scaled.w1,
      Array.from(eager.w1.data, (v) => 2 * v),
      eager.w1.shape,
      1e-5,
    )
  })
})

describe.runIf(T.wasmAvailable())('column operands on the wasm backend', () => {
  beforeAll(() => T.setBackend(T.wasmBackend))
  afterAll(() => T.setBackend(undefined))

  it('(a b) / d with d [2, m, 1] one value per row, odd and even widths, bit for bit; c [m, 1] cycling stays composed', () => {
    for (const n of [7, 8]) {
      const a = filled(61, [2, 9, 12])
      const b = filled(62, [12, n])
      const c = filled(63, [9, 1])
      const d = T.unsafeTensor(
        'float32',
        [2, 9, 1],
        Float32Array.from({ length: 18 }, (_, i) => 1 + i / 4),
      )
      // c [9, 1] against [2, 9, n] cycles over the batch: not a column, so that one stays composed.
      const perRow = {
        arity: 2,
        instructions: [{ kind: 'binary', op: 'div', a: 0, b: 1 }],
      } as const
      const got = matmulEpilogue(a, b, perRow, [d])
      // The same GEMM on the same operands, then the division rounded once: the epilogue's bits.
      const product = matmul(a, b)
      const expected = Array.from(product.data, (v, i) => Math.fround(v / d.data[Math.floor(i / n)]!))
      expect(Array.from(got.data)).toEqual(expected)
      const cycling = {
        arity: 2,
        instructions: [{ kind: 'binary', op: 'sub', a: 0, b: 1 }],
      } as const
      const composed = matmulEpilogue(a, b, cycling, [c])
      expectNear(
        composed,
        Array.from(product.data, (v, i) => v - c.data[Math.floor(i / n) % 9]!),
        [2, 9, n],
        1e-5,
      )
    }
  })
})
