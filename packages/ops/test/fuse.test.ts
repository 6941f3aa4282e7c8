import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Backend, ElementwiseProgram, Tensor } from '@backfold/tensor'
import {
  add,
  applyOp,
  fuseReductions,
  log,
  logSoftmax,
  oneHot,
  reductionProgram,
  reductionProgramOp,
  type ReductionProgramParams,
  rsqrt,
  softmax,
  softmaxCrossEntropy,
  softmaxCrossEntropyWithIntegerLabels,
  show,
  astype,
  defineOp,
  div,
  elementwiseProgram,
  eliminateCommonSubexpressions,
  evalGraph,
  exp,
  fuseElementwise,
  grad,
  jit,
  less,
  makeGraph,
  matmul,
  max,
  mean,
  mul,
  neg,
  optimize,
  reciprocal,
  relu,
  sameAsInput,
  batchElementwise,
  sigmoid,
  sin,
  gelu,
  square,
  sub,
  sum,
  tanh,
  vmap,
  type Graph,
} from '@backfold/ops'

const backends: ReadonlyArray<readonly [string, Backend]> = [
  ['reference', T.referenceBackend],
  ...(T.wasmAvailable() ? [['wasm', T.wasmBackend] as const] : []),
]

const names = (graph: Graph): string[] => graph.equations.map((eq) => eq.op.name)
/** A fused program of several steps, alone or (after jit's epilogue pass) applied to a matmul's product. */
const holdsFusedProgram = (graph: Graph): boolean =>
  graph.equations.some(
    (eq) =>
      (eq.op.name === 'elementwiseProgram' || eq.op.name === 'matmulEpilogue') &&
      (eq.params as { readonly program: { readonly instructions: ReadonlyArray<unknown> } }).program
        .instructions.length > 1,
  )

/** Within `tolerance` relative to the larger magnitude (fused float32 chains round once, eager per op). */
const expectClose = (actual: Tensor, expected: Tensor, tolerance = 1e-5): void => {
  expect(actual.shape).toEqual(expected.shape)
  expect(actual.dtype).toBe(expected.dtype)
  expected.data.forEach((v, i) => {
    const got = actual.data[i]!
    expect(Math.abs(got - v)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(v)))
  })
}

const draw = (seed: number, shape: ReadonlyArray<number>): Tensor =>
  T.random.uniform(T.random.key(seed), shape, { min: -2, max: 2 })

