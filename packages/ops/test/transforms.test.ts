import { describe, expect, it } from 'vitest'
import { random, scalar, tensor, toArray, item, type Tensor } from '@backfold/tensor'
import {
  add,
  applyOp,
  astype,
  batchElementwise,
  sameAsInput,
  broadcastAval,
  checkVjp,
  cos,
  customVjp,
  defineOp,
  exp,
  grad,
  hvp,
  jacrev,
  jvp,
  log1p,
  matmul,
  mul,
  sigmoid,
  sin,
  stopGradient,
  sum,
  tanh,
  TraceError,
  valueAndGrad,
  vjp,
} from '@backfold/ops'
import * as T from '@backfold/tensor'

const f64 = (values: number[]): Tensor => T.tensor(values, 'float64')
const cube = (x: Tensor): Tensor => mul(mul(x, x), x)

describe('grad', () => {
  it('differentiates x³ to any order', () => {
    const x = scalar(2, 'float64')
    expect(item(grad(cube)(x))).toBeCloseTo(12, 12) // 3x²
    expect(item(grad(grad(cube))(x))).toBeCloseTo(12, 12) // 6x
    expect(item(grad(grad(grad(cube)))(x))).toBeCloseTo(6, 12) // 6
    expect(item(grad(grad(grad(grad(cube))))(x))).toBe(0)
  })

  it('keeps nested transformations apart (no perturbation confusion): d/dx [x · d/dy(x·y)] = 2x', () => {
    const outer = (x: Tensor): Tensor => mul(x, grad((y: Tensor) => mul(x, y))(scalar(5, 'float64')))
    expect(item(grad(outer)(scalar(3, 'float64')))).toBeCloseTo(6, 12)
  })

  it('gives identical results when called twice and never mutates its inputs', () => {
    const x = f64([0.3, -1.2, 2])
    const before = toArray(x)
    const g = grad((v: Tensor) => sum(mul(sin(v), v)))
    const first = toArray(g(x))
    const second = toArray(g(x))
    expect(second).toEqual(first)
    expect(toArray(x)).toEqual(before)
  })

  it('works on trees and keeps their structure, with argnums choosing arguments', () => {
    const params = { w: f64([1, 2]), layers: [{ b: scalar(0.5, 'float64') }] }
    const loss = (p: typeof params, x: Tensor, label: string): Tensor => {
      expect(label).toBe('fixed data passes through')
      return sum(mul(add(mul(p.w, x), p.layers[0]!.b), x))
    }
    const x = f64([3, 4])
    const g = grad(loss)(params, x, 'fixed data passes through')
    expect(toArray(g.w)).toEqual([9, 16]) // x²
    expect(item(g.layers[0]!.b)).toBe(7) // Σx
    const [gp, gx] = grad(loss, { argnums: [0, 1] })(params, x, 'fixed data passes through')
    expect(toArray(gp.w)).toEqual([9, 16])
    expect(toArray(gx)).toEqual([2 * 1 * 3 + 0.5, 2 * 2 * 4 + 0.5]) // 2wx + b
  })

  it('returns the value and auxiliary data without tracing residue', () => {
    const [value, g, aux] = valueAndGrad((x: Tensor) => [sum(mul(x, x)), { doubled: mul(x, 2) }] as const, {
      hasAux: true,
    })(f64([1, 2]))
    expect(item(value)).toBe(5)
    expect(toArray(g)).toEqual([2, 4])
    expect(aux.doubled.constructor.name).not.toBe('Tracer')
    expect(toArray(aux.doubled)).toEqual([2, 4])
  })

  it('handles long chains without overflowing the stack', () => {
    const g = grad((x: Tensor) => {
      let y = x
      for (let i = 0; i < 20000; i++) y = add(y, 1e-4)
      return sum(y)
    })(f64([1]))
    expect(toArray(g)).toEqual([1])
  })
})

