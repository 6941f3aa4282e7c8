import { describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { scan } from '../src/transforms/scan'
import { grad } from '../src/transforms/grad'
import { vjp } from '../src/transforms/vjp'
import { vmap } from '../src/transforms/vmap'
import { jit } from '../src/staging/jit'
import { checkVjp } from '../src/check/checkVjp'
import { customVjp } from '../src/transforms/customVjp'
import { Tracer, concrete } from '../src/core/trace'
import { add } from '../src/binary/add'
import { mul } from '../src/binary/mul'
import { tanh } from '../src/elementwise/tanh'
import { sin } from '../src/elementwise/sin'
import { matmul } from '../src/linalg/matmul'
import { sum } from '../src/reduce/sum'
import { stack } from '../src/indexing/stack'
import { gather } from '../src/indexing/gather'
import { slice } from '../src/indexing/slice'
import { reshape } from '../src/shape/reshape'

const draw = (seed: number, shape: ReadonlyArray<number>, scale = 1): Tensor =>
  T.random.uniform(T.random.key(seed), shape, { min: -scale, max: scale, dtype: 'float64' })

const expectValues = (actual: Tensor, expected: ArrayLike<number>, tol = 1e-12): void => {
  expect(actual.data.length).toBe(expected.length)
  Array.from(expected).forEach((e, i) =>
    expect(Math.abs(actual.data[i]! - e), `entry ${i}: ${actual.data[i]} vs ${e}`).toBeLessThanOrEqual(tol),
  )
}

const stepOf = (x: Tensor, t: number): Tensor =>
  reshape(slice(x, [{ start: t, stop: t + 1 }]), x.shape.slice(1))

// An RNN cell h' = tanh(W h + U x), W [H,H] and U [H,D] closed over; y = sin(h').
const H = 3
const D = 2
const N = 5
const cell =
  (w: Tensor, u: Tensor) =>
  (h: Tensor, x: Tensor): readonly [Tensor, Tensor] => {
    const next = tanh(add(matmul(w, h), matmul(u, x)))
    return [next, sin(next)]
  }
/** The same recurrence unrolled by hand with ops (one tape entry per op under grad). */
const unrolled = (w: Tensor, u: Tensor, h0: Tensor, xs: Tensor): [Tensor, Tensor] => {
  let h = h0
  const ys: Tensor[] = []
  for (let t = 0; t < xs.shape[0]!; t++) {
    const [next, y] = cell(w, u)(h, stepOf(xs, t))
    h = next
    ys.push(y)
  }
  return [h, stack(ys)]
}

describe('scan', () => {
  const w = draw(1, [H, H])
  const u = draw(2, [H, D])
  const h0 = draw(3, [H])
  const xs = draw(4, [N, D])

  it('a cumulative sum equals a plain loop; reverse runs from the end and keeps ys in xs order', () => {
    const x = draw(5, [4, 2])
    const body = (c: Tensor, v: Tensor): readonly [Tensor, Tensor] => {
      const s = add(c, v)
      return [s, s]
    }
    const [total, running] = scan(body, T.zeros([2], 'float64'), x)
    const acc = [0, 0]
    const expected: number[] = []
    for (let t = 0; t < 4; t++) for (let j = 0; j < 2; j++) expected.push((acc[j]! += x.data[t * 2 + j]!))
    expectValues(running, expected)
    expectValues(total, acc)
    const [, back] = scan(body, T.zeros([2], 'float64'), x, { reverse: true })
    const racc = [0, 0]
    const rexp = new Array<number>(8)
    for (let t = 3; t >= 0; t--) for (let j = 0; j < 2; j++) rexp[t * 2 + j] = racc[j]! += x.data[t * 2 + j]!
    expectValues(back, rexp)
  })

  it('an RNN recurrence equals a loop written with plain numbers', () => {
    const [hN, ys] = scan(cell(w, u), h0, xs)
    let h = Array.from(h0.data)
    const expected: number[] = []
    for (let t = 0; t < N; t++) {
      h = h.map((_, i) => {
        let z = 0
        for (let j = 0; j < H; j++) z += w.data[i * H + j]! * h[j]!
        for (let j = 0; j < D; j++) z += u.data[i * D + j]! * xs.data[t * D + j]!
        return Math.tanh(z)
      })
      expected.push(...h.map(Math.sin))
    }
    expectValues(ys, expected)
    expectValues(hN, h)
  })

  it('gradients (closed-over weights, init and xs) equal those of the unrolled loop', () => {
    const weights = draw(6, [N, H])
    const viaScan = (a: Tensor, b: Tensor, c: Tensor, d: Tensor): Tensor => {
      const [hN, ys] = scan(cell(a, b), c, d)
      return add(sum(mul(ys, weights)), sum(mul(hN, hN)))
    }
    const viaLoop = (a: Tensor, b: Tensor, c: Tensor, d: Tensor): Tensor => {
      const [hN, ys] = unrolled(a, b, c, d)
      return add(sum(mul(ys, weights)), sum(mul(hN, hN)))
    }
    const argnums = [0, 1, 2, 3] as const
    const g1 = grad(viaScan, { argnums })(w, u, h0, xs)
    const g2 = grad(viaLoop, { argnums })(w, u, h0, xs)
    g1.forEach((g, i) => expectValues(g, g2[i]!.data))
    // Second order: the VJP is itself a scan of ops.
    const gg1 = grad((a: Tensor) => sum(mul(grad(viaScan)(a, u, h0, xs), a)))(w)
    const gg2 = grad((a: Tensor) => sum(mul(grad(viaLoop)(a, u, h0, xs), a)))(w)
    expectValues(gg1, gg2.data, 1e-11)
  })

  it('nested scans: an inner scan closing over a weight of the outer body', () => {
    const grid = draw(11, [3, 4, D])
    const nested = (a: Tensor, b: Tensor): Tensor => {
      const [hN] = scan(
        (h: Tensor, row: Tensor) => {
          const [inner] = scan(cell(a, b), h, row)
          return [inner, []] as const
        },
        h0,
        grid,
      )
      return sum(mul(hN, hN))
    }
    const flat = (a: Tensor, b: Tensor): Tensor => {
      const [hN] = unrolled(a, b, h0, T.reshape(grid, [12, D]))
      return sum(mul(hN, hN))
    }
    expectValues(nested(w, u), flat(w, u).data)
    const g1 = grad(nested, { argnums: [0, 1] })(w, u)
    const g2 = grad(flat, { argnums: [0, 1] })(w, u)
    g1.forEach((g, i) => expectValues(g, g2[i]!.data))
  })

  it('a customVjp function in the body receiving a closed-over weight', () => {
    const scale = customVjp((a: Tensor, h: Tensor) => mul(a, h), {
      forward: (a, h) => [mul(a, h), [a, h] as const],
      backward: ([a, h], ct) => [mul(ct, h), mul(ct, a)],
    })
    const seq = draw(12, [4, H])
    const loss =
      (useScan: boolean) =>
      (a: Tensor): Tensor => {
        const body = (h: Tensor, x: Tensor): readonly [Tensor, Tensor] => [tanh(add(scale(a, h), x)), h]
        if (useScan) return sum(scan(body, h0, seq)[0])
        let h = h0
        for (let t = 0; t < 4; t++) h = body(h, stepOf(seq, t))[0]
        return sum(h)
      }
    const a = draw(13, [H])
    expectValues(grad(loss(true))(a), grad(loss(false))(a).data)
  })

  it('int32 xs (token ids) and an int32 carry (a step counter) under grad', () => {
    const tokens = T.tensor([2, 0, 1, 2, 1], 'int32')
    const loss =
      (useScan: boolean) =>
      (e: Tensor): Tensor => {
        const body = (c: { h: Tensor; t: Tensor }, tok: Tensor) =>
          [{ h: tanh(add(matmul(w, c.h), gather(e, tok))), t: add(c.t, 1) }, c.h] as const
        const init = { h: h0, t: T.scalar(0, 'int32') }
        if (useScan) {
          const [last, hs] = scan(body, init, tokens)
          expect(Array.from(concrete(last.t).data)).toEqual([5])
          return add(sum(last.h), sum(mul(hs, hs)))
        }
        let c = init
        const hs: Tensor[] = []
        for (let t = 0; t < 5; t++) {
          const [next, y] = body(c, stepOf(tokens, t))
          c = next
          hs.push(y)
        }
        return add(sum(c.h), sum(mul(stack(hs), stack(hs))))
      }
    const e = draw(14, [3, H])
    expectValues(grad(loss(true))(e), grad(loss(false))(e).data)
  })

  it('passes checkVjp (weights closed over, first and second order)', () => {
    const f = (a: Tensor, c: Tensor, d: Tensor): Tensor => {
      const [hN, ys] = scan(cell(a, u), c, d, { reverse: true })
      return add(ys, reshape(hN, [1, H]))
    }
    const r = checkVjp(f, [w, h0, draw(7, [3, D])], { secondOrder: true })
    expect(r.ok, r.message).toBe(true)
  })

  it('under grad the whole scan is one node holding the stacked carries, not a node per op', () => {
    let seen: Tensor | undefined
    grad((a: Tensor) => {
      const [hN] = scan(cell(a, u), h0, xs)
      seen = hN
      return sum(hN)
    })(w)
    expect(seen).toBeInstanceOf(Tracer)
    const projection = (seen as Tracer).node!
    expect(projection.op.name).toBe('scan output')
    const bundle = projection.inputs[0] as Tracer
    expect(bundle.node!.op.name).toBe('scan')
    // Its inputs: the carry, the xs and the closed-over weight; nothing recorded per step.
    expect(bundle.node!.inputs.length).toBe(3)
    expect(bundle.node!.inputs.filter((x) => x instanceof Tracer).length).toBe(1)
  })

  it('trees: carry, xs and ys as records and arrays', () => {
    const a = draw(8, [3, 2])
    const b = draw(9, [3])
    const [carry, ys] = scan(
      (c: { s: Tensor; p: Tensor }, x: { a: Tensor; b: Tensor }) =>
        [{ s: add(c.s, x.a), p: mul(c.p, x.b) }, [c.s, sum(x.a)]] as const,
      { s: T.zeros([2], 'float64'), p: T.ones([], 'float64') },
      { a, b },
    )
    expectValues(carry.p, [b.data[0]! * b.data[1]! * b.data[2]!])
    expectValues(carry.s, [a.data[0]! + a.data[2]! + a.data[4]!, a.data[1]! + a.data[3]! + a.data[5]!])
    expect(ys[0].shape).toEqual([3, 2])
    expectValues(ys[0], [0, 0, a.data[0]!, a.data[1]!, a.data[0]! + a.data[2]!, a.data[1]! + a.data[3]!])
    expectValues(ys[1], [a.data[0]! + a.data[1]!, a.data[2]! + a.data[3]!, a.data[4]! + a.data[5]!])
    // Gradient through a tree carry and tree xs equals the hand-computed one: d p / d b_t = Π_{s≠t} b_s.
    const [gb] = vjp(
      (bb: Tensor) => scan((c: Tensor, x: Tensor) => [mul(c, x), []] as const, T.ones([], 'float64'), bb)[0],
    )(b)[1](T.ones([], 'float64'))
    expectValues(gb, [b.data[1]! * b.data[2]!, b.data[0]! * b.data[2]!, b.data[0]! * b.data[1]!])
    // No xs: length gives the number of steps.
    const [count] = scan((c: Tensor) => [add(c, 1), []] as const, T.zeros([], 'float64'), undefined, {
      length: 4,
    })
    expectValues(count, [4])
  })

  it('vmap over sequences and jit agree with the per-example results', () => {
    const batch = draw(10, [4, N, D])
    const run = (x: Tensor): Tensor => scan(cell(w, u), h0, x)[1]
    const mapped = vmap(run)(batch)
    const each = T.stack(
      [0, 1, 2, 3].map((i) => run(T.reshape(T.slice(batch, [{ start: i, stop: i + 1 }]), [N, D]))),
    )
    expectValues(mapped, each.data)
    expectValues(jit(run)(xs), run(xs).data)
    const g = (a: Tensor): Tensor => grad((b: Tensor) => sum(scan(cell(b, u), h0, xs)[1]))(a)
    expectValues(jit(g)(w), g(w).data)
    // grad of a jitted scan: the graph holds the unrolled steps, differentiated op by op.
    const staged = jit((b: Tensor) => sum(scan(cell(b, u), h0, xs)[1]))
    expectValues(grad(staged)(w), g(w).data)
    const perExample = vmap((x: Tensor) => grad((b: Tensor) => sum(scan(cell(b, u), h0, x)[1]))(w))(batch)
    const loop = T.stack(
      [0, 1, 2, 3].map((i) =>
        grad((b: Tensor) =>
          sum(unrolled(b, u, h0, T.reshape(T.slice(batch, [{ start: i, stop: i + 1 }]), [N, D]))[1]),
        )(w),
      ),
    )
    expectValues(perExample, loop.data)
  })

  it('says what is wrong', () => {
    const body = (c: Tensor, x: Tensor): readonly [Tensor, Tensor] => [add(c, x), c]
    expect(() => scan(body, T.zeros([2]), { a: T.zeros([3, 2]), b: T.zeros([4, 2]) } as never)).toThrow(
      /xs leaf 1 of shape \[4, ?2\] has 4 steps, but xs leaf 0 has 3/,
    )
    expect(() => scan(body, T.zeros([2]), T.zeros([3, 2]), { length: 5 })).toThrow(
      /has 3 steps, but length is 5/,
    )
    expect(() =>
      scan((c: Tensor, x: Tensor) => [reshape(add(c, x), [1, 2]), c] as const, T.zeros([2]), T.zeros([3, 2])),
    ).toThrow(/changed carry leaf 0 from \[2\] float32 to \[1, ?2\] float32/)
    expect(() => scan(body, T.zeros([2]), undefined as never)).toThrow(
      /give the number of steps as \{ length \}/,
    )
    expect(() => scan(body, T.zeros([2]), T.zeros([0, 2]))).toThrow(/at least one step/)
    expect(() => scan(body, T.zeros([2]), T.zeros([3, 2]), { revers: true } as never)).toThrow(/revers/)
    expect(() => scan((() => 1) as never, T.zeros([2]), T.zeros([3, 2]))).toThrow(/pair \[carry, y\]/)
  })
})