describe('fuseElementwise on graphs', () => {
  const x = draw(1, [4, 5])

  it('turns a chain into one equation, scalar constants written into the program', () => {
    const f = (v: Tensor): Tensor => add(mul(exp(tanh(v)), v), 1)
    const graph = makeGraph(f)(x)
    expect(names(graph)).toEqual(['tanh', 'exp', 'mul', 'add'])
    const fused = fuseElementwise(graph)
    expect(names(fused)).toEqual(['elementwiseProgram'])
    // The constant 1 is an instruction, not an input.
    expect(fused.equations[0]!.inputs).toHaveLength(1)
    expect(fused.outputs).toEqual(graph.outputs)
    expectClose(evalGraph(fused, [x])[0]!, f(x))
  })

  it('keeps a value that is a graph output as a group root, read by the next group', () => {
    const graph = makeGraph((v: Tensor) => {
      const t = tanh(sin(v))
      return [t, mul(exp(t), v)]
    })(x)
    const fused = fuseElementwise(graph)
    expect(names(fused)).toEqual(['elementwiseProgram', 'elementwiseProgram'])
    const [first, second] = fused.equations
    expect(first!.output).toBe(graph.outputs[0])
    expect(second!.inputs).toContain(graph.outputs[0])
    const [t, y] = evalGraph(fused, [x])
    expectClose(t!, tanh(sin(x)))
    expectClose(y!, mul(exp(tanh(sin(x))), x))
  })

  it('keeps a value read by an equation outside the group (here a reduction) as a group root', () => {
    // softmax by hand: e = exp(v - max) is read by sum and by div.
    const graph = makeGraph((v: Tensor) => {
      const e = exp(sub(v, max(v, { axis: 1, keepDims: true })))
      return div(e, sum(e, { axis: 1, keepDims: true }))
    })(x)
    expect(names(fuseElementwise(graph))).toEqual(['max', 'elementwiseProgram', 'sum', 'div'])
  })

  it('breaks chains at non-elementwise ops, at shape changes, at int32 values and at user ops', () => {
    const w = draw(2, [5, 3])
    const broken = makeGraph((v: Tensor) => sin(neg(matmul(exp(neg(v)), w))))(x)
    expect(names(fuseElementwise(broken))).toEqual(['elementwiseProgram', 'matmul', 'elementwiseProgram'])
    // exp(row) is [5]; the sum it feeds is [4, 5]: different shapes, so exp stays apart.
    const row = draw(3, [5])
    const widened = makeGraph((r: Tensor, v: Tensor) => tanh(add(exp(r), v)))(row, x)
    expect(names(fuseElementwise(widened))).toEqual(['exp', 'elementwiseProgram'])
    const masked = makeGraph((v: Tensor) => mul(astype(less(v, 0), 'float32'), neg(v)))(x)
    // The comparison (int32) and the cast stay; the float chain after them fuses.
    expect(names(fuseElementwise(masked))).toEqual(['less', 'astype', 'elementwiseProgram'])
    // A user op called 'exp' is not the built-in exp, whatever its name says.
    const impostor = defineOp<'exp', [Tensor]>({
      name: 'exp',
      forward: ([v]) => T.neg(v),
      vjp: (ct) => [neg(ct)],
      batch: batchElementwise,
      abstract: sameAsInput,
    })
    const withImpostor = makeGraph((v: Tensor) => square(applyOp(impostor, [v], undefined)))(x)
    expect(names(fuseElementwise(withImpostor))).toEqual(['exp', 'square'])
  })

  it('leaves a single elementwise equation alone', () => {
    expect(names(fuseElementwise(makeGraph((v: Tensor) => exp(v))(x)))).toEqual(['exp'])
  })

  it('common-subexpression elimination keeps programs whose constants differ only in the sign of 0', () => {
    const divideBy = (zero: number): ElementwiseProgram => ({
      arity: 1,
      instructions: [
        { kind: 'constant', value: zero },
        { kind: 'binary', op: 'div', a: 0, b: 1 },
      ],
    })
    const f = (v: Tensor): Tensor =>
      add(elementwiseProgram(divideBy(0), [v]), elementwiseProgram(divideBy(-0), [v]))
    const ones = T.ones([3])
    expect(names(eliminateCommonSubexpressions(makeGraph(f)(ones)))).toEqual([
      'elementwiseProgram',
      'elementwiseProgram',
      'add',
    ])
    // Infinity + -Infinity: NaN, where merging the two would give Infinity.
    expect(Array.from(jit(f)(ones).data).every(Number.isNaN)).toBe(true)
  })

  it('recomputes a cheap step read by two groups (exact GELU and its gradient: ½x and x/√2)', () => {
    const v = draw(40, [40, 33])
    const w = draw(41, [33, 5])
    // gelu(v) feeds a product, so the forward chain and the backward program are separate groups.
    const loss = (u: Tensor, m: Tensor): Tensor => sum(matmul(gelu(u), m))
    const graph = optimize(makeGraph(grad(loss, { argnums: [0, 1] }))(v, w))
    // Without recomputation ½x and x/√2 stay single muls (read by the forward chain and the
    // backward program) and the forward splits around them; with it only programs remain.
    expect(names(graph).filter((n) => n === 'mul')).toEqual([])
    const [gv, gw] = evalGraph(graph, [v, w])
    const [ev, ew] = grad(loss, { argnums: [0, 1] })(v, w)
    expectClose(gv!, ev)
    expectClose(gw!, ew)
  })

  it('runs in optimize, after dead code is dropped', () => {
    const graph = makeGraph((v: Tensor) => {
      const t = exp(v)
      sum(t) // unused: must not keep t out of the group
      return sin(t)
    })(x)
    expect(names(optimize(graph))).toEqual(['elementwiseProgram'])
  })
})

