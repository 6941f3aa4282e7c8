import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Backend, ElementwiseProgram, Tensor } from '@backfold/tensor'
import {
  add,
  applyOp,
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
      expect(names(jitted.stats().lastGraph!)).toContain('elementwiseProgram')
      expectClose(grad(jit(scalarLoss))(x), grad(scalarLoss)(x))
      expectClose(jit(grad(scalarLoss))(x), grad(scalarLoss)(x))
      expectClose(vmap(jit(f))(x), vmap(f)(x))
      expectClose(jit(vmap(f))(x), vmap(f)(x))
    }
  })

  it('second derivatives through a fused program agree with eager', () => {
    const cube = (s: Tensor): Tensor => sum(mul(tanh(s), mul(s, s)))
    const s = draw(17, [3])
    expectClose(grad((v: Tensor) => sum(grad(jit(cube))(v)))(s), grad((v: Tensor) => sum(grad(cube)(v)))(s))
  })
})
