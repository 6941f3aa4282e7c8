import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { add, exp, grad, jit, logSoftmax, matmul, mean, mul, neg, relu, sub, sum } from '@backfold/ops'
import { filled } from './filled'

// Results left in wasm memory (RegionTensor) and argument donation (`jit(f, { donate })`): values
// always those of eager mode, whatever later runs, other executables or the thread pool do to the
// region; a donated tensor refuses every later use; a donating training step copies nothing in or
// out in steady state.

type Params = Record<string, Tensor>
const params = (): Params => ({
  w0: filled(10, [48, 40], 0.15),
  b0: filled(11, [48], 0.01),
  w1: filled(12, [10, 48], 0.15),
  b1: filled(13, [10], 0.01),
})
const loss = (p: Params, x: Tensor, y: Tensor): Tensor => {
  const h = relu(add(matmul(x, p.w0!, { transposeB: true }), p.b0!))
  const logits = add(matmul(h, p.w1!, { transposeB: true }), p.b1!)
  return mean(neg(sum(mul(logSoftmax(logits, { axis: -1 }), y), { axis: -1 })))
}
// Parameters and a momentum-like state, both fed back, plus the loss.
const step = (p: Params, m: Params, x: Tensor, y: Tensor): { p: Params; m: Params; loss: Tensor } => {
  const g = grad(loss)(p, x, y)
  const m2 = Object.fromEntries(Object.keys(p).map((k) => [k, add(mul(m[k]!, 0.9), g[k]!)]))
  const p2 = Object.fromEntries(Object.keys(p).map((k) => [k, sub(p[k]!, mul(m2[k]!, 0.1))]))
  return { p: p2, m: m2, loss: loss(p, x, y) }
}
const zerosLike = (p: Params): Params =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k, T.zeros(v.shape)]))

const x = filled(20, [32, 40])
const y = T.unsafeTensor(
  'float32',
  [32, 10],
  Float32Array.from({ length: 320 }, (_, i) => (i % 10 === Math.floor(i / 10) % 10 ? 1 : 0)),
)
const paramBytes = 4 * Object.values(params()).reduce((n, t) => n + T.sizeOf(t.shape), 0)

const expectClose = (actual: Tensor, expected: Tensor, tol: number, label: string): void => {
  expect(actual.shape, label).toEqual(expected.shape)
  expected.data.forEach((v, i) =>
    expect(Math.abs(actual.data[i]! - v), `${label}[${i}]`).toBeLessThanOrEqual(tol * (1 + Math.abs(v))),
  )
}

/** Eager reference: the parameters after each of `n` steps. */
const eagerRun = (n: number): Params[] => {
  let p = params()
  let m = zerosLike(p)
  const out: Params[] = []
  for (let i = 0; i < n; i++) {
    const r = step(p, m, x, y)
    p = r.p
    m = r.m
    out.push(p)
  }
  return out
}

describe.runIf(T.wasmAvailable())('results left in the region', () => {
  beforeAll(() => T.setBackend(T.wasmBackend))
  afterAll(() => T.setBackend(undefined))

  it('results are RegionTensors, copied out only when read', () => {
    const f = jit((a: Tensor, b: Tensor) => relu(matmul(a, b)))
    const out = f(filled(1, [8, 6]), filled(2, [6, 5]))
    expect(f.stats().lastRun).toBe('resident')
    expect(out).toBeInstanceOf(T.RegionTensor)
    expect((out as T.RegionTensor).inRegion).toBe(true)
    expect(f.stats().lastExecutable!.bytesOut).toBe(0)
    const eager = relu(matmul(filled(1, [8, 6]), filled(2, [6, 5])))
    expectClose(out, eager, 1e-6, 'out')
    expect((out as T.RegionTensor).inRegion).toBe(false)
  })

  it('a RegionTensor clones and compares as a plain tensor { dtype, shape, data }', () => {
    const f = jit((a: Tensor, b: Tensor) => relu(matmul(a, b)))
    const out = f(filled(1, [8, 6]), filled(2, [6, 5]))
    expect(out).toBeInstanceOf(T.RegionTensor)
    expect(Object.keys(out)).toEqual(['dtype', 'shape', 'data'])
    const copy = structuredClone(out)
    expect(T.isTensor(copy)).toBe(true)
    expect(copy.shape).toEqual([8, 5])
    expect(Array.from(copy.data)).toEqual(Array.from(out.data))
    const plain = T.unsafeTensor('float32', [8, 5], Float32Array.from(out.data))
    expect(out).toEqual(plain)
  })

  it('every earlier result keeps its values while later runs write over its buffer (kept, never read until the end)', () => {
    const jitted = jit(step)
    let p = params()
    let m = zerosLike(p)
    const kept: Params[] = []
    for (let i = 0; i < 6; i++) {
      const r = jitted(p, m, x, y)
      p = r.p
      m = r.m
      kept.push(p)
    }
    expect(jitted.stats().lastRun).toBe('resident')
    // Without donation, results of the run before last are copied out when their buffer is reused.
    expect(jitted.stats().lastExecutable!.bytesOut).toBeGreaterThanOrEqual(paramBytes)
    const want = eagerRun(6)
    kept.forEach((q, i) => {
      for (const k of Object.keys(q)) expectClose(q[k]!, want[i]![k]!, 1e-5, `step ${i} ${k}`)
    })
  })

  it('another executable taking the region first copies out the results still in it', () => {
    const jitted = jit(step)
    const other = jit((a: Tensor, b: Tensor) => relu(matmul(a, b, { transposeB: true })))
    const r1 = jitted(params(), zerosLike(params()), x, y)
    const r2 = jitted(r1.p, r1.m, x, y)
    expect((r2.p.w0 as T.RegionTensor).inRegion).toBe(true)
    other(filled(60, [64, 40], 3), filled(61, [96, 40], 3))
    expect(other.stats().lastRun).toBe('resident')
    expect((r2.p.w0 as T.RegionTensor).inRegion).toBe(false)
    const want = eagerRun(2)
    for (const k of Object.keys(r2.p)) expectClose(r2.p[k]!, want[1]![k]!, 1e-5, k)
    for (const k of Object.keys(r1.p)) expectClose(r1.p[k]!, want[0]![k]!, 1e-5, k)
  })

  it('starting or stopping worker threads (which moves the region) first copies out the results in it', () => {
    const before = T.getThreads()
    try {
      T.setThreads(1)
      const jitted = jit(step)
      const r1 = jitted(params(), zerosLike(params()), x, y)
      // Products above the threaded GEMM's threshold start the pool: the worker's scratch covers
      // the old region (repeated, so that the worker, once started, packs its parts there).
      T.setThreads(2)
      const big = filled(3, [256, 256])
      for (let i = 0; i < 30; i++) matmul(big, big)
      T.setThreads(1)
      matmul(big, big)
      const want = eagerRun(1)
      for (const k of Object.keys(r1.p)) expectClose(r1.p[k]!, want[0]![k]!, 1e-5, k)
    } finally {
      T.setThreads(before)
    }
  })
})

