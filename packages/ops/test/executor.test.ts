import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import * as O from '@backfold/ops'
import type { Tensor } from '@backfold/tensor'
import {
  add,
  compileResident,
  evalGraph,
  exp,
  fuseEpilogues,
  grad,
  jit,
  lastUses,
  logSoftmax,
  makeGraph,
  matmul,
  mean,
  mul,
  neg,
  optimize,
  planBuffers,
  relu,
  reluGrad,
  reshape,
  sqrt,
  sub,
  sum,
  vmap,
  type BufferPlan,
  type Graph,
} from '@backfold/ops'
import { elementwiseRows } from './rows/elementwise'
import { structuralRows } from './rows/structural'
import { filled } from './filled'

// Liveness, buffer planning and the wasm-resident executable: plans checked for overlapping live
// buffers on graphs in isolation, and jitted functions run resident checked against eager mode
// (every gradient-table row in float32, an MLP training step, and the fallbacks to evalGraph).

const bytes = (v: { readonly shape: ReadonlyArray<number> }): number => 4 * T.sizeOf(v.shape)

/**
 * Checks a plan the slow way: every resident value's buffer [offset, offset + bytes) is live from
 * its definition to its last use, and no two values live at once overlap unless one is written
 * over the other at its definition (in place) or shares it (an alias).
 */
const expectNoClobbering = (
  graph: Graph,
  plan: BufferPlan,
  shared: (a: number, b: number) => boolean,
): void => {
  const defined = new Map<number, number>()
  for (const v of [...graph.inputs, ...graph.constants.map((c) => c.variable)]) defined.set(v.id, -1)
  graph.equations.forEach((eq, i) => defined.set(eq.output.id, i))
  const last = lastUses(graph)
  const vars = [
    ...graph.inputs,
    ...graph.constants.map((c) => c.variable),
    ...graph.equations.map((eq) => eq.output),
  ]
  const live = vars
    .filter((v) => plan.offsets.has(v.id))
    .map((v) => ({
      v,
      from: defined.get(v.id)!,
      to: last.get(v.id) ?? defined.get(v.id)!,
      at: plan.offsets.get(v.id)!,
    }))
  for (const a of live)
    for (const b of live) {
      if (a.v.id >= b.v.id) continue
      const overlapInTime = a.from <= b.to && b.from <= a.to
      const overlapInMemory = a.at < b.at + bytes(b.v) && b.at < a.at + bytes(a.v)
      if (overlapInTime && overlapInMemory && !shared(a.v.id, b.v.id))
        throw new Error(
          `values ${a.v.id} [${a.from}, ${a.to}] and ${b.v.id} [${b.from}, ${b.to}] share bytes while both live`,
        )
    }
}