describe('errors name the transformation and the problem', () => {
  it('rejects int32 arguments', () => {
    expect(() => grad((x: Tensor) => sum(x))(tensor([1, 2], 'int32'))).toThrow(TraceError)
    expect(() => grad((x: Tensor) => sum(x))(tensor([1, 2], 'int32'))).toThrow(/int32/)
  })
  it('rejects non-scalar outputs of grad', () => {
    expect(() => grad((x: Tensor) => mul(x, 2))(f64([1, 2]))).toThrow(/shape \[2\].*scalar/)
  })
  it('rejects pullback cotangents of the wrong shape or dtype', () => {
    const [, pullback] = vjp((x: Tensor) => mul(x, 2))(f64([1, 2]))
    expect(() => pullback(f64([1, 2, 3]))).toThrow(/shape \[3\].*\[2\]/)
    expect(() => pullback(T.tensor([1, 2], 'float32'))).toThrow(/dtype float32.*float64/)
  })
  it('rejects ops given bad shapes with a ShapeError naming the op', () => {
    expect(() => grad((x: Tensor) => sum(matmul(x, f64([1, 2, 3]))))(T.zeros([2, 2], 'float64'))).toThrow(
      /matmul/,
    )
  })
  it('rejects tracers that escaped their transformation', () => {
    let leaked: Tensor | undefined
    grad((x: Tensor) => {
      leaked = x
      return sum(x)
    })(f64([1]))
    expect(() => mul(leaked!, 2)).toThrow(/escaped/)
  })
})

describe('vjp, jvp, hvp, jacrev', () => {
  it('vjp gives ctᵀ J for tree outputs', () => {
    const [out, pullback] = vjp((x: Tensor) => ({ s: sin(x), c: mul(x, 3) }))(f64([0.5, 1]))
    expect(toArray(out.s)[0]).toBeCloseTo(Math.sin(0.5), 14)
    const [ct] = pullback({ s: f64([1, 1]), c: f64([1, 0]) })
    expect(toArray(ct)[0]).toBeCloseTo(Math.cos(0.5) + 3, 12)
    expect(toArray(ct)[1]).toBeCloseTo(Math.cos(1), 12)
  })

  it('jvp, derived from VJPs, gives J v', () => {
    const x = f64([0.1, 0.7, -2])
    const v = f64([1, -2, 0.5])
    const [y, dy] = jvp((a: Tensor) => mul(sin(a), a))([x], [v])
    const xs = toArray(x)
    const vs = toArray(v)
    toArray(dy).forEach((d, i) =>
      expect(d).toBeCloseTo((Math.cos(xs[i]!) * xs[i]! + Math.sin(xs[i]!)) * vs[i]!, 12),
    )
    expect(toArray(y)[2]).toBeCloseTo(Math.sin(-2) * -2, 14)
  })

  it('jvp of grad is the Hessian-vector product, and hvp agrees with it and with the Jacobian of grad', () => {
    const f = (x: Tensor): Tensor => sum(mul(tanh(x), mul(x, x)))
    const x = f64([0.3, -0.8, 1.1])
    const v = f64([0.5, 1, -1])
    const [, viaJvp] = jvp(grad(f))([x], [v])
    const [viaHvp] = hvp(f)([x], [v])
    const H = jacrev(grad(f))(x) // [3, 3]
    const Hv = [0, 1, 2].map((i) => [0, 1, 2].reduce((s, j) => s + H.data[i * 3 + j]! * toArray(v)[j]!, 0))
    toArray(viaJvp).forEach((value, i) => {
      expect(value).toBeCloseTo(Hv[i]!, 10)
      expect(toArray(viaHvp)[i]).toBeCloseTo(Hv[i]!, 10)
    })
    // H is symmetric
    expect(H.data[1]).toBeCloseTo(H.data[3]!, 12)
  })

  it('the pullback and jvp are typed by the arguments (no casts): a tree argument gives a tree', () => {
    const p = { w: f64([1, 2]), b: f64([0.5]) }
    const [, pullback] = vjp((q: typeof p, x: Tensor) => sum(mul(add(mul(q.w, x), q.b), x)), { argnums: 0 })(
      p,
      f64([3, 4]),
    )
    const [dp] = pullback(T.scalar(1, 'float64'))
    expect(toArray(dp.w)).toEqual([9, 16])
    expect(toArray(dp.b)).toEqual([7])
    const [, dy] = jvp((q: typeof p) => ({ y: mul(q.w, q.b) }))([p], [{ w: f64([1, 0]), b: f64([1]) }])
    expect(toArray(dy.y)).toEqual([1.5, 2])
  })

  it('jvp refuses an int32 output, naming jvp', () => {
    expect(() => jvp((x: Tensor) => astype(x, 'int32'))([f64([1.5])], [f64([1])])).toThrow(
      /^jvp: output leaf 0 .*int32, which has no derivative/,
    )
  })
})

