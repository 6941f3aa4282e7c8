import { describe, expect, it } from 'vitest'
import { allocate, flatten, random, sizeOf, toArray, unsafeTensor, type Tensor } from '@backfold/tensor'
import * as T from '@backfold/tensor'
import {
  add,
  applyOp,
  astype,
  batchElementwise,
  sameAsInput,
  cos,
  defineOp,
  exp,
  grad,
  hessian,
  hvp,
  jacfwd,
  jacrev,
  matmul,
  mean,
  mul,
  sin,
  square,
  sum,
  tanh,
  TraceError,
  vjp,
  vmap,
} from '@backfold/ops'

const f64 = (values: number[], shape?: number[]): Tensor =>
  T.reshape(T.tensor(values, 'float64'), shape ?? [values.length])
const normal = (seed: number, shape: number[]): Tensor =>
  random.normal(random.key(seed), shape, { dtype: 'float64' })

/**
 * The Jacobian as the old `jacobian` built it: one pullback per output element, with respect to
 * one tensor argument. The reference the batched `jacrev`/`jacfwd` are compared with.
 */
const perElementJacobian = (f: (...args: Tensor[]) => Tensor, args: Tensor[], argnum: number): Tensor => {
  const [out, pullback] = vjp(f, { argnums: argnum })(...args)
  const x = args[argnum]!
  const outSize = sizeOf(out.shape)
  const inSize = sizeOf(x.shape)
  const data = allocate('float64', outSize * inSize)
  for (let i = 0; i < outSize; i++) {
    const basis = allocate(out.dtype, outSize)
    basis[i] = 1
    const [row] = pullback(unsafeTensor(out.dtype, out.shape, basis))
    data.set(row.data, i * inSize)
  }
  return unsafeTensor('float64', [...out.shape, ...x.shape], data)
}

/** Central differences of `f` with respect to argument `argnum`, shape [...out, ...in]. */
const finiteDifferenceJacobian = (
  f: (...args: Tensor[]) => Tensor,
  args: Tensor[],
  argnum: number,
): Tensor => {
  const eps = 1e-6
  const x = args[argnum]!
  const out = f(...args)
  const outSize = sizeOf(out.shape)
  const inSize = sizeOf(x.shape)
  const data = new Float64Array(outSize * inSize)
  for (let i = 0; i < inSize; i++) {
    const at = (t: number): ArrayLike<number> => {
      const moved = Float64Array.from(x.data)
      moved[i] = moved[i]! + t
      return f(...args.map((a, n) => (n === argnum ? unsafeTensor('float64', x.shape, moved) : a))).data
    }
    const plus = at(eps)
    const minus = at(-eps)
    for (let o = 0; o < outSize; o++) data[o * inSize + i] = (plus[o]! - minus[o]!) / (2 * eps)
  }
  return unsafeTensor('float64', [...out.shape, ...x.shape], data)
}

const expectClose = (actual: Tensor, expected: Tensor, digits: number): void => {
  expect(actual.shape).toEqual(expected.shape)
  const a = toArray(actual)
  toArray(expected).forEach((e, i) => expect(a[i]).toBeCloseTo(e, digits))
}

// A function of a parameter tree and a data tensor with a tree output of three leaves, one scalar.
interface Params {
  readonly u: Tensor
  readonly v: Tensor
}
const params: Params = { u: f64([0.3, -0.7, 1.2]), v: f64([0.5, -1, 2, 0.1, 0.4, -0.3], [2, 3]) }
const data = f64([0.9, -0.2, 0.6])
const model = (p: Params, x: Tensor) => ({
  a: mul(sin(p.u), x),
  b: sum(mul(p.v, exp(x))),
  c: [mul(p.v, mul(p.u, x))],
})
// Each output leaf and each input leaf as a function of plain tensors, for the references.
const leafFns: ReadonlyArray<readonly [string, (u: Tensor, v: Tensor, x: Tensor) => Tensor]> = [
  ['a', (u, v, x) => model({ u, v }, x).a],
  ['b', (u, v, x) => model({ u, v }, x).b],
  ['c', (u, v, x) => model({ u, v }, x).c[0]!],
]
const leafArgs = (): Tensor[] => [params.u, params.v, data]

