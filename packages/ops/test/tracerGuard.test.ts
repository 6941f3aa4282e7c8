import { describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import {
  applyOp,
  concrete,
  cos,
  batchElementwise,
  sameAsInput,
  defineOp,
  grad,
  jvp,
  mul,
  sum,
  TraceError,
  valueAndGrad,
  vjp,
  type Tensor,
} from '@backfold/ops'

// A raw kernel of @backfold/tensor on a traced value used to compute on the primal's numbers and
// return a constant: the gradient came out zero, silently. Kernels now refuse traced values.
const x = T.tensor([1, 2, 3], 'float64')

const thrownBy = (run: () => unknown): TraceError => {
  try {
    run()
  } catch (error) {
    if (error instanceof TraceError) return error
    throw error
  }
  throw new Error('expected a TraceError, nothing was thrown')
}

describe('a raw kernel inside a transformation', () => {
  it('throws, naming the kernel and pointing to @backfold/ops, instead of a zero gradient', () => {
    const error = thrownBy(() => grad((v: Tensor) => sum(mul(T.mul(v, v), 1)))(x))
    expect(error.op).toBe('mul')
    expect(error.message).toMatch(/^mul: a is an abstract value/)
    expect(error.message).toContain('differentiable ops of @backfold/ops')
    expect(error.kind).toBe('TraceError')
  })

  it.each([
    ['exp', (v: Tensor) => sum(T.exp(v))],
    ['sum', (v: Tensor) => T.sum(mul(v, v))],
    ['matmul', (v: Tensor) => sum(T.matmul(v, T.ones([3, 1], 'float64')))],
    ['reshape', (v: Tensor) => sum(T.reshape(v, [3, 1]))],
    ['where', (v: Tensor) => sum(T.where(T.greater(x, 1), v, 0))],
    ['concat', (v: Tensor) => sum(T.concat([x, v]))],
  ])('%s is refused under grad', (kernel, f) => {
    expect(thrownBy(() => grad(f)(x)).op).toBe(kernel)
  })

  it('is refused under vjp, valueAndGrad and jvp too', () => {
    expect(thrownBy(() => vjp((v: Tensor) => T.exp(v))(x)).op).toBe('exp')
    expect(thrownBy(() => valueAndGrad((v: Tensor) => sum(T.exp(v)))(x)).op).toBe('exp')
    expect(thrownBy(() => jvp((v: Tensor) => T.exp(v))([x], [x])).op).toBe('exp')
  })

  it('the ops of the same name work, and kernels on constants are fine', () => {
    // x is a constant of this transformation: a kernel may compute on it.
    const g = grad((v: Tensor) => sum(mul(mul(v, v), T.exp(x))))(x)
    expect(Array.from(g.data)).toEqual(Array.from(x.data).map((xi) => 2 * xi * Math.exp(xi)))
  })
})

describe('a traced value', () => {
  it('has no readable data; concrete(x) gives the current value for logging', () => {
    let seen: number[] = []
    grad((v: Tensor) => {
      expect(() => v.data).toThrow(TraceError)
      expect(() => v.data).toThrow(/concrete\(x\)/)
      expect(() => T.toArray(v)).toThrow(TraceError)
      expect(T.isAbstract(v)).toBe(true)
      seen = T.toArray(concrete(v)) as number[]
      return sum(mul(v, v))
    })(x)
    expect(seen).toEqual([1, 2, 3])
  })
})

describe('a custom op whose VJP uses kernels', () => {
  // y = sin x ; x̄ = ȳ cos x, but cos computed with the kernel: right at first order only.
  const sinKernelVjp = defineOp<'sinKernelVjp', [Tensor]>({
    name: 'sinKernelVjp',
    batch: batchElementwise,
    abstract: sameAsInput,
    forward: ([v]) => T.sin(v),
    vjp: (ct, [v]) => [mul(ct, T.cos(v))],
  })
  const mySin = (v: Tensor): Tensor => applyOp(sinKernelVjp, [v], undefined)

  it('is right at first order', () => {
    const g = grad((v: Tensor) => sum(mySin(v)))(x)
    expect(Array.from(g.data)).toEqual(Array.from(T.cos(x).data))
  })

  it('throws at second order, naming the kernel, instead of a zero second derivative', () => {
    const error = thrownBy(() => grad((v: Tensor) => sum(grad((w: Tensor) => sum(mySin(w)))(v)))(x))
    expect(error.op).toBe('cos')
    expect(error.message).toContain('vjp must use ops')
  })

  it('the same op with an ops VJP is right at second order', () => {
    const sinOp = defineOp<'sinOpsVjp', [Tensor]>({
      name: 'sinOpsVjp',
      batch: batchElementwise,
      abstract: sameAsInput,
      forward: ([v]) => T.sin(v),
      vjp: (ct, [v]) => [mul(ct, cos(v))],
    })
    const second = grad((v: Tensor) => sum(grad((w: Tensor) => sum(applyOp(sinOp, [w], undefined)))(v)))(x)
    expect(Array.from(second.data)).toEqual(Array.from(T.neg(T.sin(x)).data))
  })
})