describe('stopGradient and customVjp', () => {
  it('stopGradient keeps the value and drops the derivative', () => {
    expect(item(grad((x: Tensor) => mul(x, stopGradient(x)))(scalar(3, 'float64')))).toBe(3)
  })

  // softplus with the stable derivative σ(x): the custom rule is used, and it is correct
  const softplus = customVjp((x: Tensor) => log1p(exp(x)), {
    forward: (x) => [log1p(exp(x)), x] as const,
    backward: (x, ct) => [mul(ct, sigmoid(x))],
  })

  it('uses the custom backward rule and passes checkVjp', () => {
    const report = checkVjp(softplus, [f64([-3, 0.2, 4])])
    expect(report.ok, report.message).toBe(true)
  })

  it('is twice differentiable through its backward rule', () => {
    const x = f64([-1, 0.5])
    const second = grad((v: Tensor) => sum(grad((u: Tensor) => sum(softplus(u)))(v)))(x)
    toArray(second).forEach((s, i) => {
      const sig = 1 / (1 + Math.exp(-toArray(x)[i]!))
      expect(s).toBeCloseTo(sig * (1 - sig), 12)
    })
  })

  it('really replaces the derivative (a deliberately different rule shows up)', () => {
    const straightThrough = customVjp((x: Tensor) => T.round(x), {
      forward: (x) => [T.round(x), undefined] as const,
      backward: (_r, ct) => [ct],
    })
    expect(toArray(grad((x: Tensor) => sum(straightThrough(x)))(f64([0.3, 1.7])))).toEqual([1, 1])
  })
})

describe('defineOp and checkVjp for user ops', () => {
  // y = sin x ; x̄ = ȳ cos x
  const sinOp = defineOp<'mySin', [Tensor]>({
    name: 'mySin',
    forward: ([x]) => T.sin(x),
    vjp: (ct, [x]) => [mul(ct, cos(x))],
    batch: batchElementwise,
    abstract: sameAsInput,
  })
  const mySin = (x: Tensor): Tensor => applyOp(sinOp, [x], undefined)
  // the same op with a wrong VJP (missing the cos factor's sign): checkVjp must catch it
  const badOp = defineOp<'badSin', [Tensor]>({
    name: 'badSin',
    forward: ([x]) => T.sin(x),
    vjp: (ct, [x]) => [mul(ct, sin(x))],
    batch: batchElementwise,
    abstract: sameAsInput,
  })
  const badSin = (x: Tensor): Tensor => applyOp(badOp, [x], undefined)
  const x = f64([0.1, 0.9, -1.3, 2.2])

  it('a correct custom op passes, with a tiny worst error', () => {
    const report = checkVjp(mySin, [x])
    expect(report.ok, report.message).toBe(true)
    expect(report.worstError).toBeLessThan(1e-8)
    expect(report.jacobian).toBeDefined()
  })

  it('a wrong VJP fails, and the report says where', () => {
    const report = checkVjp(badSin, [x])
    expect(report.ok).toBe(false)
    expect(report.worstError).toBeGreaterThan(1e-2)
    expect(report.message).toMatch(/FAILED/)
  })

  it('the dot-product test alone (large input) also catches it', () => {
    const big = random.normal(random.key(3), [50, 50], { dtype: 'float64' })
    expect(checkVjp(mySin, [big]).ok).toBe(true)
    const report = checkVjp(badSin, [big])
    expect(report.jacobian).toBeUndefined()
    expect(report.ok).toBe(false)
  })
})