describe('liveness and buffer planning', () => {
  const x = filled(1, [64])

  it('lastUses: the last equation reading each value, outputs after the last equation', () => {
    const g = makeGraph((x: Tensor) => {
      const a = neg(x)
      const b = exp(a)
      return [b, sqrt(add(a, b))]
    })(x)
    const last = lastUses(g)
    const [eNeg, eExp, eAdd, eSqrt] = g.equations
    expect(last.get(g.inputs[0]!.id)).toBe(0)
    expect(last.get(eNeg!.output.id)).toBe(2)
    expect(last.get(eExp!.output.id)).toBe(4) // an output
    expect(last.get(eAdd!.output.id)).toBe(3)
    expect(last.get(eSqrt!.output.id)).toBe(4)
  })

  it('reuses dead buffers: a chain of n steps needs two buffers (the input buffer is reused), or one in place', () => {
    const chain = (x: Tensor): Tensor => {
      let v = x
      for (let i = 0; i < 8; i++) v = i % 2 === 0 ? neg(v) : exp(v)
      return v
    }
    const g = makeGraph(chain)(x)
    const plain = planBuffers(g, { resident: () => true, bytes })
    expect(plain.unsharedBytes).toBe(9 * 256)
    expect(plain.bytes).toBe(2 * 256) // the input buffer and one more, alternating
    expectNoClobbering(g, plain, () => false)
    const inPlace = planBuffers(g, { resident: () => true, bytes, inPlace: (eq) => eq.inputs })
    expect(inPlace.bytes).toBe(256)
    expect(inPlace.inPlace.size).toBe(8)
  })

  it('never writes over an input that is still read later, nor over an output', () => {
    const g = makeGraph((x: Tensor) => {
      const a = neg(x)
      const b = exp(a) // a is read again below: b must not take a's buffer
      const c = add(a, b)
      return [a, neg(c)] // a is an output: never overwritten
    })(x)
    const plan = planBuffers(g, { resident: () => true, bytes, inPlace: (eq) => eq.inputs })
    const a = g.equations[0]!.output.id
    const b = g.equations[1]!.output.id
    expect(plan.offsets.get(b)).not.toBe(plan.offsets.get(a))
    const inPlaceOutputs = [...plan.inPlace].map((i) => g.equations[i]!.output.id)
    // a itself may be written over x (dead after it); nothing after it may take a's buffer.
    for (const id of inPlaceOutputs) if (id !== a) expect(plan.offsets.get(id)).not.toBe(plan.offsets.get(a))
    const shared = (p: number, q: number): boolean =>
      [...plan.inPlace].some((i) => {
        const eq = g.equations[i]!
        return [p, q].includes(eq.output.id) && eq.inputs.some((v) => [p, q].includes(v.id))
      })
    expectNoClobbering(g, plan, shared)
  })

  it('pinned inputs, constants and outputs own their buffers for the whole run', () => {
    // A chain whose in-place plan would reuse x's buffer for everything: pinned, x keeps its own,
    // the output gets one allocated up front, and no temporary lands in either.
    const g = makeGraph((x: Tensor) => {
      let v = neg(x)
      for (let i = 0; i < 5; i++) v = i % 2 === 0 ? exp(v) : neg(v)
      return [v, mul(v, 2)]
    })(x)
    const inputs = new Set(g.inputs.map((v) => v.id))
    const outputs = new Set(g.outputs.map((v) => v.id))
    const plan = planBuffers(g, {
      resident: () => true,
      bytes,
      inPlace: (eq) => eq.inputs,
      pinned: (v) => inputs.has(v.id) || outputs.has(v.id),
    })
    const pinnedOffsets = [...inputs, ...outputs].map((id) => plan.offsets.get(id)!)
    expect(new Set(pinnedOffsets).size).toBe(pinnedOffsets.length)
    for (const [id, at] of plan.offsets)
      if (!inputs.has(id) && !outputs.has(id)) expect(pinnedOffsets).not.toContain(at)
    expect([...plan.pinned].sort()).toEqual([...inputs, ...outputs].sort())
    // Without pinning the same rules write over x.
    const free = planBuffers(g, { resident: () => true, bytes, inPlace: (eq) => eq.inputs })
    expect(free.offsets.get(g.equations[0]!.output.id)).toBe(free.offsets.get(g.inputs[0]!.id))
  })

  it('a reshape shares its input buffer, which lives as long as either', () => {
    const g = makeGraph((x: Tensor) => {
      const r = reshape(neg(x), [8, 8])
      return sum(mul(r, r))
    })(x)
    const plan = planBuffers(g, {
      resident: (v) => v.dtype === 'float32' && v.shape.length > 0,
      bytes,
      alias: (eq) => (eq.op.name === 'reshape' ? eq.inputs[0] : undefined),
    })
    const [eNeg, eReshape] = g.equations
    expect(plan.offsets.get(eReshape!.output.id)).toBe(plan.offsets.get(eNeg!.output.id))
    const mulOut = g.equations[2]!.output.id
    expect(plan.offsets.get(mulOut)).not.toBe(plan.offsets.get(eNeg!.output.id))
  })
})

