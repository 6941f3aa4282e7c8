import { describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { remat } from '../src/transforms/remat'
import { scan } from '../src/transforms/scan'
import { grad } from '../src/transforms/grad'
import { vmap } from '../src/transforms/vmap'
import { jit } from '../src/staging/jit'
import { checkVjp } from '../src/check/checkVjp'
import { Tracer } from '../src/core/trace'
import { add } from '../src/binary/add'
import { mul } from '../src/binary/mul'
import { tanh } from '../src/elementwise/tanh'
import { matmul } from '../src/linalg/matmul'
import { sum } from '../src/reduce/sum'

const draw = (seed: number, shape: ReadonlyArray<number>, scale = 1): Tensor =>
  T.random.uniform(T.random.key(seed), shape, { min: -scale, max: scale, dtype: 'float64' })

const expectValues = (actual: Tensor, expected: ArrayLike<number>, tol = 1e-12): void => {
  expect(actual.data.length).toBe(expected.length)
  Array.from(expected).forEach((e, i) =>
    expect(Math.abs(actual.data[i]! - e), `entry ${i}: ${actual.data[i]} vs ${e}`).toBeLessThanOrEqual(tol),
  )
}

/**
 * The bytes the tape retains for `out`: every distinct tensor a recorded node holds (its inputs'
 * values and its own output value), walking back from `out` through the nodes of its trace.
 */
const tapeBytes = (out: Tensor): number => {
  if (!(out instanceof Tracer)) return 0
  const trace = out.trace
  const held = new Set<Tensor>()
  const seen = new Set<Tracer>()
  const stack: Tracer[] = [out]
  while (stack.length > 0) {
    const t = stack.pop()!
    if (seen.has(t)) continue
    seen.add(t)
    held.add(t.primal)
    for (const x of t.node?.inputs ?? []) {
      if (x instanceof Tracer && x.trace === trace) stack.push(x)
      else held.add(x)
    }
  }
  return [...held].reduce((a, x) => a + T.sizeOf(x.shape) * (x.dtype === 'float64' ? 8 : 4), 0)
}

const WIDTH = 32
const ws = [0, 1, 2, 3, 4, 5].map((i) => draw(10 + i, [WIDTH, WIDTH], 0.4))
const x0 = draw(1, [16, WIDTH])
/** Six tanh layers closed over the weights `w`. */
const block =
  (w: ReadonlyArray<Tensor>) =>
  (x: Tensor): Tensor =>
    w.reduce((h, wi) => tanh(matmul(h, wi)), x)

describe('remat', () => {
  it('is f outside transformations, and the same gradient under grad (weights closed over and as arguments)', () => {
    expectValues(remat(block(ws))(x0), block(ws)(x0).data)
    const plain = (x: Tensor, w0: Tensor): Tensor => sum(mul(block([w0, ...ws.slice(1)])(x), x0))
    const checkpointed = (x: Tensor, w0: Tensor): Tensor =>
      sum(mul(remat(block([w0, ...ws.slice(1)]))(x), x0))
    const g1 = grad(plain, { argnums: [0, 1] })(x0, ws[0]!)
    const g2 = grad(checkpointed, { argnums: [0, 1] })(x0, ws[0]!)
    g2.forEach((g, i) => expectValues(g, g1[i]!.data))
    // Weights as arguments, trees in and out.
    const tree = remat((p: { a: Tensor; b: Tensor }) => [tanh(matmul(p.a, p.b)), mul(p.a, 2)] as const)
    const g3 = grad((a: Tensor) => {
      const [u, v] = tree({ a, b: ws[1]! })
      return add(sum(u), sum(v))
    })(ws[0]!)
    const g4 = grad((a: Tensor) => add(sum(tanh(matmul(a, ws[1]!))), sum(mul(a, 2))))(ws[0]!)
    expectValues(g3, g4.data)
  })

  it('the tape under grad holds far fewer bytes (the intermediates are not kept)', () => {
    let plainOut: Tensor | undefined
    let rematOut: Tensor | undefined
    grad((x: Tensor) => {
      plainOut = block(ws)(x)
      return sum(plainOut)
    })(x0)
    grad((x: Tensor) => {
      rematOut = remat(block(ws))(x)
      return sum(rematOut)
    })(x0)
    const plainBytes = tapeBytes(plainOut!)
    const rematBytes = tapeBytes(rematOut!)
    // Plain: x, the 6 weights, 6 products and 6 tanh outputs. Remat: x, the output and its node's
    // bundle (the weights are constants of f, held by f itself whether or not it is differentiated).
    const act = 16 * WIDTH * 8
    const weights = 6 * WIDTH * WIDTH * 8
    expect(plainBytes).toBe(weights + act * 13)
    expect(rematBytes).toBe(act * 3)
  })

  it('passes checkVjp, second order included; nested remat', () => {
    const w = draw(30, [3, 3])
    const f = (x: Tensor, v: Tensor): Tensor =>
      remat((y: Tensor) => tanh(matmul(remat((z: Tensor) => tanh(matmul(z, v)))(y), w)))(x)
    const r = checkVjp(f, [draw(31, [2, 3]), draw(32, [3, 3])], { secondOrder: true })
    expect(r.ok, r.message).toBe(true)
  })

  it('as a scan body: the same gradients as a plain body', () => {
    const w = draw(40, [4, 4], 0.5)
    const xs = draw(41, [6, 4])
    const cell = (h: Tensor, x: Tensor): readonly [Tensor, Tensor] => {
      const next = tanh(add(matmul(w2, h), x))
      return [next, next]
    }
    let w2 = w
    const loss = (useRemat: boolean) => (a: Tensor, h0: Tensor) => {
      w2 = a
      const [hN, ys] = scan(useRemat ? remat(cell) : cell, h0, xs)
      return add(sum(mul(ys, xs)), sum(hN))
    }
    const h0 = draw(42, [4])
    const g1 = grad(loss(false), { argnums: [0, 1] })(w, h0)
    const g2 = grad(loss(true), { argnums: [0, 1] })(w, h0)
    g2.forEach((g, i) => expectValues(g, g1[i]!.data))
  })

  it('under vmap and jit it is f', () => {
    const f = remat(block(ws.slice(0, 2)))
    const batch = draw(50, [3, 2, WIDTH])
    expectValues(
      vmap(f)(batch),
      T.reshape(block(ws.slice(0, 2))(T.reshape(batch, [6, WIDTH])), [3, 2, WIDTH]).data,
    )
    expectValues(jit(f)(x0), block(ws.slice(0, 2))(x0).data)
    const g = (x: Tensor): Tensor => grad((y: Tensor) => sum(f(y)))(x)
    expectValues(jit(g)(x0), grad((y: Tensor) => sum(block(ws.slice(0, 2))(y)))(x0).data)
    expect(() => remat(3 as never)).toThrow(/expected a function/)
  })
})