describe('the fold asks only for the cotangents it keeps', () => {
  // An op that records which inputs the fold said it needs, and can skip the others.
  const seen: boolean[][] = []
  const scaleOp = defineOp<'recordingMul', [Tensor, Tensor], { readonly skip: boolean }>({
    name: 'recordingMul',
    forward: ([a, b]) => T.mul(a, b),
    vjp: (ct, [a, b], _y, p, needed) => {
      seen.push([...needed])
      return [needed[0] || !p.skip ? mul(ct, b) : undefined, needed[1] || !p.skip ? mul(ct, a) : undefined]
    },
    batch: batchElementwise,
    abstract: (xs) => broadcastAval('recordingMul', xs),
  })
  const recordingMul = (a: Tensor, b: Tensor, skip = true): Tensor => applyOp(scaleOp, [a, b], { skip })

  it('marks constants of the transformation as not needed, at every nesting level', () => {
    seen.length = 0
    const data = f64([1, 2])
    grad((w: Tensor) => sum(recordingMul(data, w)))(f64([3, 4]))
    expect(seen).toEqual([[false, true]])
    seen.length = 0
    // Inner grad w.r.t. y only: x is the outer transformation's variable, a constant inside.
    const inner = (x: Tensor): Tensor => grad((y: Tensor) => sum(recordingMul(x, mul(y, y))))(f64([1, 1]))
    // d/dx Σ_i ∂/∂y_i Σ x·y² = d/dx Σ 2·x·y = 2·y
    expect(toArray(grad((x: Tensor) => sum(inner(x)))(f64([2, 3])))).toEqual([2, 2])
    expect(seen).toEqual([[false, true]])
  })

  it('gives the same gradients when a VJP skips unneeded cotangents', () => {
    const data = f64([1, 2])
    const w = f64([3, 4])
    const skipping = grad((v: Tensor) => sum(mul(recordingMul(data, v, true), v)))(w)
    const computing = grad((v: Tensor) => sum(mul(recordingMul(data, v, false), v)))(w)
    expect(toArray(skipping)).toEqual(toArray(computing))
    // d/dw Σ data·w² = 2·data·w
    expect(toArray(skipping)).toEqual([6, 16])
  })

  it('skips the data gradient of a dense product without changing the weight gradient', () => {
    const x = T.tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      'float64',
    )
    const w = T.tensor(
      [
        [0.5, -1, 2],
        [1, 0, -3],
      ],
      'float64',
    )
    const onlyW = grad((v: Tensor) => sum(matmul(x, v, { transposeB: true })))(w)
    const both = grad(([u, v]: [Tensor, Tensor]) => sum(matmul(u, v, { transposeB: true })))([x, w])
    expect(toArray(onlyW)).toEqual(toArray(both[1]))
  })

  it('rejects a VJP that skips a cotangent the fold needs', () => {
    const lazyOp = defineOp<'lazy', [Tensor]>({
      name: 'lazy',
      forward: ([a]) => a,
      vjp: () => [undefined],
      batch: batchElementwise,
      abstract: sameAsInput,
    })
    const lazy = (a: Tensor): Tensor => applyOp(lazyOp, [a], undefined)
    expect(() => grad((a: Tensor) => sum(lazy(a)))(f64([1]))).toThrow(TraceError)
    expect(() => grad((a: Tensor) => sum(lazy(a)))(f64([1]))).toThrow(/skipped the cotangent of input 0/)
  })
})
