import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Backend, Tensor } from '@backfold/tensor'
import {
  add,
  customVjp,
  eliminateCommonSubexpressions,
  eliminateDeadCode,
  evalGraph,
  exp,
  foldConstants,
  grad,
  jit,
  makeGraph,
  matmul,
  mul,
  registry,
  show,
  sin,
  sub,
  sum,
  vmap,
} from '@backfold/ops'
import { elementwiseRows } from './rows/elementwise'
import { structuralRows } from './rows/structural'
import type { GradRow } from './rows/types'

// The staging table: every row of the gradient table (so every registered op) staged. The graph's
// output shape and dtype must be eager mode's, and jit(f), jit(grad(f)) and grad(jit(f)) must give
// eager mode's values, on every backend.
const rows: ReadonlyArray<GradRow> = [...elementwiseRows, ...structuralRows]

const backends: ReadonlyArray<readonly [string, Backend]> = [
  ['reference', T.referenceBackend],
  ...(T.wasmAvailable() ? [['wasm', T.wasmBackend] as const] : []),
]

const expectClose = (actual: Tensor, expected: Tensor): void => {
  expect(actual.shape).toEqual(expected.shape)
  expect(actual.dtype).toBe(expected.dtype)
  const a = actual.data
  expected.data.forEach((v, i) => {
    const got = a[i]!
    if (Number.isNaN(v)) expect(got).toBeNaN()
    else expect(Math.abs(got - v)).toBeLessThanOrEqual(1e-12 + 1e-12 * Math.abs(v))
  })
}

describe('every registered op has a shape rule', () => {
  it('each registry entry carries an abstract function', () => {
    for (const op of Object.values(registry)) expect(typeof op.abstract, op.name).toBe('function')
  })
})

describe.each(backends)('staging on the %s backend', (_backendName, backend) => {
  beforeAll(() => T.setBackend(backend))
  afterAll(() => T.setBackend(undefined))

  describe.each(rows.map((r) => [`${r.op}: ${r.label}`, r] as const))('%s', (_name, row) => {
    const args = row.args()
    const eager = row.fn(...args)

    it('the graph has the output shape and dtype of eager mode, and evalGraph its values', () => {
      const graph = makeGraph(row.fn)(...args)
      expect(graph.outputs.map((v) => [v.shape, v.dtype])).toEqual([[eager.shape, eager.dtype]])
      expectClose(evalGraph(graph, args)[0]!, eager)
    })

    it('jit(f) gives eager values', () => {
      expectClose(jit(row.fn)(...args), eager)
    })

    const first = args.findIndex((a) => a.dtype !== 'int32')
    if (first >= 0 && eager.dtype !== 'int32') {
      const weighting = T.unsafeTensor(
        'float64',
        eager.shape,
        Float64Array.from({ length: T.sizeOf(eager.shape) }, (_, i) => Math.sin(i + 1)),
      )
      const loss = (...xs: Tensor[]): Tensor => sum(mul(row.fn(...xs), weighting))
      const expected = grad(loss, { argnums: first })(...args)
      it('jit(grad(f)) gives eager gradients', () => {
        expectClose(jit(grad(loss, { argnums: first }))(...args), expected)
      })
      it('grad(jit(f)) gives eager gradients', () => {
        expectClose(grad(jit(loss), { argnums: first })(...args), expected)
      })
    }
  })
})

describe('makeGraph and show', () => {
  it('prints one equation per line with shapes and dtypes', () => {
    const graph = makeGraph((x: Tensor, w: Tensor) => sum(exp(matmul(x, w))))(
      T.zeros([2, 3]),
      T.zeros([3, 4]),
    )
    expect(show(graph)).toBe(
      [
        '{ lambda a:f32[2,3] b:f32[3,4] .',
        '  let c:f32[2,4] = matmul a b {"transposeA":false,"transposeB":false}',
        '      d:f32[2,4] = exp c',
        '      e:f32[] = sum d {"axes":[0,1],"keepDims":false}',
        '  in ( e ) }',
      ].join('\n'),
    )
  })

  it("prints an op's parameters with its own format when it has one (a fused program as text)", () => {
    const f = jit((v: Tensor) => exp(add(mul(v, 2), 1)))
    f(T.tensor([1, 2]))
    expect(show(f.stats().lastGraph!)).toContain(
      'elementwiseProgram a { (1) 2; 1; mul a0 v1; add v3 v2; exp v4 }',
    )
    // With a reduction along the last axis: a reduction program, the result's shape after the arrow.
    const g = jit((v: Tensor) => sum(exp(add(mul(v, 2), 1))))
    g(T.tensor([1, 2]))
    expect(show(g.stats().lastGraph!)).toContain(
      'reductionProgram a { (1) 2; 1; mul a0 v1; add v3 v2; exp v4; sum v5 → [] }',
    )
  })

  it('stages the backward pass of grad, and names the user function in a shape error', () => {
    const graph = makeGraph(grad((x: Tensor) => sum(sin(x))))(T.zeros([3]))
    expect(graph.equations.map((e) => e.op.name)).toContain('cos')
    function badModel(x: Tensor): Tensor {
      return matmul(x, x)
    }
    expect(() => makeGraph(badModel)(T.zeros([2, 3]))).toThrow(/while staging function badModel: .*matmul/)
  })

  it('never reads the data of its arguments, and refuses kernels on staged values', () => {
    expect(() => makeGraph((x: Tensor) => T.exp(x))(T.zeros([2]))).toThrow(/exp.*staged/s)
  })

  it('refuses a closure over a value traced outside it, and a customVjp function', () => {
    const outer = (y: Tensor): Tensor => sum(jit((x: Tensor) => mul(x, y))(T.ones([2])))
    expect(() => grad(outer)(T.ones([2]))).toThrow(/pass that value to the staged function as an argument/)
    const custom = customVjp((x: Tensor) => sin(x), {
      forward: (x) => [sin(x), x],
      backward: (x, ct) => [mul(ct, x)],
    })
    expect(() => makeGraph(custom)(T.zeros([2]))).toThrow(/customVjp.*cannot be staged/)
  })
})