// A two-layer perceptron's loss: fused chains inside (bias + relu, the squared error), matmuls and
// reductions between.
interface Params {
  readonly w1: Tensor
  readonly b1: Tensor
  readonly w2: Tensor
  readonly b2: Tensor
}
const mlpLoss = (params: Params, inputs: Tensor, targets: Tensor): Tensor => {
  const hidden = relu(add(matmul(inputs, params.w1), params.b1))
  const out = sigmoid(add(matmul(hidden, params.w2), params.b2))
  return mean(square(sub(out, targets)))
}
const sigmoidChain = (v: Tensor): Tensor => mul(reciprocal(add(exp(neg(v)), 1)), tanh(v))
const softmaxByHand = (v: Tensor): Tensor => {
  const e = exp(sub(v, max(v, { axis: -1, keepDims: true })))
  return div(e, sum(e, { axis: -1, keepDims: true }))
}

describe.each(backends)('jit with fusion on the %s backend', (_name, backend) => {
  beforeAll(() => T.setBackend(backend))
  afterAll(() => T.setBackend(undefined))

  const params: Params = { w1: draw(10, [6, 8]), b1: draw(11, [8]), w2: draw(12, [8, 3]), b2: draw(13, [3]) }
  const inputs = draw(14, [5, 6])
  const targets = T.random.uniform(T.random.key(15), [5, 3])
  const x = draw(16, [4, 7])

  it('an MLP loss: jit agrees with eager, and its graph holds fused programs', () => {
    const loss = jit(mlpLoss)
    expectClose(loss(params, inputs, targets), mlpLoss(params, inputs, targets))
    expect(holdsFusedProgram(loss.stats().lastGraph!)).toBe(true)
  })

  it('an MLP loss: grad(jit(f)) and jit(grad(f)) agree with grad(f)', () => {
    const eager = grad(mlpLoss)(params, inputs, targets)
    const outside = grad(jit(mlpLoss))(params, inputs, targets)
    const jitGrad = jit(grad(mlpLoss))
    const inside = jitGrad(params, inputs, targets)
    for (const key of ['w1', 'b1', 'w2', 'b2'] as const) {
      expectClose(outside[key], eager[key])
      expectClose(inside[key], eager[key])
    }
    // The staged backward pass is fused too.
    expect(holdsFusedProgram(jitGrad.stats().lastGraph!)).toBe(true)
  })

  it('sigmoid and softmax chains: jit, grad(jit), jit(grad) and vmap(jit) agree with eager', () => {
    for (const f of [sigmoidChain, softmaxByHand]) {
      const scalarLoss = (v: Tensor): Tensor => sum(mul(f(v), v))
      const jitted = jit(f)
      expectClose(jitted(x), f(x))
      expect(names(jitted.stats().lastGraph!).some((n) => n.endsWith('Program'))).toBe(true)
      expectClose(grad(jit(scalarLoss))(x), grad(scalarLoss)(x))
      expectClose(jit(grad(scalarLoss))(x), grad(scalarLoss)(x))
      expectClose(vmap(jit(f))(x), vmap(f)(x))
      expectClose(jit(vmap(f))(x), vmap(f)(x))
    }
  })

  it('a dense tail tanh(x · w + b) and a GELU-like chain, large enough for generated code: jit and jit(grad) agree with eager', () => {
    // [40, 33]: above the generated kernel's minimum size, an odd row length, w and b repeated rows.
    const xs = draw(20, [40, 33])
    const w = draw(21, [33])
    const b = draw(22, [1, 33])
    const tail = (v: Tensor, wv: Tensor, bv: Tensor): Tensor => tanh(add(mul(v, wv), bv))
    const gate = (v: Tensor): Tensor => mul(v, sigmoid(mul(v, 1.702)))
    const jitted = jit(tail)
    expectClose(jitted(xs, w, b), tail(xs, w, b), 1e-6)
    expect(names(jitted.stats().lastGraph!)).toEqual(['elementwiseProgram'])
    expectClose(jit(gate)(xs), gate(xs), 1e-6)
    const loss = (v: Tensor, wv: Tensor): Tensor => sum(gate(tail(v, wv, b)))
    const eager = grad(loss, { argnums: [0, 1] })(xs, w)
    const staged = jit(grad(loss, { argnums: [0, 1] }))(xs, w)
    expectClose(staged[0], eager[0])
    expectClose(staged[1], eager[1], 1e-5)
  })

  it('second derivatives through a fused program agree with eager', () => {
    const cube = (s: Tensor): Tensor => sum(mul(tanh(s), mul(s, s)))
    const s = draw(17, [3])
    expectClose(grad((v: Tensor) => sum(grad(jit(cube))(v)))(s), grad((v: Tensor) => sum(grad(cube)(v)))(s))
  })
})