describe.runIf(T.wasmAvailable())('argument donation', () => {
  beforeAll(() => T.setBackend(T.wasmBackend))
  afterAll(() => T.setBackend(undefined))

  it('a donating training step copies nothing in or out in steady state, with eager values', () => {
    const jitted = jit(step, { donate: [0, 1] })
    let p = params()
    let m = zerosLike(p)
    const bytes: Array<{ in: number; out: number }> = []
    let lastLoss: Tensor | undefined
    for (let i = 0; i < 6; i++) {
      const r = jitted(p, m, x, y)
      p = r.p
      m = r.m
      lastLoss = r.loss
      const s = jitted.stats().lastExecutable!
      bytes.push({ in: s.bytesIn, out: s.bytesOut })
    }
    expect(jitted.stats().lastRun).toBe('resident')
    const fallback = jitted.stats().lastExecutable!.fallbackSteps
    // From the third run on, the parameters and the state stay where they are: only what fallback
    // steps exchange with the region moves, and the loss of the run before last (not donated, so
    // possibly still in use: 4 bytes copied out before its buffer is reused).
    for (const b of bytes.slice(2)) {
      expect(b.in).toBeLessThan(paramBytes / 4)
      expect(b.out).toBeLessThan(paramBytes / 4)
      if (fallback === 0) expect(b).toEqual({ in: 0, out: 4 })
    }
    const want = eagerRun(6)
    for (const k of Object.keys(p)) expectClose(p[k]!, want[5]![k]!, 1e-5, k)
    expect(Number.isFinite(lastLoss!.data[0]!)).toBe(true)
  })

  it('a donated tensor refuses every later use, naming the function; results stay valid', () => {
    const jitted = jit(step, { donate: [0] })
    const p = params()
    const m = zerosLike(p)
    const r1 = jitted(p, m, x, y)
    // The caller's own tensors are donated too (the first call): reading them throws.
    expect(() => p.w0!.data).toThrow(/donated to the jitted function 'step'/)
    expect(() => exp(p.w0!)).toThrow(/donated/)
    expect(() => jitted(p, m, x, y)).toThrow(
      /step: argument 0 \(tensor \d+ of its tree\) cannot be used: it was donated/,
    )
    // m was not donated; x and y neither.
    expect(m.w0!.data.length).toBe(48 * 40)
    const r2 = jitted(r1.p, r1.m, x, y)
    expect(() => r1.p.b0!.data).toThrow(/donated/)
    expect(r1.m.b0!.data.length).toBe(48)
    const want = eagerRun(2)
    for (const k of Object.keys(r2.p)) expectClose(r2.p[k]!, want[1]![k]!, 1e-5, k)
  })

  it('a donated argument returned as it is stays valid', () => {
    const f = jit((a: Tensor, b: Tensor) => ({ a, c: relu(matmul(a, b)) }), { donate: [0, 1] })
    const a = filled(4, [5, 3])
    const b = filled(5, [3, 2])
    const out = f(a, b)
    expect(out.a).toBe(a)
    expect(a.data.length).toBe(15)
    expect(() => b.data).toThrow(/donated/)
  })

  it('donation on the interpreted path and on the reference backend invalidates the same way', () => {
    T.setBackend(T.referenceBackend)
    try {
      const f = jit((a: Tensor) => exp(a), { donate: [0] })
      const a = T.tensor([1, 2])
      const out = f(a)
      expect(f.stats().lastRun).toBe('interpreted')
      expect(Array.from(out.data)).toEqual([Math.fround(Math.E), Math.fround(Math.exp(2))])
      expect(() => a.data).toThrow(/donated/)
    } finally {
      T.setBackend(T.wasmBackend)
    }
  })

  it('grad of a donating jitted function donates nothing (its arguments are traced)', () => {
    const f = jit((a: Tensor) => sum(mul(a, a)), { donate: [0] })
    const a = T.tensor([1, 2, 3])
    const g = grad(f)(a)
    expect(Array.from(g.data)).toEqual([2, 4, 6])
    expect(Array.from(a.data)).toEqual([1, 2, 3])
  })

  it('refuses a static argument donated, and bad indices', () => {
    expect(() => jit((a: Tensor, n: number) => mul(a, n), { staticArgnums: [1], donate: [1] })).toThrow(
      /both static .* and donated/,
    )
    expect(() => jit((a: Tensor) => a, { donate: [-1] } as never)).toThrow(/donate/)
  })
})