const mlpParams = (): Record<string, Tensor> => ({
  w0: filled(10, [48, 40], 0.15),
  b0: filled(11, [48], 0.01),
  w1: filled(12, [10, 48], 0.15),
  b1: filled(13, [10], 0.01),
})
const mlpLoss = (p: Record<string, Tensor>, x: Tensor, y: Tensor): Tensor => {
  const h = relu(add(matmul(x, p.w0!, { transposeB: true }), p.b0!))
  const logits = add(matmul(h, p.w1!, { transposeB: true }), p.b1!)
  return mean(neg(sum(mul(logSoftmax(logits, { axis: -1 }), y), { axis: -1 })))
}
const sgdStep = (p: Record<string, Tensor>, x: Tensor, y: Tensor): Record<string, Tensor> => {
  const g = grad(mlpLoss)(p, x, y)
  return Object.fromEntries(Object.keys(p).map((k) => [k, sub(p[k]!, mul(g[k]!, 0.1))]))
}

const expectClose = (actual: Tensor, expected: Tensor, rtol: number, label = ''): void => {
  expect(actual.shape, label).toEqual(expected.shape)
  expect(actual.dtype, label).toBe(expected.dtype)
  const scale = Array.from(expected.data).reduce((m, v) => Math.max(m, Math.abs(v)), 0)
  expected.data.forEach((v, i) => {
    const got = actual.data[i]!
    if (Number.isNaN(v)) expect(got, `${label} element ${i}`).toBeNaN()
    else if (!Number.isFinite(v)) expect(got, `${label} element ${i}`).toBe(v)
    else
      expect(Math.abs(got - v), `${label} element ${i}: ${got} vs ${v}`).toBeLessThanOrEqual(
        rtol * (scale + 1e-30),
      )
  })
}