// Reductions along the last axis, written as plain ops: each becomes one reductionProgram.
const logSoftmaxByHand = (v: Tensor): Tensor => {
  const d = sub(v, max(v, { axis: -1, keepDims: true }))
  return sub(d, log(sum(exp(d), { axis: -1, keepDims: true })))
}
const layerNormByHand = (v: Tensor, g: Tensor, b: Tensor): Tensor => {
  const d = sub(v, mean(v, { axis: -1, keepDims: true }))
  const variance = mean(square(d), { axis: -1, keepDims: true })
  return add(mul(mul(d, rsqrt(add(variance, 1e-5))), g), b)
}
/** Mean cross-entropy against probabilities, by hand: per row −Σ p · logSoftmax(v), then the batch mean. */
const crossEntropyByHand = (v: Tensor, p: Tensor): Tensor =>
  mean(neg(sum(mul(p, logSoftmaxByHand(v)), { axis: -1 })))
const integerCrossEntropyByHand = (v: Tensor, labels: Tensor): Tensor =>
  crossEntropyByHand(v, oneHot(labels, v.shape[v.shape.length - 1]!))

const count = (graph: Graph, name: string): number => names(graph).filter((n) => n === name).length
const programsOf = (graph: Graph): string[] =>
  graph.equations
    .filter((eq) => eq.op.name === 'reductionProgram')
    // why: these equations are reductionProgramOp's, applied with its parameters
    .map((eq) => reductionProgramOp.formatParams!(eq.params as ReductionProgramParams))

