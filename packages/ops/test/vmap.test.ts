import { describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { grad, mul, registry, sum, vmap, type AxisSpec } from '@backfold/ops'
import { elementwiseRows } from './rows/elementwise'
import { structuralRows } from './rows/structural'
import type { GradRow } from './rows/types'

// The batching-rule table: every row of the gradient table (so every registered op) run under vmap
// with random in-axes (negative ones and batches of one included) against the per-example results
// stacked, then vmap(grad) against per-example gradients, then vmap nested in vmap.
const rows: ReadonlyArray<GradRow> = [...elementwiseRows, ...structuralRows]

/** A small seeded generator (mulberry32), so every run draws the same axes. */
const rng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const pick = (random: () => number, lo: number, hi: number): number =>
  lo + Math.floor(random() * (hi - lo + 1))

/**
 * Example `i` of an argument: float arguments are scaled by 1 - 0.07 i, which keeps every row's
 * domain (signs, distinctness, |x| < 1) and makes the examples differ; int32 ones (indices, masks)
 * stay as they are, so they stay valid.
 */
const exampleOf = (x: Tensor, i: number): Tensor => (x.dtype === 'int32' ? x : T.mul(x, 1 - 0.07 * i))

interface Plan {
  readonly size: number
  /** Per argument: the axis its examples are stacked along (as given to vmap, maybe negative), or null. */
  readonly axes: ReadonlyArray<number | null>
}

const plan = (row: GradRow, index: number): Plan => {
  const random = rng(1000 + index)
  const args = row.args()
  const size = pick(random, 1, 3)
  const firstFloat = Math.max(
    0,
    args.findIndex((a) => a.dtype !== 'int32'),
  )
  const axes = args.map((a, n) => {
    const mapped = n === firstFloat || random() < (a.dtype === 'int32' ? 0.5 : 0.75)
    if (!mapped) return null
    const rank = a.shape.length + 1
    return pick(random, -rank, rank - 1)
  })
  return { size, axes }
}

const stackAlong = (examples: ReadonlyArray<Tensor>, axis: number): Tensor => {
  const rank = examples[0]!.shape.length + 1
  return T.stack(examples, axis < 0 ? axis + rank : axis)
}

const batchedArgs = (args: ReadonlyArray<Tensor>, p: Plan): Tensor[] =>
  args.map((a, n) => {
    const axis = p.axes[n]
    if (axis === null || axis === undefined) return a
    return stackAlong(
      Array.from({ length: p.size }, (_, i) => exampleOf(a, i)),
      axis,
    )
  })

const exampleArgs = (args: ReadonlyArray<Tensor>, p: Plan, i: number): Tensor[] =>
  args.map((a, n) => (p.axes[n] === null ? a : exampleOf(a, i)))

const expectClose = (actual: Tensor, expected: Tensor): void => {
  expect(actual.shape).toEqual(expected.shape)
  expect(actual.dtype).toBe(expected.dtype)
  const a = Array.from(actual.data)
  const e = Array.from(expected.data)
  e.forEach((v, i) => {
    const got = a[i]!
    if (Number.isNaN(v)) expect(got).toBeNaN()
    else expect(Math.abs(got - v)).toBeLessThanOrEqual(1e-9 + 1e-9 * Math.abs(v))
  })
}

const label = (row: GradRow): string => `${row.op}: ${row.label}`

describe('every registered op has a batching rule', () => {
  it('each registry entry carries a batch function', () => {
    for (const op of Object.values(registry)) expect(typeof op.batch, op.name).toBe('function')
  })
})

describe.each(rows.map((row, index) => [label(row), row, index] as const))(
  'vmap: %s',
  (_name, row, index) => {
    const p = plan(row, index)
    const description = `size ${p.size}, inAxes [${p.axes.map(String).join(', ')}]`

    it(`equals the per-example results stacked (${description})`, () => {
      const args = row.args()
      const inAxes: AxisSpec[] = [...p.axes]
      const batched = vmap(row.fn, { inAxes })(...batchedArgs(args, p))
      const expected = T.stack(Array.from({ length: p.size }, (_, i) => row.fn(...exampleArgs(args, p, i))))
      expectClose(batched, expected)
    })

    const args = row.args()
    const first = args.findIndex((a) => a.dtype !== 'int32')
    const differentiable = first >= 0 && row.fn(...args).dtype !== 'int32'
    if (differentiable) {
      it(`vmap(grad) equals per-example gradients (${description})`, () => {
        const out = row.fn(...args)
        // A fixed weighting makes the output scalar without a symmetry that could hide errors.
        const weighting = T.unsafeTensor(
          'float64',
          out.shape,
          Float64Array.from({ length: T.sizeOf(out.shape) }, (_, i) => Math.sin(i + 1)),
        )
        const loss = (...xs: Tensor[]): Tensor => sum(mul(row.fn(...xs), weighting))
        const g = grad(loss, { argnums: first })
        const inAxes: AxisSpec[] = [...p.axes]
        const batched = vmap(g, { inAxes })(...batchedArgs(args, p))
        const expected = T.stack(Array.from({ length: p.size }, (_, i) => g(...exampleArgs(args, p, i))))
        expectClose(batched, expected)
      })
    }

    it('nested vmap equals a double loop', () => {
      const inner = 2
      const outer = 2
      const target = first >= 0 ? first : 0
      const x = args[target]!
      // Examples (i, j) of the mapped argument: inner index j stacked along the last axis, outer i first.
      const example = (i: number, j: number): Tensor => exampleOf(x, i * inner + j)
      const stacked = T.stack(
        Array.from({ length: outer }, (_, i) =>
          T.stack(
            Array.from({ length: inner }, (_, j) => example(i, j)),
            x.shape.length,
          ),
        ),
      )
      const withArg = (v: Tensor): Tensor[] => args.map((a, n) => (n === target ? v : a))
      const f = (v: Tensor): Tensor => row.fn(...withArg(v))
      const nested = vmap((v: Tensor) => vmap(f, { inAxes: [-1] })(v), { inAxes: [0] })(stacked)
      const expected = T.stack(
        Array.from({ length: outer }, (_, i) =>
          T.stack(Array.from({ length: inner }, (_, j) => f(example(i, j)))),
        ),
      )
      expectClose(nested, expected)
    })
  },
)

describe('vmap itself', () => {
  const x = T.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ])
  it('maps trees with per-argument axes and null for shared arguments', () => {
    const g = (p: { readonly w: Tensor; readonly b: Tensor }, v: Tensor): Tensor =>
      vmap((q: { readonly w: Tensor; readonly b: Tensor }, u: Tensor) => sum(mul(q.w, u)), {
        inAxes: [{ w: null, b: null }, 1],
      })(p, v)
    const out = g({ w: T.tensor([1, 10]), b: T.scalar(0) }, x)
    expect(T.toArray(out)).toEqual([41, 52, 63])
  })
  it('puts the examples where outAxes says, and repeats an output that does not vary', () => {
    const out = vmap((v: Tensor) => [mul(v, 2), T.scalar(7)] as const, { outAxes: [-1, 0] })(x)
    expect(T.toNested(out[0])).toEqual([
      [2, 8],
      [4, 10],
      [6, 12],
    ])
    expect(T.toArray(out[1])).toEqual([7, 7])
  })
  it('refuses mismatched sizes, out-of-range axes, nothing mapped and a varying output marked null', () => {
    expect(() => vmap((a: Tensor, b: Tensor) => mul(a, b))(x, T.ones([3, 3]))).toThrow(/one size/)
    expect(() => vmap((a: Tensor) => a, { inAxes: [2] })(x)).toThrow(/no axis 2/)
    expect(() => vmap((a: Tensor) => a, { inAxes: [null] })(x)).toThrow(/no argument is mapped/)
    // null is a value, not "the default": it must not fall back to axis 0
    expect(() => vmap((a: Tensor) => a, { inAxes: null })(x)).toThrow(/no argument is mapped/)
    expect(() => vmap((a: Tensor) => mul(a, 2), { outAxes: null })(x)).toThrow(/differs between examples/)
    expect(() => vmap((a: Tensor) => a, { inAxes: [0, 0] })(x)).toThrow(/one per argument/)
    expect(() => vmap((a: Tensor) => a, { inAxis: 0 } as never)(x)).toThrow(/inAxis/)
  })
  it('refuses a kernel of @backfold/tensor on a mapped value, naming the kernel', () => {
    expect(() => vmap((a: Tensor) => T.exp(a))(x)).toThrow(/exp.*vmap/s)
  })
})