describe.runIf(T.wasmAvailable())('the wasm-resident executable', () => {
  beforeAll(() => T.setBackend(T.wasmBackend))
  afterAll(() => T.setBackend(undefined))
  const x = filled(20, [32, 40])
  const labels = T.unsafeTensor(
    'float32',
    [32, 10],
    Float32Array.from({ length: 320 }, (_, i) => (i % 10 === Math.floor(i / 10) % 10 ? 1 : 0)),
  )

  it('runs a jitted training step resident, with eager values, copying in only inputs and constants', () => {
    const step = jit(sgdStep)
    let pJit = mlpParams()
    let pEager = mlpParams()
    for (let i = 0; i < 3; i++) {
      pJit = step(pJit, x, labels)
      pEager = sgdStep(pEager, x, labels)
    }
    expect(step.stats().lastRun).toBe('resident')
    for (const k of Object.keys(pEager)) expectClose(pJit[k]!, pEager[k]!, 1e-5, k)
    const stats = step.stats().lastExecutable!
    expect(stats.residentSteps).toBeGreaterThan(stats.fallbackSteps)
    expect(stats.regionBytes).toBeLessThan(stats.unsharedBytes)
    expect(stats.inPlaceSteps).toBeGreaterThan(0)
  })

  it('gives evalGraph values on a graph with every kind of step (matmul, epilogue, program, reshape, fallback)', () => {
    const f = (a: Tensor, b: Tensor, r: Tensor): Tensor[] => {
      const p = matmul(a, b) // read twice: a plain matmul
      const q = relu(add(matmul(a, b, { transposeA: false }), r)) // an epilogue
      const s = reshape(mul(p, q), [p.shape[0]! * p.shape[1]!])
      return [exp(neg(s)), sum(sqrt(add(mul(p, p), 1)), { axis: 0 }), p]
    }
    const a = filled(30, [17, 9])
    const b = filled(31, [9, 13])
    const r = filled(32, [13])
    const g = fuseEpilogues(optimize(makeGraph(f)(a, b, r)))
    const exe = compileResident(g)!
    const got = exe.run([a, b, r])!
    const want = evalGraph(g, [a, b, r])
    got.forEach((y, i) => expectClose(y, want[i]!, 1e-6, `output ${i}`))
    const stats = exe.stats()
    expect(stats.aliasSteps).toBe(1)
    expect(stats.fallbackSteps).toBeGreaterThan(0)
    const eager = f(a, b, r)
    got.forEach((y, i) => expectClose(y, eager[i]!, 1e-5, `eager ${i}`))
  })

  it('runs scalar int32 and float64 fallbacks on numbers, with the values of their ops (an optimizer schedule)', () => {
    // An optimizer's scalar bookkeeping: the step count (int32, wrapping like the kernels), a float64
    // cosine schedule and bias correction, cast to float32 for the resident update.
    const f = (count: Tensor, big: Tensor, w: Tensor, g: Tensor): Tensor[] => {
      const step = add(count, 1)
      const t = O.astype(step, 'float64')
      const lr = mul(O.cos(mul(O.minimum(t, 1350), Math.PI / 1350)), 1e-3)
      const correction = sub(1, O.pow(0.9, t))
      const scale = O.astype(O.div(lr, correction), 'float32')
      return [sub(w, mul(scale, g)), step, sub(big, -1), O.astype(t, 'float32'), lr]
    }
    const jitted = jit(f)
    const w = filled(80, [6, 5])
    const g = filled(81, [6, 5])
    const big = T.scalar(2 ** 31 - 1, 'int32')
    for (const n of [0, 7, 2000]) {
      const count = T.scalar(n, 'int32')
      const got = jitted(count, big, w, g)
      const graph = jitted.stats().lastGraph!
      const want = evalGraph(graph, [count, big, w, g])
      got.forEach((y, i) => {
        expect(y.dtype, `output ${i}`).toBe(want[i]!.dtype)
        expect(Array.from(y.data), `output ${i} at count ${n}`).toEqual(Array.from(want[i]!.data))
      })
      expect(got[2]!.data[0]).toBe(-(2 ** 31))
      const stats = jitted.stats().lastExecutable!
      expect(stats.residentSteps).toBeGreaterThan(0)
      // The count's sums, the casts and the float64 program(s): every fallback here is a scalar one.
      expect(stats.scalarSteps).toBe(stats.fallbackSteps)
      expect(stats.scalarSteps).toBeGreaterThanOrEqual(5)
    }
  })

  it('runs the dense op (linear, with and without bias and ReLU) resident, with eager values', () => {
    const f = (x: Tensor, w0: Tensor, b0: Tensor, w1: Tensor): Tensor[] => {
      const h = O.linear(x, w0, b0, 'relu')
      return [O.linear(h, w1), O.linear(h, w1, undefined, 'relu'), O.linear(x, w0, b0)]
    }
    const x = filled(40, [33, 20])
    const w0 = filled(41, [24, 20], 0.3)
    const b0 = filled(42, [24], 0.1)
    const w1 = filled(43, [7, 24], 0.3)
    const g = optimize(makeGraph(f)(x, w0, b0, w1))
    expect(g.equations.filter((eq) => eq.op.name === 'linear')).toHaveLength(4)
    const exe = compileResident(g)!
    const got = exe.run([x, w0, b0, w1])!
    expect(exe.stats().fallbackSteps).toBe(0)
    // Reference: the definition, relu(x·wᵀ + b), in float64 from the float32 operands.
    const dense = (x: Tensor, w: Tensor, b: Tensor | undefined, act: boolean): number[] => {
      const [rows, inner] = x.shape as [number, number]
      const outs = w.shape[0]!
      const out: number[] = []
      for (let i = 0; i < rows; i++)
        for (let o = 0; o < outs; o++) {
          let acc = 0
          for (let k = 0; k < inner; k++) acc += x.data[i * inner + k]! * w.data[o * inner + k]!
          const z = acc + (b === undefined ? 0 : b.data[o]!)
          out.push(act ? Math.max(z, 0) : z)
        }
      return out
    }
    const h = T.unsafeTensor('float32', [33, 24], Float32Array.from(dense(x, w0, b0, true)))
    const want = [dense(h, w1, undefined, false), dense(h, w1, undefined, true), dense(x, w0, b0, false)]
    got.forEach((y, i) => {
      expect(y.shape).toEqual(i === 2 ? [33, 24] : [33, 7])
      const close = Array.from(y.data).every((v, j) => Math.abs(v - want[i]![j]!) <= 1e-5)
      expect(close, `output ${i}`).toBe(true)
    })
    // And the eager op's values, to float32 rounding.
    f(x, w0, b0, w1).forEach((y, i) => expectClose(got[i]!, y, 1e-6, `eager ${i}`))
  })

  it('writes only what changed: parameters fed back stay in the region, in alternating layouts', () => {
    const step = jit(sgdStep)
    let pJit = mlpParams()
    let pEager = mlpParams()
    const inBytes: number[] = []
    for (let i = 0; i < 6; i++) {
      pJit = step(pJit, x, labels)
      pEager = sgdStep(pEager, x, labels)
      inBytes.push(step.stats().lastExecutable!.bytesIn)
    }
    for (const k of Object.keys(pEager)) expectClose(pJit[k]!, pEager[k]!, 1e-5, k)
    const paramBytes = 4 * Object.values(mlpParams()).reduce((n, t) => n + t.data.length, 0)
    const dataBytes = 4 * x.data.length // the labels are read only by a fallback step: not resident
    // The first run writes everything; later ones find x, the constants and the parameters (the
    // previous outputs) already in place, and write only the results of fallback steps (the loss's
    // [32, 10] gradient) that kernels read.
    expect(inBytes[0]).toBeGreaterThanOrEqual(paramBytes + dataBytes)
    for (const b of inBytes.slice(2)) {
      expect(b).toBeLessThanOrEqual(inBytes[0]! - paramBytes - dataBytes)
      expect(b).toBeLessThanOrEqual(2 * 4 * 32 * 10)
    }
    // Fresh parameters (equal values, other tensors) are written again, and give the same step.
    const again = mlpParams()
    const fresh = step(again, x, labels)
    expect(step.stats().lastExecutable!.bytesIn).toBeGreaterThanOrEqual(paramBytes)
    const eagerFresh = sgdStep(mlpParams(), x, labels)
    for (const k of Object.keys(fresh)) expectClose(fresh[k]!, eagerFresh[k]!, 1e-6, k)
  })

  it('writes everything again after another executable ran on the region', () => {
    const step = jit(sgdStep)
    const other = jit((v: Tensor, w: Tensor) => relu(matmul(v, w, { transposeB: true })))
    let pJit = mlpParams()
    let pEager = mlpParams()
    const paramBytes = 4 * Object.values(pJit).reduce((n, t) => n + t.data.length, 0)
    for (let i = 0; i < 5; i++) {
      pJit = step(pJit, x, labels)
      pEager = sgdStep(pEager, x, labels)
      if (i >= 2) {
        // Another graph overwrites the shared region with its own values between the steps.
        other(filled(60 + i, [32, 40], 3), filled(70 + i, [48, 40], 3))
        expect(other.stats().lastRun).toBe('resident')
      }
      if (i >= 3) expect(step.stats().lastExecutable!.bytesIn).toBeGreaterThanOrEqual(paramBytes)
    }
    for (const k of Object.keys(pEager)) expectClose(pJit[k]!, pEager[k]!, 1e-5, k)
  })

  it('runs log-softmax and reduction programs resident, with eager values; out-of-range rows go to the op', () => {
    const logits = filled(50, [37, 11], 4)
    const target = T.unsafeTensor(
      'float32',
      [37, 11],
      Float32Array.from({ length: 37 * 11 }, (_, i) => (i % 11 === Math.floor(i / 11) % 11 ? 1 : 0)),
    )
    const f = (z: Tensor, y: Tensor): Tensor[] => {
      const ls = logSoftmax(z, { axis: -1 })
      return [ls, mul(ls, y)]
    }
    const g = optimize(makeGraph(f)(logits, target))
    const exe = compileResident(g)!
    const got = exe.run([logits, target])!
    expect(exe.stats().fallbackSteps).toBe(0)
    // Reference: the formula in float64 from the float32 logits.
    const want = Array.from({ length: 37 }, (_, r) => {
      const row = Array.from(logits.data.subarray(r * 11, r * 11 + 11))
      const m = Math.max(...row)
      const lse = m + Math.log(row.reduce((acc, v) => acc + Math.exp(v - m), 0))
      return row.map((v) => v - lse)
    }).flat()
    got[0]!.data.forEach((v, i) =>
      expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(want[i]!))),
    )
    f(logits, target).forEach((y, i) => expectClose(got[i]!, y, 2e-6, `eager ${i}`))

    // sin of |x| > 1e6 is outside the generated sin's range: that run's step computes with the op.
    const rowsOfSines: T.ReductionProgram = {
      arity: 1,
      instructions: [
        { kind: 'unary', op: 'sin', x: 0 },
        { kind: 'reduce', op: 'sum', x: 1 },
      ],
    }
    const h = (v: Tensor): Tensor => O.reductionProgram(rowsOfSines, [v])
    const small = filled(51, [6, 9], 3)
    const large = T.unsafeTensor(
      'float32',
      [6, 9],
      small.data.map((v, i) => (i === 20 ? 3e37 : v)),
    )
    const gh = optimize(makeGraph(h)(small))
    const exeH = compileResident(gh)!
    expect(exeH.stats().fallbackSteps).toBe(0)
    for (const input of [small, large, small]) {
      const out = exeH.run([input])![0]!
      const sums = Array.from({ length: 6 }, (_, r) =>
        Array.from(input.data.subarray(r * 9, r * 9 + 9)).reduce((acc, v) => acc + Math.sin(v), 0),
      )
      out.data.forEach((v, r) =>
        expect(Math.abs(v - sums[r]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(sums[r]!))),
      )
    }
  })

  it('runs softmaxCrossEntropy and mean resident, with eager values; a masked class (−∞ logit, label 0) goes to the op', () => {
    const logits = filled(60, [29, 7], 4)
    const target = T.unsafeTensor(
      'float32',
      [29, 7],
      Float32Array.from({ length: 29 * 7 }, (_, i) => (i % 7 === Math.floor(i / 7) % 7 ? 0.8 : 0.2 / 6)),
    )
    const f = (z: Tensor, y: Tensor): Tensor[] => {
      const perRow = O.softmaxCrossEntropy(z, y)
      return [perRow, mean(perRow), mean(z, { axis: -1 }), mean(reshape(z, [29 * 7]))]
    }
    const g = optimize(makeGraph(f)(logits, target))
    const exe = compileResident(g)!
    expect(exe.stats().fallbackSteps).toBe(0)
    const got = exe.run([logits, target])!
    // Reference: the formula in float64 from the float32 inputs.
    const want = Array.from({ length: 29 }, (_, r) => {
      const row = Array.from(logits.data.subarray(r * 7, r * 7 + 7))
      const m = Math.max(...row)
      const lse = m + Math.log(row.reduce((acc, v) => acc + Math.exp(v - m), 0))
      return row.reduce((acc, v, j) => acc + target.data[r * 7 + j]! * (lse - v), 0)
    })
    got[0]!.data.forEach((v, i) =>
      expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(want[i]!))),
    )
    f(logits, target).forEach((y, i) => expectClose(got[i]!, y, 2e-6, `eager ${i}`))

    // A class masked out with a −∞ logit and label 0 contributes nothing (the op's rule; the
    // program alone would give 0 · ∞ = NaN): that run's step computes with the op, then resident again.
    const masked = T.unsafeTensor(
      'float32',
      [29, 7],
      logits.data.map((v, i) => (i === 3 * 7 + 5 ? -Infinity : v)),
    )
    const hard = T.unsafeTensor(
      'float32',
      [29, 7],
      Float32Array.from({ length: 29 * 7 }, (_, i) => (i % 7 === 0 ? 1 : 0)),
    )
    for (const [z, y] of [
      [logits, hard],
      [masked, hard],
      [logits, target],
    ] as const) {
      const out = exe.run([z, y])!
      const eager = f(z, y)
      expect(Number.isFinite(out[0]!.data[3]!)).toBe(true)
      out.forEach((v, i) => expectClose(v, eager[i]!, 2e-6, `masked ${i}`))
    }
  })

  it('falls back to evalGraph under grad and vmap of a jitted function, and agrees', () => {
    const loss = jit(mlpLoss)
    const p = mlpParams()
    const eager = grad(mlpLoss)(p, x, labels)
    const staged = grad(loss)(p, x, labels)
    expect(loss.stats().lastRun).toBe('interpreted')
    for (const k of Object.keys(eager)) expectClose(staged[k]!, eager[k]!, 1e-5, k)
    const norm = (v: Tensor): Tensor => sum(sqrt(add(mul(v, v), 1)))
    const rows = jit(norm)
    const batched = vmap(rows)(x)
    expect(rows.stats().lastRun).toBe('interpreted')
    expectClose(batched, vmap(norm)(x), 1e-6)
    rows(x)
    expect(rows.stats().lastRun).toBe('resident')
  })

  it('interprets a float64 graph (nothing to run resident) and runs on the reference backend unchanged', () => {
    const f = jit((v: Tensor) => exp(neg(v)))
    f(T.astype(x, 'float64'))
    expect(f.stats().lastRun).toBe('interpreted')
    T.setBackend(T.referenceBackend)
    try {
      f(x)
      expect(f.stats().lastRun).toBe('interpreted')
    } finally {
      T.setBackend(T.wasmBackend)
    }
  })
})