describe('fuseReductions on graphs', () => {
  const x = draw(30, [4, 7])
  const g = draw(31, [7])
  const p = softmaxByHand(draw(32, [4, 7]))
  const labels = T.tensor([0, 3, 6, 2], 'int32')

  it('softmax by hand: one equation, the program max, sub, exp, sum, div', () => {
    const graph = optimize(makeGraph(softmaxByHand)(x))
    expect(names(graph)).toEqual(['reductionProgram'])
    expect(programsOf(graph)).toEqual(['(1) max a0; sub a0 v1; exp v2; sum v3; div v3 v4 → [4,7]'])
    expect(show(graph)).toContain(
      'reductionProgram a { (1) max a0; sub a0 v1; exp v2; sum v3; div v3 v4 → [4,7] }',
    )
  })

  it('log-softmax and layer norm by hand (gain and bias rows, an epsilon constant): one equation each', () => {
    expect(programsOf(optimize(makeGraph(logSoftmaxByHand)(x)))).toEqual([
      '(1) max a0; sub a0 v1; exp v2; sum v3; log v4; sub v2 v5 → [4,7]',
    ])
    const norm = optimize(makeGraph(layerNormByHand)(x, g, g))
    expect(names(norm)).toEqual(['reductionProgram'])
    expect(programsOf(norm)[0]).toMatch(
      /^\(3\) 0\.0000099\d*; mean a0; sub a0 v4; square v5; mean v6; add v7 v3; rsqrt v8; mul v5 v9; mul v10 a1; add v11 a2 → \[4,7\]$/,
    )
  })

  it('cross-entropy (probabilities, and integer labels through oneHot): the per-row loss in one program, the batch mean in another', () => {
    const probabilities = optimize(makeGraph(crossEntropyByHand)(x, p))
    expect(names(probabilities)).toEqual(['reductionProgram', 'reductionProgram'])
    expect(programsOf(probabilities)).toEqual([
      '(2) max a0; sub a0 v2; exp v3; sum v4; log v5; sub v3 v6; mul a1 v7; sum v8 → [4]',
      '(1) neg a0; mean v1 → []',
    ])
    expect(names(optimize(makeGraph(integerCrossEntropyByHand)(x, labels)))).toEqual([
      'oneHot',
      'reductionProgram',
      'reductionProgram',
    ])
  })

  it('the softmax op is written as its ops and fused; under grad, softmax, softmaxCrossEntropy and logSoftmax backward passes fuse', () => {
    expect(names(optimize(makeGraph((v: Tensor) => mul(softmax(v), 2))(x)))).toEqual(['reductionProgram'])
    const w = draw(33, [4, 7])
    // Staged gradients (every reduction of the backward pass inside a program).
    const staged = (f: (v: Tensor, u: Tensor) => Tensor): Graph => optimize(makeGraph(grad(f))(x, w))
    for (const graph of [
      staged((v, u) => sum(mul(softmax(v), u))),
      staged((v, u) => mean(softmaxCrossEntropy(v, softmax(u)))),
      staged((v, u) => sum(mul(logSoftmax(v), u))),
    ]) {
      expect(count(graph, 'reductionProgram'), show(graph)).toBeGreaterThanOrEqual(1)
      for (const op of ['sum', 'max', 'mean', 'softmax', 'exp'])
        expect(count(graph, op), `${op} left in\n${show(graph)}`).toBe(0)
    }
    // softmax's VJP, y ⊙ (ȳ − Σ ȳ ⊙ y), fuses with the forward softmax into one program.
    expect(names(staged((v, u) => sum(mul(softmax(v), u))))).toEqual(['reductionProgram'])
  })

  it('computes repeated steps once: equal constants and the same op on the same values', () => {
    const twice = optimize(makeGraph((v: Tensor) => add(exp(mul(v, 2)), exp(mul(v, 2))))(x))
    expect(twice.equations.map((eq) => eq.op.formatParams?.(eq.params as never))).toEqual([
      '(1) 2; mul a0 v1; exp v2; add v3 v3',
    ])
    // Layer norm's forward and backward in one program, each distinct step once.
    const norm = optimize(makeGraph(grad((v: Tensor) => sum(mul(layerNormByHand(v, g, g), v))))(x))
    expect(names(norm)).toEqual(['reductionProgram'])
    const steps = programsOf(norm)[0]!.split(' → ')[0]!.split('; ')
    expect(new Set(steps.slice(1)).size).toBe(steps.length - 1)
  })

  it('leaves reductions over other axes, all axes and axes of length 1 alone', () => {
    const over = (f: (v: Tensor) => Tensor): string[] => names(optimize(makeGraph(f)(x)))
    expect(over((v) => div(exp(v), sum(exp(v), { axis: 0, keepDims: true })))).not.toContain(
      'reductionProgram',
    )
    expect(over((v) => sum(exp(v)))).not.toContain('reductionProgram')
    expect(
      names(optimize(makeGraph((v: Tensor) => sum(exp(v), { axis: -1, keepDims: true }))(draw(34, [4, 1])))),
    ).not.toContain('reductionProgram')
  })

  it('keeps a value read outside the group (a graph output) out of it', () => {
    const both = (v: Tensor): [Tensor, Tensor] => {
      const e = exp(sub(v, max(v, { axis: -1, keepDims: true })))
      return [e, div(e, sum(e, { axis: -1, keepDims: true }))]
    }
    const graph = fuseReductions(makeGraph(both)(x))
    // e is an output: it is computed on its own (with the max it reads), and the normalisation reads it.
    expect(programsOf(graph)).toEqual([
      '(1) max a0; sub a0 v1; exp v2 → [4,7]',
      '(1) sum a0; div a0 v1 → [4,7]',
    ])
  })
})