describe.each([
  ['jacrev', jacrev],
  ['jacfwd', jacfwd],
] as const)('%s', (name, jac) => {
  it('over a tree output and two tree arguments equals the per-element Jacobian and finite differences', () => {
    const J = jac(model, { argnums: [0, 1] })(params, data)
    // The output's tree, each leaf a tuple (one block per argument), each block shaped like its argument.
    const blocks = {
      a: J.a,
      b: J.b,
      c: J.c[0]!,
    }
    for (const [leaf, fn] of leafFns) {
      const [dParams, dx] = blocks[leaf as 'a' | 'b' | 'c']
      const pieces: ReadonlyArray<readonly [Tensor, number]> = [
        [dParams.u, 0],
        [dParams.v, 1],
        [dx, 2],
      ]
      for (const [block, argnum] of pieces) {
        const reference = perElementJacobian(fn, leafArgs(), argnum)
        expectClose(block, reference, 12)
        expectClose(block, finiteDifferenceJacobian(fn, leafArgs(), argnum), 7)
      }
    }
  })

  it('with one argnums index gives blocks of that argument type; default is argument 0', () => {
    const J = jac(model)(params, data)
    expect(J.a.u.shape).toEqual([3, 3])
    expect(J.a.v.shape).toEqual([3, 2, 3])
    expect(J.b.v.shape).toEqual([2, 3])
    expect(J.c[0]!.u.shape).toEqual([2, 3, 3])
    expectClose(J.c[0]!.v, perElementJacobian(leafFns[2]![1], leafArgs(), 1), 12)
    const Jx = jac(model, { argnums: 1 })(params, data)
    expect(Jx.b.shape).toEqual([3])
    expectClose(Jx.b, perElementJacobian(leafFns[1]![1], leafArgs(), 2), 12)
  })

  it('of an elementwise map is diagonal, in the input dtype', () => {
    const J = jac((x: Tensor) => mul(x, x))(f64([1, 2]))
    expect(J.shape).toEqual([2, 2])
    expect(toArray(J)).toEqual([2, 0, 0, 4])
    const J32 = jac((x: Tensor) => mul(x, x))(T.tensor([1, 2, 3]))
    expect(J32.dtype).toBe('float32')
    expect(toArray(J32)).toEqual([2, 0, 0, 0, 4, 0, 0, 0, 6])
  })

  it('handles scalar and empty leaves, and outputs that do not depend on an argument', () => {
    const f = (x: Tensor, y: Tensor) => ({ s: sum(square(x)), e: mul(y, 2), k: mul(x, 0) })
    const x = f64([1, -2])
    const y = T.zeros([0, 2], 'float64')
    const J = jac(f, { argnums: [0, 1] })(x, y)
    expect(toArray(J.s[0])).toEqual([2, -4])
    expect(J.s[1].shape).toEqual([0, 2])
    expect(J.e[0].shape).toEqual([0, 2, 2])
    expect(J.e[1].shape).toEqual([0, 2, 0, 2])
    expect(toArray(J.k[0])).toEqual([0, 0, 0, 0])
  })

  it('matches a matmul layer, where the pullback needs batched broadcasting and transposes', () => {
    const w = normal(1, [3, 2])
    const x = normal(2, [4, 3])
    const layer = (wi: Tensor, xi: Tensor): Tensor => tanh(matmul(xi, wi))
    const [dw, dx] = jac(layer, { argnums: [0, 1] })(w, x)
    expectClose(dw, perElementJacobian(layer, [w, x], 0), 12)
    expectClose(dx, perElementJacobian(layer, [w, x], 1), 12)
  })

  it('refuses int32 outputs and inputs, unknown options and absurd sizes with a TraceError', () => {
    expect(() => jac((x: Tensor) => astype(x, 'int32'))(f64([1.5]))).toThrow(TraceError)
    expect(() => jac((x: Tensor) => astype(x, 'int32'))(f64([1.5]))).toThrow(
      new RegExp(`^${name}: output leaf 0 .*int32`),
    )
    expect(() => jac((x: Tensor) => astype(x, 'float64'))(T.tensor([1], 'int32'))).toThrow(
      new RegExp(`^${name}: differentiated leaf 0 .*int32`),
    )
    const big = T.zeros([5000], 'float32')
    expect(() => jac((x: Tensor) => mul(x, 2))(big)).toThrow(/5000 × 5000 entries.*use vjp, jvp or hvp/)
    const untyped: (f: unknown, opts: unknown) => unknown = jac as never
    expect(() => untyped((x: Tensor) => x, { argnum: 0 })).toThrow(
      new RegExp(`^${name}: unknown option 'argnum' .*write 'argnums' instead`),
    )
    expect(() => jac((x: Tensor) => x, { argnums: 1 })(f64([1]))).toThrow(/argnums 1 is out of range/)
  })
})