// Every gradient-table row, in float32, through jit(f) and jit(grad(f)) on the wasm backend (the
// resident executable wherever a row has a float32 kernel step), against eager float32.
const rows = [...elementwiseRows, ...structuralRows]
const f32 = (x: Tensor): Tensor => (x.dtype === 'float64' ? T.astype(x, 'float32') : x)

describe.runIf(T.wasmAvailable())('gradient-table rows in float32 through the executor', () => {
  beforeAll(() => T.setBackend(T.wasmBackend))
  afterAll(() => T.setBackend(undefined))
  it.each(rows.map((r) => [`${r.op}: ${r.label}`, r] as const))('%s', (_name, row) => {
    const args = row.args().map(f32)
    const eager = row.fn(...args)
    expectClose(jit(row.fn)(...args), eager, 1e-5, 'jit(f)')
    const first = args.findIndex((a) => a.dtype === 'float32')
    if (first < 0 || eager.dtype !== 'float32') return
    const weighting = T.unsafeTensor(
      'float32',
      eager.shape,
      Float32Array.from({ length: T.sizeOf(eager.shape) }, (_, i) => Math.sin(i + 1)),
    )
    const loss = (...xs: Tensor[]): Tensor => sum(mul(row.fn(...xs), weighting))
    const expected = grad(loss, { argnums: first })(...args)
    expectClose(jit(grad(loss, { argnums: first }))(...args), expected, 1e-4, 'jit(grad(f))')
  })
})