describe('passes', () => {
  const x = T.tensor([1, 2, 3])
  it('dead-code elimination drops what no output uses', () => {
    const graph = makeGraph((v: Tensor) => {
      exp(v) // unused
      return sin(v)
    })(x)
    expect(graph.equations.map((e) => e.op.name)).toEqual(['exp', 'sin'])
    expect(eliminateDeadCode(graph).equations.map((e) => e.op.name)).toEqual(['sin'])
  })
  it('common-subexpression elimination merges equal equations, and the values stay', () => {
    const graph = makeGraph((v: Tensor) => add(sin(v), sin(v)))(x)
    const merged = eliminateCommonSubexpressions(graph)
    expect(merged.equations.map((e) => e.op.name)).toEqual(['sin', 'add'])
    expectClose(evalGraph(merged, [x])[0]!, evalGraph(graph, [x])[0]!)
  })
  it('constant folding precomputes what depends on constants only', () => {
    const c = T.tensor([0.5, 0.25, 2])
    const graph = makeGraph((v: Tensor) => mul(v, exp(c)))(x)
    const folded = foldConstants(graph)
    expect(folded.equations.map((e) => e.op.name)).toEqual(['mul'])
    expectClose(evalGraph(folded, [x])[0]!, mul(x, exp(c)))
  })
})

describe('jit', () => {
  it('stages once per signature and counts cache hits', () => {
    const f = jit((v: Tensor) => sum(mul(v, v)))
    f(T.tensor([1, 2]))
    f(T.tensor([3, 4]))
    expect(f.stats()).toMatchObject({ traces: 1, hits: 1 })
    f(T.tensor([1, 2, 3])) // a new shape
    f(T.tensor([1, 2], 'float64')) // a new dtype
    expect(f.stats()).toMatchObject({ traces: 3, hits: 1 })
    expect(T.item(f(T.tensor([3, 4])))).toBe(25)
  })
  it('keys static arguments by value and trees by structure', () => {
    const f = jit((v: Tensor, power: number) => (power === 2 ? mul(v, v) : v), { staticArgnums: [1] })
    expect(T.toArray(f(T.tensor([3]), 2))).toEqual([9])
    expect(T.toArray(f(T.tensor([3]), 1))).toEqual([3])
    expect(f.stats().traces).toBe(2)
    const g = jit((p: { readonly a: Tensor; readonly b?: Tensor }) =>
      p.b === undefined ? p.a : add(p.a, p.b),
    )
    expect(T.toArray(g({ a: T.tensor([1]) }))).toEqual([1])
    expect(T.toArray(g({ a: T.tensor([1]), b: T.tensor([2]) }))).toEqual([3])
    expect(g.stats().traces).toBe(2)
  })
  it('tells apart consecutive calls that differ only in a constant of a tree, a key or a shape', () => {
    // The previous call's signature is compared in place before any key is built: every part counts.
    const f = jit((p: { readonly v: Tensor; readonly k: number | string }) =>
      typeof p.k === 'number' ? mul(p.v, p.k) : p.v,
    )
    expect(T.toArray(f({ v: T.tensor([3]), k: 2 }))).toEqual([6])
    expect(T.toArray(f({ v: T.tensor([3]), k: 5 }))).toEqual([15])
    expect(T.toArray(f({ v: T.tensor([3]), k: 'x' }))).toEqual([3])
    expect(T.toArray(f({ v: T.tensor([3]), k: 5 }))).toEqual([15])
    expect(f.stats()).toMatchObject({ traces: 3, hits: 1 })
    const g = jit((p: Readonly<Record<string, Tensor>>) => Object.values(p).reduce((a, b) => sub(a, b)))
    expect(T.toArray(g({ a: T.tensor([5]), b: T.tensor([1]) }))).toEqual([4])
    expect(T.toArray(g({ b: T.tensor([5]), a: T.tensor([1]) }))).toEqual([4]) // b − a: keys in order
    expect(T.toArray(g({ a: T.tensor([5, 6]), b: T.tensor([1, 1]) }))).toEqual([4, 5])
    expect(g.stats()).toMatchObject({ traces: 3, hits: 0 })
  })
  it('composes with vmap and with itself', () => {
    const f = (v: Tensor): Tensor => sum(mul(sin(v), v))
    // float64: a fused float32 sum rounds once where eager rounds every product (see fuse.test.ts).
    const xs = T.tensor(
      [
        [1, 2],
        [3, 4],
      ],
      'float64',
    )
    expectClose(vmap(jit(f))(xs), vmap(f)(xs))
    expectClose(jit(vmap(f))(xs), vmap(f)(xs))
    expectClose(jit(jit(f))(T.tensor([1, 2], 'float64')), f(T.tensor([1, 2], 'float64')))
    expectClose(grad(grad(jit((s: Tensor) => sum(mul(mul(s, s), s)))))(T.scalar(2)), T.scalar(12))
  })
  it('refuses unknown options and non-JSON static arguments', () => {
    expect(() => jit((v: Tensor) => v, { static: [1] } as never)).toThrow(/static/)
    const f = jit((v: Tensor, _g: () => void) => v, { staticArgnums: [1] })
    expect(() => f(T.ones([1]), () => undefined)).toThrow(/JSON/)
  })
})