describe('jacrev and jacfwd compose with the other transformations', () => {
  const f = (x: Tensor): Tensor => mul(sin(x), sum(mul(x, x)))
  const x = f64([0.4, -1.1, 0.8])

  it.each([
    ['jacrev', jacrev],
    ['jacfwd', jacfwd],
  ] as const)('grad of a %s penalty matches finite differences', (_name, jac) => {
    const penalty = (v: Tensor): Tensor => sum(square(jac(f)(v)))
    const g = grad(penalty)(x)
    expectClose(g, finiteDifferenceJacobian(penalty, [x], 0), 6)
  })

  it.each([
    ['jacrev', jacrev],
    ['jacfwd', jacfwd],
  ] as const)('vmap of %s equals the per-example Jacobians', (_name, jac) => {
    const batch = normal(31, [4, 3])
    const batched = vmap(jac(f))(batch)
    expect(batched.shape).toEqual([4, 3, 3])
    for (let i = 0; i < 4; i++) {
      const example = T.reshape(T.slice(batch, [{ start: i, stop: i + 1 }]), [3])
      expectClose(
        T.reshape(T.slice(batched, [{ start: i, stop: i + 1 }]), [3, 3]),
        perElementJacobian(f, [example], 0),
        12,
      )
    }
  })
})

describe('jacrev batches the pullback', () => {
  // y = 3x ; x̄ = 3ȳ, counting how often its VJP runs.
  let vjpCalls = 0
  const countingOp = defineOp<'countingTriple', [Tensor]>({
    name: 'countingTriple',
    forward: ([x]) => T.mul(x, 3),
    vjp: (ct) => {
      vjpCalls += 1
      return [mul(ct, 3)]
    },
    batch: batchElementwise,
    abstract: sameAsInput,
  })
  const triple = (x: Tensor): Tensor => applyOp(countingOp, [x], undefined)

  it('runs each VJP once for all rows of an output leaf (the old Jacobian ran it once per row)', () => {
    vjpCalls = 0
    const J = jacrev(triple)(f64([1, 2, 3, 4, 5]))
    expect(vjpCalls).toBe(1)
    expect(toArray(J)).toEqual([3, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 3])
    vjpCalls = 0
    perElementJacobian(triple, [f64([1, 2, 3, 4, 5])], 0)
    expect(vjpCalls).toBe(5)
  })
})