describe.runIf(T.wasmAvailable())('resident sums over leading axes', () => {
  beforeAll(() => T.setBackend(T.wasmBackend))
  afterAll(() => T.setBackend(undefined))

  // The sum reads a resident product, so it runs on the column-sum kernel; bit for bit the
  // reference sum (float64 from 0 in row order, rounded once) computed here.
  it.each([
    [[7, 5], 1],
    [[3, 4, 6], 2],
    [[128, 33], 1],
    [[9, 1], 1],
  ] as const)('sum of %j over its first %i axes, keepDims both ways', (shape, count) => {
    const x = filled(60 + count, shape)
    const axes = Array.from({ length: count }, (_, j) => j)
    const rows = T.sizeOf(shape.slice(0, count))
    const cols = T.sizeOf(shape.slice(count))
    const y = filled(70, shape)
    const expected = new Float32Array(cols)
    for (let j = 0; j < cols; j++) {
      let acc = 0
      for (let i = 0; i < rows; i++) acc += Math.fround(x.data[i * cols + j]! * y.data[i * cols + j]!)
      expected[j] = acc
    }
    for (const keepDims of [false, true]) {
      const f = jit((a: Tensor, b: Tensor) => sum(mul(a, b), { axis: axes, keepDims }))
      const got = f(x, y)
      expect(f.stats().lastExecutable?.fallbackSteps).toBe(0)
      expect(Array.from(got.data)).toEqual(Array.from(expected))
    }
  })
})