describe.each(backends)('jit with fused reductions on the %s backend', (_name, backend) => {
  beforeAll(() => T.setBackend(backend))
  afterAll(() => T.setBackend(undefined))

  // Small rows, and rows large enough for generated code (odd length, many rows).
  for (const shape of [
    [4, 7],
    [21, 65],
  ] as const) {
    const x = draw(40, shape)
    const u = draw(41, shape)
    const g = draw(42, [shape[1]])
    const p = softmaxByHand(draw(43, shape))
    const labels = T.tensor(
      Array.from({ length: shape[0] }, (_, i) => (i * 5) % shape[1]),
      'int32',
    )

    it(`${shape.join('×')}: softmax, log-softmax, layer norm and cross-entropy by hand: jit, jit(grad), grad(jit) and vmap(jit) agree with eager`, () => {
      const cases: ReadonlyArray<readonly [string, (v: Tensor) => Tensor]> = [
        ['softmax', softmaxByHand],
        ['logSoftmax', logSoftmaxByHand],
        ['layerNorm', (v) => layerNormByHand(v, g, g)],
        ['crossEntropy', (v) => crossEntropyByHand(v, p)],
        ['integerCrossEntropy', (v) => integerCrossEntropyByHand(v, labels)],
        ['softmax op', (v) => mul(softmax(v), u)],
        ['softmaxCrossEntropy op', (v) => mean(softmaxCrossEntropy(v, p))],
        ['integer labels op', (v) => mean(softmaxCrossEntropyWithIntegerLabels(v, labels))],
      ]
      for (const [label, f] of cases) {
        const jitted = jit(f)
        expectClose(jitted(x), f(x))
        // The loss ops stay one equation forward; their backward passes fuse.
        if (!label.endsWith(' op') || label === 'softmax op')
          expect(names(jitted.stats().lastGraph!), label).toContain('reductionProgram')
        const loss = (v: Tensor): Tensor => sum(mul(f(v), f(v)))
        const eager = grad(loss)(x)
        const jitGrad = jit(grad(loss))
        expectClose(jitGrad(x), eager, 2e-5)
        expect(names(jitGrad.stats().lastGraph!), label).toContain('reductionProgram')
        expectClose(grad(jit(loss))(x), eager, 2e-5)
        // Per example under vmap (the cases that close over batch-shaped data have no per-example form).
        if (['softmax', 'logSoftmax', 'layerNorm'].includes(label)) expectClose(vmap(jit(f))(x), vmap(f)(x))
      }
    })
  }

  it('a reduction program by hand: second derivatives agree with the ops it stands for', () => {
    const program: T.ReductionProgram = {
      arity: 1,
      instructions: [
        { kind: 'reduce', op: 'max', x: 0 },
        { kind: 'binary', op: 'sub', a: 0, b: 1 },
        { kind: 'unary', op: 'exp', x: 2 },
        { kind: 'reduce', op: 'sum', x: 3 },
        { kind: 'binary', op: 'div', a: 3, b: 4 },
      ],
    }
    const s = draw(44, [3, 5])
    const w = draw(45, [3, 5])
    const fused = (v: Tensor): Tensor => sum(mul(reductionProgram(program, [v]), w))
    const plain = (v: Tensor): Tensor => sum(mul(softmaxByHand(v), w))
    expectClose(grad(fused)(s), grad(plain)(s))
    expectClose(
      grad((v: Tensor) => sum(mul(grad(fused)(v), w)))(s),
      grad((v: Tensor) => sum(mul(grad(plain)(v), w)))(s),
      1e-4,
    )
  })

  it('refuses a malformed program with a message that names it', () => {
    const bad = {
      arity: 1,
      instructions: [{ kind: 'reduce', op: 'prod', x: 0 }],
    } as unknown as T.ReductionProgram
    expect(() => reductionProgram(bad, [draw(46, [2, 3])])).toThrow(/unknown reduction prod/)
    expect(() => jit((v: Tensor) => reductionProgram(bad, [v]))(draw(46, [2, 3]))).toThrow(/reductionProgram/)
  })
})