describe('hessian', () => {
  it('of Σ x³ is diag(6x)', () => {
    const H = hessian((x: Tensor) => sum(mul(mul(x, x), x)))(f64([1, 2]))
    expect(H.shape).toEqual([2, 2])
    expect(toArray(H)).toEqual([6, 0, 0, 12])
  })

  // A two-layer perceptron's mean squared error: the Hessian over its parameter tree.
  interface Mlp {
    readonly w1: Tensor
    readonly b1: Tensor
    readonly w2: Tensor
  }
  const mlp: Mlp = { w1: normal(11, [3, 4]), b1: normal(12, [4]), w2: normal(13, [4, 2]) }
  const xs = normal(14, [5, 3])
  const ys = normal(15, [5, 2])
  const loss = (p: Mlp, x: Tensor, y: Tensor): Tensor => {
    const hidden = tanh(add(matmul(x, p.w1), p.b1))
    return mean(square(add(matmul(hidden, p.w2), mul(y, -1))))
  }
  const names = ['w1', 'b1', 'w2'] as const

  it('of a small MLP loss is symmetric and equals jacrev(jacrev) and the Hessian-vector products', () => {
    const H = hessian(loss)(mlp, xs, ys)
    const HH = jacrev(jacrev(loss))(mlp, xs, ys)
    for (const a of names)
      for (const b of names) {
        const block = H[a][b]
        expect(block.shape).toEqual([...mlp[a].shape, ...mlp[b].shape])
        expectClose(block, HH[a][b], 10)
        // Symmetry: H[a][b][i, j] = H[b][a][j, i].
        const transposed = H[b][a]
        const m = sizeOf(mlp[a].shape)
        const n = sizeOf(mlp[b].shape)
        const ab = toArray(T.reshape(block, [m * n]))
        const ba = toArray(T.reshape(transposed, [n * m]))
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) expect(ab[i * n + j]).toBeCloseTo(ba[j * m + i]!, 10)
      }
    // H v from the matrix against hvp, along a random tree direction.
    const v: Mlp = { w1: normal(21, [3, 4]), b1: normal(22, [4]), w2: normal(23, [4, 2]) }
    const Hv = hvp(loss, { argnums: 0 })([mlp, xs, ys], v)
    for (const a of names) {
      const m = sizeOf(mlp[a].shape)
      const expected = new Float64Array(m)
      for (const b of names) {
        const n = sizeOf(mlp[b].shape)
        const block = toArray(T.reshape(H[a][b], [m * n]))
        const vb = toArray(T.reshape(v[b], [n]))
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) expected[i] = expected[i]! + block[i * n + j]! * vb[j]!
      }
      toArray(T.reshape(Hv[a], [m])).forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 10))
    }
  })

  it('with two argnums gives the four blocks, the cross blocks transposes of each other', () => {
    const f = (x: Tensor, y: Tensor): Tensor => sum(mul(sin(x), mul(y, y)))
    const x = f64([0.2, -0.5])
    const y = f64([1.5, 0.7])
    const [[hxx, hxy], [hyx, hyy]] = hessian(f, { argnums: [0, 1] })(x, y)
    const xa = toArray(x)
    const ya = toArray(y)
    expect(toArray(hxx)[0]).toBeCloseTo(-Math.sin(xa[0]!) * ya[0]! ** 2, 12)
    expect(toArray(hxx)[1]).toBe(0)
    expect(toArray(hyy)[3]).toBeCloseTo(2 * Math.sin(xa[1]!), 12)
    expect(toArray(hxy)[0]).toBeCloseTo(2 * Math.cos(xa[0]!) * ya[0]!, 12)
    expect(toArray(hyx)).toEqual(toArray(T.transpose(hxy, [1, 0])))
    // The cross block by finite differences of the gradient with respect to x.
    const gradX = (xi: Tensor, yi: Tensor): Tensor => grad(f, { argnums: 0 })(xi, yi)
    expectClose(hxy, finiteDifferenceJacobian(gradX, [x, y], 1), 6)
  })

  it('refuses a Hessian too large to form, naming hessian', () => {
    expect(() => hessian((x: Tensor) => sum(cos(x)))(T.zeros([5000], 'float32'))).toThrow(
      /^hessian: .*use vjp, jvp or hvp/,
    )
  })
})

describe('argnums is spelled one way across the transformations', () => {
  it('every transformation rejects argnum and names argnums', () => {
    const square1 = (x: Tensor): Tensor => sum(square(x))
    const untyped = (t: unknown): ((f: unknown, opts: unknown) => unknown) => t as never
    for (const [transform, fn] of [
      ['jacrev', jacrev],
      ['jacfwd', jacfwd],
      ['hessian', hessian],
      ['hvp', hvp],
      ['grad', grad],
      ['vjp', vjp],
    ] as const)
      expect(() => untyped(fn)(square1, { argnum: 0 })).toThrow(
        new RegExp(`^${transform}: unknown option 'argnum' \\(write 'argnums' instead\\)`),
      )
  })

  it('hvp takes argnums and a vector typed like that argument', () => {
    const f = (w: Tensor, x: Tensor): Tensor => sum(mul(mul(w, w), x))
    const hw = hvp(f, { argnums: 0 })([f64([1, 2]), f64([3, 4])], f64([1, 1]))
    expect(toArray(hw)).toEqual([6, 8])
    const [hw2, hx2] = hvp(f, { argnums: [0, 1] })([f64([1, 2]), f64([3, 4])], [f64([1, 0]), f64([0, 1])])
    expect(toArray(hw2)).toEqual([6, 4]) // 2x·vw + 2w·vx
    expect(toArray(hx2)).toEqual([2, 0]) // 2w·vw
    expect(() => hvp(f, { argnums: 0 })([f64([1, 2]), f64([3, 4])], f64([1]))).toThrow(
      /vector leaf 0 has shape \[1\] but its argument has shape \[2\]/,
    )
  })
})

// flatten is used by the type-level checks below: a Jacobian is a tree of tensors.
it('a Jacobian is a tree the tree utilities read', () => {
  const J = jacrev(model, { argnums: [0, 1] })(params, data)
  expect(flatten(J).leaves).toHaveLength(3 * 3)
})