describe.runIf(T.wasmAvailable())('resident reluGrad', () => {
  beforeAll(() => T.setBackend(T.wasmBackend))
  afterAll(() => T.setBackend(undefined))

  it.each([1, 2, 7, 64, 129])('%i elements: y > 0 ? ct : +0, bit for bit (NaN, -0 and 0 included)', (n) => {
    const special = [NaN, -0, 0, 1, -1, Infinity, -Infinity]
    const ct = T.unsafeTensor(
      'float32',
      [n],
      Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? special[i % 7]! : i - 3.5)),
    )
    const y = T.unsafeTensor(
      'float32',
      [n],
      Float32Array.from({ length: n }, (_, i) => special[(i * 5) % 7]! * (i % 2 ? 1 : 2)),
    )
    const expected = Array.from(ct.data, (c, i) => (y.data[i]! > 0 ? c : 0))
    const f = jit((c: Tensor, v: Tensor) => reluGrad(c, v))
    const got = f(ct, y)
    expect(f.stats().lastRun).toBe('resident')
    expect(f.stats().lastExecutable?.fallbackSteps).toBe(0)
    got.data.forEach((v, i) =>
      expect(Object.is(v, expected[i]), `element ${i}: ${v} vs ${expected[i]}`).toBe(true),
    )
  })
})

