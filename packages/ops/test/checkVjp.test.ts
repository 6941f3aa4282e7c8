import { describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import {
  applyOp,
  batchElementwise,
  sameAsInput,
  checkVjp,
  cos,
  defineOp,
  mul,
  sin,
  stopGradient,
  tanh,
  type Op,
  type Tensor,
} from '@backfold/ops'

const x = T.tensor([0.3, -0.7, 1.1], 'float64')

// y = sin x ; x̄ = ȳ cos x. The right way: the VJP computes with ops.
const sinOp = defineOp<'sinWithOpsVjp', [Tensor]>({
  name: 'sinWithOpsVjp',
  batch: batchElementwise,
  abstract: sameAsInput,
  forward: ([v]) => T.sin(v),
  vjp: (ct, [v]) => [mul(ct, cos(v))],
})
// The wrong way: cos from the kernel. Right at first order, so the first-order checks pass; its
// second derivative used to be zero without a word.
const sinKernelOp = defineOp<'sinWithKernelVjp', [Tensor]>({
  name: 'sinWithKernelVjp',
  batch: batchElementwise,
  abstract: sameAsInput,
  forward: ([v]) => T.sin(v),
  vjp: (ct, [v]) => [mul(ct, T.cos(v))],
})
// A VJP that uses a kernel on the cotangent only: wrong under jvp (which differentiates the VJP
// with respect to the cotangent) though right under grad(grad(f)).
const doubleKernelOp = defineOp<'doubleWithKernelVjp', [Tensor]>({
  name: 'doubleWithKernelVjp',
  batch: batchElementwise,
  abstract: sameAsInput,
  forward: ([v]) => T.mul(v, 2),
  vjp: (ct) => [T.mul(ct, 2)],
})
const apply =
  <Name extends string>(op: Op<Name, [Tensor], void>) =>
  (v: Tensor): Tensor =>
    applyOp(op, [v], undefined)

describe('checkVjp second order', () => {
  it('passes an op whose VJP is written with ops, and reports the comparison', () => {
    const report = checkVjp(apply(sinOp), [x])
    expect(report.ok, report.message).toBe(true)
    expect(report.secondOrder?.outcome).toBe('compared')
    expect(report.message).toContain('second order')
  })

  it('fails an op whose VJP uses a kernel on its input, saying why', () => {
    const report = checkVjp(apply(sinKernelOp), [x])
    // The first-order parts alone would pass: that is what made this a silent failure.
    expect(report.dotProduct.error).toBeLessThan(1e-6)
    expect(report.jacobian?.maxError).toBeLessThan(1e-6)
    expect(report.ok).toBe(false)
    expect(report.secondOrder).toMatchObject({ outcome: 'threw', error: Infinity })
    expect(report.message).toContain('checkVjp: FAILED')
    expect(report.message).toContain('a VJP must compute with ops, not kernels')
    expect(report.message).toContain('cos: x is an abstract value')
  })

  it('fails an op whose VJP uses a kernel on the cotangent', () => {
    const report = checkVjp(apply(doubleKernelOp), [x])
    expect(report.ok).toBe(false)
    expect(report.message).toContain('mul: a is an abstract value')
    expect(report.jacobian?.maxError).toBeLessThan(1e-6)
  })

  it('catches a wrong second derivative that does not throw', () => {
    // Written with ops, but cos(stopGradient(x)) cuts x out of the VJP's own derivative: the first
    // order is right, the second-order comparison is not.
    const cut = defineOp<'sinWithCutVjp', [Tensor]>({
      name: 'sinWithCutVjp',
      batch: batchElementwise,
      abstract: sameAsInput,
      forward: ([v]) => T.sin(v),
      vjp: (ct, [v]) => [mul(ct, cos(stopGradient(v)))],
    })
    const report = checkVjp(apply(cut), [x])
    expect(report.dotProduct.error).toBeLessThan(1e-6)
    expect(report.secondOrder?.outcome).toBe('compared')
    expect(report.ok).toBe(false)
  })

  it('is on by default for small inputs, off with secondOrder: false, forced with true', () => {
    expect(checkVjp(apply(sinKernelOp), [x], { secondOrder: false })).toMatchObject({
      ok: true,
      secondOrder: undefined,
    })
    const large = T.linspace(-1, 1, 5000, 'float64')
    expect(checkVjp(tanh, [large], { maxJacobianEntries: 0 }).secondOrder).toBeUndefined()
    expect(checkVjp(tanh, [large], { maxJacobianEntries: 0, secondOrder: true }).secondOrder?.outcome).toBe(
      'compared',
    )
    expect(checkVjp(apply(sinKernelOp), [large], { maxJacobianEntries: 0, secondOrder: true }).ok).toBe(false)
  })

  it('works for several arguments', () => {
    const report = checkVjp((a: Tensor, b: Tensor) => mul(sin(a), b), [x, T.tensor([2, 3, 4], 'float64')])
    expect(report.ok, report.message).toBe(true)
    expect(report.secondOrder?.outcome).toBe('compared')
  })
})

describe('checkVjp options', () => {
  it.each([
    [{ secondOrder: 'yes' }, /option 'secondOrder' must be true, false or 'auto'/],
    [{ secondorder: true }, /unknown option 'secondorder'/],
    [{ eps: 0 }, /'eps' must be a finite number > 0/],
    [{ eps: '1e-6' }, /option 'eps' must be a number/],
    [{ tolerance: -1 }, /'tolerance' must be >= 0/],
    [{ maxJacobianEntries: 1.5 }, /'maxJacobianEntries' must be a non-negative integer/],
    [{ argnums: 0 }, /'argnums' must be an array of argument indices/],
    [{ seed: 0.5 }, /'seed' must be an integer/],
  ])('rejects %o', (opts, message) => {
    // The options are checked at run time, for callers without a type checker (hence Reflect.apply).
    const call = (): unknown => Reflect.apply(checkVjp, undefined, [sin, [x], opts])
    expect(call).toThrow(T.ValueError)
    expect(call).toThrow(message)
  })
})