describe.runIf(T.wasmAvailable())('the resident region with worker threads', () => {
  afterAll(() => T.setBackend(undefined))

  it('a jitted step whose products split across threads gives the single-thread bits', () => {
    T.setBackend(T.wasmBackend)
    // 256 × 512 × 64 = 8M multiply-adds per product: above the threaded GEMM's threshold.
    const x = filled(80, [256, 64])
    const w = filled(81, [512, 64], 0.2)
    const b = filled(82, [512], 0.1)
    const f = (x: Tensor, w: Tensor, b: Tensor): Tensor[] => {
      const h = relu(add(matmul(x, w, { transposeB: true }), b))
      const g = grad((w: Tensor) => sum(mul(relu(add(matmul(x, w, { transposeB: true }), b)), h)))(w)
      return [h, g]
    }
    const before = T.getThreads()
    T.setThreads(1)
    const one = jit(f)(x, w, b)
    T.setThreads(2)
    const jitted = jit(f)
    const threaded = T.threadPoolStatus().threads > 1
    const jobs = T.threadPoolStatus().parallelJobs
    const two = jitted(x, w, b)
    const split = T.threadPoolStatus().parallelJobs - jobs
    T.setThreads(before)
    expect(jitted.stats().lastRun).toBe('resident')
    // Where the engine has no shared memory or workers the products stay on this thread.
    if (threaded) expect(split).toBeGreaterThan(0)
    one.forEach((y, i) => expect(Array.from(two[i]!.data)).toEqual(Array.from(y.data)))
  })
})

describe.runIf(T.wasmAvailable())('executable edge cases', () => {
  beforeAll(() => T.setBackend(T.wasmBackend))
  afterAll(() => T.setBackend(undefined))

  it('an input returned as it is, an output returned twice, an int32 input and an empty product', () => {
    const x = filled(90, [6, 5])
    const w = filled(91, [5, 4])
    const idx = T.unsafeTensor('int32', [3], Int32Array.of(2, 0, 5))
    const f = jit((x: Tensor, w: Tensor, i: Tensor, e: Tensor) => {
      const y = relu(matmul(x, w))
      const picked = O.gather(x, i, { axis: 0 })
      return { x, y, again: y, picked, empty: matmul(e, w) }
    })
    const e = T.unsafeTensor('float32', [0, 5], new Float32Array(0))
    const out = f(x, w, idx, e)
    expect(f.stats().lastRun).toBe('resident')
    expect(out.x).toBe(x)
    expect(Array.from(out.y.data)).toEqual(Array.from(out.again.data))
    const yEager = relu(matmul(x, w))
    expectClose(out.y, yEager, 1e-6)
    expectClose(out.picked, O.gather(x, idx, { axis: 0 }), 0)
    expect(out.empty.shape).toEqual([0, 4])
  })

  it('an output never aliases the caller’s input data, and inputs are never written', () => {
    const x = filled(92, [64])
    const copy = Float32Array.from(x.data)
    const f = jit((v: Tensor) => [neg(v), add(v, 1)])
    const [a, b] = f(x)
    expect(Array.from(x.data)).toEqual(Array.from(copy))
    expect(a!.data.buffer).not.toBe(x.data.buffer)
    expect(Array.from(a!.data)).toEqual(Array.from(copy, (v) => -v))
    expect(Array.from(b!.data)).toEqual(Array.from(copy, (v) => Math.fround(v + 1)))
  })
})
