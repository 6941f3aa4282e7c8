import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as T from '@backfold/tensor'
import type { SliceRange, Tensor } from '@backfold/tensor'
import {
  concat,
  gather,
  oneHot,
  pad,
  scatterAdd,
  scatterAddAlongAxis,
  slice,
  split,
  stack,
  takeAlongAxis,
} from '../src/indexing/index'
import { mul } from '../src/binary/mul'
import { sum } from '../src/reduce/sum'
import { argmax } from '../src/reduce/argmax'
import { checkVjp } from '../src/check/checkVjp'
import { grad } from '../src/transforms/grad'
import { vjp } from '../src/transforms/vjp'
import { vmap } from '../src/transforms/vmap'
import { concrete } from '../src/core/trace'
import { makeGraph } from '../src/staging/graph'
import { jit } from '../src/staging/jit'
import { anywhere } from './rows/domains'

const f64 = (shape: ReadonlyArray<number>, values: ReadonlyArray<number>): Tensor =>
  T.unsafeTensor('float64', shape, Float64Array.from(values))
const i32 = (shape: ReadonlyArray<number>, values: ReadonlyArray<number>): Tensor =>
  T.unsafeTensor('int32', shape, Int32Array.from(values))
const values = (x: Tensor): number[] => Array.from(x.data)

/** The pullbacks of `f` at `xs` applied to `ct`. */
const pullbacks = (f: (...xs: Tensor[]) => Tensor, xs: Tensor[], ct: Tensor): Tensor[] => {
  const [, back] = vjp(f)(...xs)
  return back(ct) as Tensor[]
}

/** The indices Python's `range(*slice(start, stop, step).indices(dim))` visits, written out. */
const pythonIndices = (dim: number, range: SliceRange | undefined): number[] => {
  const step = range?.step ?? 1
  const resolve = (bound: number | undefined, fallback: number, lo: number, hi: number): number => {
    if (bound === undefined) return fallback
    const b = bound < 0 ? bound + dim : bound
    return Math.min(Math.max(b, lo), hi)
  }
  const out: number[] = []
  if (step > 0) {
    const start = resolve(range?.start, 0, 0, dim)
    const stop = resolve(range?.stop, dim, 0, dim)
    for (let i = start; i < stop; i += step) out.push(i)
  } else {
    const start = resolve(range?.start, dim - 1, -1, dim - 1)
    const stop = resolve(range?.stop, -1, -1, dim - 1)
    for (let i = start; i > stop; i += step) out.push(i)
  }
  return out
}

const sliceCase = fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 3 }).chain((shape) =>
  fc.tuple(
    fc.constant(shape),
    fc.array(
      fc.option(
        fc.record(
          {
            start: fc.integer({ min: -7, max: 7 }),
            stop: fc.integer({ min: -7, max: 7 }),
            step: fc.constantFrom(-3, -2, -1, 1, 2, 3),
          },
          { requiredKeys: [] },
        ),
        { nil: undefined },
      ),
      { maxLength: shape.length },
    ),
    fc.integer({ min: 0, max: 1000 }),
  ),
)

describe('slice', () => {
  it('selects what Python selects (negative steps too), and its VJP puts ct back in place', () => {
    fc.assert(
      fc.property(sliceCase, ([shape, ranges, seed]) => {
        const x = anywhere(seed, shape)
        const picks = shape.map((dim, axis) => pythonIndices(dim, ranges[axis]))
        const strides = T.stridesOf(shape)
        // Flat input positions of the output elements, in row-major output order.
        let positions = [0]
        picks.forEach((axisPicks, axis) => {
          positions = positions.flatMap((base) => axisPicks.map((i) => base + i * strides[axis]!))
        })
        if (picks.some((p) => p.length === 0)) positions = []
        const y = slice(x, ranges)
        expect(y.shape).toEqual(picks.map((p) => p.length))
        expect(values(y)).toEqual(positions.map((p) => x.data[p]!))
        const ct = anywhere(seed + 1, y.shape)
        const expectedBack = new Array<number>(x.data.length).fill(0)
        positions.forEach((p, j) => (expectedBack[p] = ct.data[j]!))
        const [back] = pullbacks((t) => slice(t, ranges), [x], ct)
        expect(back!.shape).toEqual(shape)
        expect(values(back!)).toEqual(expectedBack)
      }),
      { numRuns: 150 },
    )
  })

  it('returns x itself when everything is selected in order', () => {
    const x = anywhere(1, [2, 3])
    expect(slice(x, [])).toBe(x)
    expect(slice(x, [{ start: 0 }, { stop: 10 }])).toBe(x)
  })

  it('is twice differentiable along both VJP paths (pad for unit steps, scatter otherwise)', () => {
    for (const ranges of [
      [{ start: 1 }, { stop: -1 }],
      [{ step: -2 }, { start: 2, step: -1 }],
    ]) {
      const x = anywhere(2, [3, 4])
      const w = anywhere(3, slice(x, ranges).shape)
      const gradient = (t: Tensor): Tensor =>
        grad((u: Tensor) => sum(mul(mul(slice(u, ranges), slice(u, ranges)), w)))(t)
      const report = checkVjp(gradient, [x])
      expect(report.ok, report.message).toBe(true)
    }
  })

  it('rejects a zero step and too many ranges with typed errors', () => {
    const x = anywhere(4, [2, 3])
    expect(() => slice(x, [{ step: 0 }])).toThrow(T.ValueError)
    expect(() => slice(x, [{}, {}, {}])).toThrow(T.ShapeError)
    expect(() => slice(x, [{}, {}, {}])).toThrow(/slice.*\[2,3\]/)
  })
})

describe('concat, stack, split', () => {
  it('concat joins along the axis and its VJP hands each input its slice of ct', () => {
    const a = f64([2, 1], [1, 2])
    const b = f64([2, 2], [3, 4, 5, 6])
    const y = concat([a, b], { axis: -1 })
    expect(y.shape).toEqual([2, 3])
    expect(values(y)).toEqual([1, 3, 4, 2, 5, 6])
    const ct = f64([2, 3], [10, 11, 12, 13, 14, 15])
    const [da, db] = pullbacks((x, z) => concat([x, z], { axis: 1 }), [a, b], ct)
    expect(values(da!)).toEqual([10, 13])
    expect(values(db!)).toEqual([11, 12, 14, 15])
  })

  it('concat promotes dtypes and sends the gradient back in each input dtype', () => {
    const ints = i32([2], [1, 2])
    const floats = f64([1], [0.5])
    const y = concat([ints, floats])
    expect(y.dtype).toBe('float64')
    expect(values(y)).toEqual([1, 2, 0.5])
    const g = grad((x: Tensor) => sum(mul(concat([ints, x]), f64([3], [1, 2, 3]))))(floats)
    expect(values(g)).toEqual([3])
  })

  it('stack adds an axis; split cuts into equal sections or sizes; both differentiate', () => {
    const a = f64([2], [1, 2])
    const b = f64([2], [3, 4])
    expect(values(stack([a, b]))).toEqual([1, 2, 3, 4])
    expect(stack([a, b], { axis: 1 }).shape).toEqual([2, 2])
    expect(values(stack([a, b], { axis: -1 }))).toEqual([1, 3, 2, 4])
    const [da, db] = grad(
      (x: Tensor, z: Tensor) => sum(mul(stack([x, z], { axis: 1 }), f64([2, 2], [1, 2, 3, 4]))),
      {
        argnums: [0, 1],
      },
    )(a, b)
    expect(values(da)).toEqual([1, 3])
    expect(values(db)).toEqual([2, 4])

    const x = f64([6], [1, 2, 3, 4, 5, 6])
    expect(split(x, 3).map(values)).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ])
    expect(split(x, [1, 0, 5]).map((p) => p.shape)).toEqual([[1], [0], [5]])
    const weightedParts = (t: Tensor): Tensor => {
      const [first, rest] = split(t, [2, 4])
      return T.item(concrete(sum(first!))) > 0 ? sum(mul(rest!, 3)) : sum(first!)
    }
    expect(values(grad(weightedParts)(x))).toEqual([0, 0, 3, 3, 3, 3])
    const m = anywhere(5, [2, 4])
    expect(split(m, 2, { axis: -1 }).map((p) => p.shape)).toEqual([
      [2, 2],
      [2, 2],
    ])
  })

  it('reject empty lists and mismatched shapes with typed errors naming the inputs', () => {
    expect(() => concat([])).toThrow(T.ValueError)
    expect(() => concat([f64([], [1]), f64([], [2])])).toThrow(T.ShapeError)
    expect(() => concat([f64([2, 1], [1, 2]), f64([3, 1], [1, 2, 3])], { axis: 1 })).toThrow(
      /concat.*xs\[1\].*\[3,1\].*\[2,1\]/,
    )
    expect(() => stack([])).toThrow(T.ValueError)
    expect(() => stack([f64([2], [1, 2]), f64([3], [1, 2, 3])])).toThrow(/stack.*xs\[1\].*\[3\].*\[2\]/)
    expect(() => split(f64([5], [1, 2, 3, 4, 5]), 2)).toThrow(/split.*\[5\].*2/)
    expect(() => split(f64([5], [1, 2, 3, 4, 5]), [2, 2])).toThrow(T.ShapeError)
    expect(() => split(f64([5], [1, 2, 3, 4, 5]), 0)).toThrow(T.ValueError)
  })
})

describe('pad', () => {
  it('pads leading axes with a constant and its VJP slices x̄ back out of ct', () => {
    const x = f64([2, 2], [1, 2, 3, 4])
    const y = pad(x, [[1, 0]], 9)
    expect(y.shape).toEqual([3, 2])
    expect(values(y)).toEqual([9, 9, 1, 2, 3, 4])
    const full = pad(x, [
      [0, 1],
      [2, 0],
    ])
    expect(values(full)).toEqual([0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0])
    const ct = f64(
      [3, 4],
      Array.from({ length: 12 }, (_, i) => i),
    )
    const [back] = pullbacks(
      (t) =>
        pad(t, [
          [0, 1],
          [2, 0],
        ]),
      [x],
      ct,
    )
    expect(values(back!)).toEqual([2, 3, 6, 7])
  })

  it('rejects negative amounts and too many entries with typed errors', () => {
    const x = f64([2], [1, 2])
    expect(() => pad(x, [[-1, 0]])).toThrow(T.ValueError)
    expect(() =>
      pad(x, [
        [0, 0],
        [1, 1],
      ]),
    ).toThrow(T.ShapeError)
  })
})

describe('gather and scatterAdd', () => {
  it('gather takes along an axis; repeated indices accumulate their cotangents', () => {
    const x = f64([3], [10, 20, 30])
    const idx = i32([3], [2, 0, 2])
    expect(values(gather(x, idx))).toEqual([30, 10, 30])
    expect(values(grad((t: Tensor) => sum(mul(gather(t, idx), f64([3], [1, 2, 4]))))(x))).toEqual([2, 0, 5])
    const m = f64([2, 3], [1, 2, 3, 4, 5, 6])
    const cols = i32([2, 2], [2, 2, 0, 1])
    const y = gather(m, cols, { axis: -1 })
    expect(y.shape).toEqual([2, 2, 2])
    expect(values(y)).toEqual([3, 3, 1, 2, 6, 6, 4, 5])
    expect(values(grad((t: Tensor) => sum(gather(t, cols, { axis: 1 })))(m))).toEqual([1, 1, 2, 1, 1, 2])
  })

  it('scatterAdd is the adjoint of gather, and its VJP is gather', () => {
    const updates = f64([2, 3], [1, 2, 3, 4, 5, 6])
    const idx = i32([3], [1, 1, 0])
    const y = scatterAdd(updates, idx, [2, 2], { axis: 1 })
    expect(values(y)).toEqual([3, 3, 6, 9])
    const ct = f64([2, 2], [10, 20, 30, 40])
    const [back] = pullbacks((u) => scatterAdd(u, idx, [2, 2], { axis: 1 }), [updates], ct)
    expect(values(back!)).toEqual([20, 20, 10, 40, 40, 30])
    // ⟨gather(x), u⟩ = ⟨x, scatterAdd(u)⟩
    const x = anywhere(6, [2, 2])
    const lhs = values(mul(gather(x, idx, { axis: 1 }), updates)).reduce((a, b) => a + b, 0)
    const rhs = values(mul(x, y)).reduce((a, b) => a + b, 0)
    expect(lhs).toBeCloseTo(rhs, 12)
  })

  it('reject bad indices with typed errors', () => {
    const x = f64([3], [1, 2, 3])
    expect(() => gather(x, i32([1], [3]))).toThrow(T.ValueError)
    expect(() => gather(x, f64([1], [0]))).toThrow(T.DTypeError)
    expect(() => gather(x, i32([1], [0]), { axis: 1 })).toThrow(/gather/)
  })
})

describe('takeAlongAxis and scatterAddAlongAxis', () => {
  it('take along an axis and scatter back as each other’s VJP', () => {
    const x = f64([2, 3], [1, 2, 3, 4, 5, 6])
    const idx = i32([2, 2], [2, 2, 0, 1])
    expect(values(takeAlongAxis(x, idx, { axis: 1 }))).toEqual([3, 3, 4, 5])
    expect(
      values(
        grad((t: Tensor) => sum(mul(takeAlongAxis(t, idx, { axis: -1 }), f64([2, 2], [1, 2, 3, 4]))))(x),
      ),
    ).toEqual([0, 0, 3, 3, 4, 0])
    const updates = f64([2, 2], [1, 2, 3, 4])
    expect(values(scatterAddAlongAxis(updates, idx, [2, 3], { axis: 1 }))).toEqual([0, 0, 3, 3, 4, 0])
    const ct = f64([2, 3], [10, 20, 30, 40, 50, 60])
    const [back] = pullbacks((u) => scatterAddAlongAxis(u, idx, [2, 3], { axis: 1 }), [updates], ct)
    expect(values(back!)).toEqual([30, 30, 40, 50])
  })

  it('picks one logit per row along axis 0 too', () => {
    const x = f64([3, 2], [1, 2, 3, 4, 5, 6])
    const idx = i32([1, 2], [2, 0])
    expect(values(takeAlongAxis(x, idx, { axis: 0 }))).toEqual([5, 2])
    expect(values(grad((t: Tensor) => sum(takeAlongAxis(t, idx, { axis: 0 })))(x))).toEqual([
      0, 1, 0, 0, 1, 0,
    ])
  })
})

describe('oneHot', () => {
  it('encodes int32 indices (float32 by default) and passes no gradient to them', () => {
    const y = oneHot(i32([2], [0, 2]), 3)
    expect(y.dtype).toBe('float32')
    expect(y.shape).toEqual([2, 3])
    expect(values(y)).toEqual([1, 0, 0, 0, 0, 1])
    const picked = (t: Tensor): Tensor => sum(mul(t, oneHot(argmax(t, { axis: 1 }), 3, 'float64')))
    expect(values(grad(picked)(f64([2, 3], [1, 5, 2, 7, 0, 3])))).toEqual([0, 1, 0, 1, 0, 0])
  })

  it('rejects out-of-range indices with a ValueError', () => {
    expect(() => oneHot(i32([1], [3]), 3)).toThrow(T.ValueError)
  })
})

// Batching rules (issue #11: "indexing and gather handle batched indices"). Each case maps the data,
// the indices or both, along every axis position, with indices that differ from example to example,
// and compares vmap with the per-example results stacked. The vmap table test (vmap.test.ts) keeps
// int32 arguments equal across examples, so it cannot tell one example's indices from another's.
describe('batching rules of the indexing ops', () => {
  const size = 3
  let seed = 5000
  const floats = (shape: ReadonlyArray<number>): Tensor => anywhere(seed++, shape)
  const ints = (shape: ReadonlyArray<number>, below: number): Tensor =>
    T.random.randint(T.random.key(seed++), shape, 0, below)
  const insertAt = (shape: ReadonlyArray<number>, at: number, dim: number): number[] => [
    ...shape.slice(0, at),
    dim,
    ...shape.slice(at),
  ]
  /** Example `i` of a batch with its examples along `axis` (concrete, by kernels). */
  const exampleOf = (x: Tensor, axis: number | null, i: number): Tensor =>
    axis === null ? x : T.gather(x, T.unsafeTensor('int32', [], Int32Array.of(i)), axis)
  const axisChoices = (exampleRank: number): Array<number | null> => [
    null,
    ...Array.from({ length: exampleRank + 1 }, (_, i) => i),
  ]

  /** Runs `f` under vmap and per example; expects the same values and shapes. */
  const expectBatched = (
    f: (...xs: Tensor[]) => Tensor,
    batches: ReadonlyArray<Tensor>,
    inAxes: ReadonlyArray<number | null>,
    what: string,
  ): void => {
    const batched = vmap(f, { inAxes: [...inAxes] })(...batches)
    const expected = T.stack(
      Array.from({ length: size }, (_, i) => f(...batches.map((b, n) => exampleOf(b, inAxes[n] ?? null, i)))),
    )
    expect(batched.shape, what).toEqual(expected.shape)
    expect(batched.dtype, what).toBe(expected.dtype)
    const got = values(batched)
    values(expected).forEach((v, k) => expect(Math.abs(got[k]! - v), `${what} at ${k}`).toBeLessThan(1e-12))
  }

  /** Every placement of the data's and the indices' examples (at least one mapped). */
  const placements = (dataRank: number, indexRank: number): Array<readonly [number | null, number | null]> =>
    axisChoices(dataRank).flatMap((dataAxis) =>
      axisChoices(indexRank)
        .filter((indexAxis) => dataAxis !== null || indexAxis !== null)
        .map((indexAxis) => [dataAxis, indexAxis] as const),
    )

  it('gather: mapped data, mapped indices (of rank 0, 1, 2) or both, at every axis', () => {
    const xShape = [3, 4, 2]
    for (let axis = 0; axis < 3; axis++)
      for (const indexShape of [[], [2], [2, 3]])
        for (const [xAxis, indexAxis] of placements(3, indexShape.length)) {
          const x = xAxis === null ? floats(xShape) : floats(insertAt(xShape, xAxis, size))
          const dim = xShape[axis]!
          const idx =
            indexAxis === null ? ints(indexShape, dim) : ints(insertAt(indexShape, indexAxis, size), dim)
          expectBatched(
            (a, b) => gather(a, b, { axis }),
            [x, idx],
            [xAxis, indexAxis],
            `axis ${axis}, indices ${T.fmtShape(indexShape)}, inAxes [${xAxis}, ${indexAxis}]`,
          )
        }
  })

  it('scatterAdd: mapped updates, mapped indices or both, at every axis (duplicates accumulate)', () => {
    const shape = [3, 4, 2]
    for (let axis = 0; axis < 3; axis++)
      for (const indexShape of [[], [5], [2, 3]]) {
        const updateShape = [...shape.slice(0, axis), ...indexShape, ...shape.slice(axis + 1)]
        for (const [updateAxis, indexAxis] of placements(updateShape.length, indexShape.length)) {
          const updates =
            updateAxis === null ? floats(updateShape) : floats(insertAt(updateShape, updateAxis, size))
          const dim = shape[axis]!
          const idx =
            indexAxis === null ? ints(indexShape, dim) : ints(insertAt(indexShape, indexAxis, size), dim)
          expectBatched(
            (u, i) => scatterAdd(u, i, shape, { axis }),
            [updates, idx],
            [updateAxis, indexAxis],
            `axis ${axis}, indices ${T.fmtShape(indexShape)}, inAxes [${updateAxis}, ${indexAxis}]`,
          )
        }
      }
  })

  it('takeAlongAxis and scatterAddAlongAxis: mapped data, mapped indices or both, at every axis', () => {
    const xShape = [3, 4, 2]
    for (let axis = 0; axis < 3; axis++) {
      const indexShape = insertAt(
        xShape.filter((_, i) => i !== axis),
        axis,
        5,
      )
      for (const [xAxis, indexAxis] of placements(3, 3)) {
        const what = `axis ${axis}, inAxes [${xAxis}, ${indexAxis}]`
        const dim = xShape[axis]!
        const idx =
          indexAxis === null ? ints(indexShape, dim) : ints(insertAt(indexShape, indexAxis, size), dim)
        const x = xAxis === null ? floats(xShape) : floats(insertAt(xShape, xAxis, size))
        expectBatched((a, b) => takeAlongAxis(a, b, { axis }), [x, idx], [xAxis, indexAxis], what)
        const updates = xAxis === null ? floats(indexShape) : floats(insertAt(indexShape, xAxis, size))
        expectBatched(
          (u, i) => scatterAddAlongAxis(u, i, xShape, { axis }),
          [updates, idx],
          [xAxis, indexAxis],
          what,
        )
      }
    }
  })

  it('oneHot: mapped indices at every axis', () => {
    for (const indexAxis of [0, 1, 2])
      expectBatched(
        (i) => oneHot(i, 4, 'float64'),
        [ints(insertAt([2, 3], indexAxis, size), 4)],
        [indexAxis],
        `${indexAxis}`,
      )
  })

  it('concat with some inputs mapped (anywhere) and others shared; slice and pad at every axis', () => {
    for (const [aAxis, bAxis] of placements(2, 2))
      for (const axis of [0, 1]) {
        const aShape = [2, 3]
        const bShape = axis === 0 ? [1, 3] : [2, 1]
        const a = aAxis === null ? floats(aShape) : floats(insertAt(aShape, aAxis, size))
        const b = bAxis === null ? floats(bShape) : floats(insertAt(bShape, bAxis, size))
        expectBatched(
          (p, q) => concat([p, q, p], { axis }),
          [a, b],
          [aAxis, bAxis],
          `axis ${axis}, [${aAxis}, ${bAxis}]`,
        )
      }
    for (const xAxis of [0, 1, 2]) {
      const x = floats(insertAt([4, 5], xAxis, size))
      expectBatched((v) => slice(v, [{ start: 1, stop: 3 }, { step: -2 }]), [x], [xAxis], `slice ${xAxis}`)
      expectBatched(
        (v) =>
          pad(
            v,
            [
              [1, 0],
              [0, 2],
            ],
            0.5,
          ),
        [x],
        [xAxis],
        `pad ${xAxis}`,
      )
    }
  })

  it('nested vmap of gather and scatterAdd with data and indices mapped at both levels', () => {
    // Outer examples along axis 0, inner along the last axis: the inner rule's offsets are added to
    // indices that are themselves batched by the outer vmap.
    const outer = 2
    const x = floats([outer, 4, 3, size])
    const idx = ints([outer, 5, size], 4)
    const updates = floats([outer, 5, 3, size])
    const at = (t: Tensor, i: number, j: number): Tensor =>
      exampleOf(exampleOf(t, 0, i), t.shape.length - 2, j)
    const cases = [
      [(a: Tensor, i: Tensor): Tensor => gather(a, i), x],
      [(u: Tensor, i: Tensor): Tensor => scatterAdd(u, i, [4, 3]), updates],
    ] as const
    for (const [f, data] of cases) {
      const nested = vmap((a: Tensor, i: Tensor) => vmap(f, { inAxes: [-1, -1] })(a, i))(data, idx)
      const expected = T.stack(
        Array.from({ length: outer }, (_, i) =>
          T.stack(Array.from({ length: size }, (_, j) => f(at(data, i, j), at(idx, i, j)))),
        ),
      )
      expect(nested.shape).toEqual(expected.shape)
      expect(values(nested)).toEqual(values(expected))
    }
  })

  it('vmap(grad) and grad(vmap) through gather and scatterAdd with every input mapped', () => {
    // Per-example data and indices, the weighting shared: the data's gradient scatters (gather) or
    // gathers (scatterAdd) with each example's own indices.
    const x = floats([size, 4, 3])
    const idx = ints([size, 5], 4)
    const weights = floats([5, 3])
    const scatterWeights = floats([4, 3])
    const gatherLoss = (a: Tensor, i: Tensor): Tensor => sum(mul(gather(a, i), weights))
    const scatterLoss = (u: Tensor, i: Tensor): Tensor => sum(mul(scatterAdd(u, i, [4, 3]), scatterWeights))
    for (const loss of [gatherLoss, scatterLoss]) {
      const input = loss === gatherLoss ? x : floats([size, 5, 3])
      const perExample = T.stack(
        Array.from({ length: size }, (_, n) => grad(loss)(exampleOf(input, 0, n), exampleOf(idx, 0, n))),
      )
      const viaVmap = vmap(grad(loss))(input, idx)
      const viaGradOfVmap = grad((a: Tensor) => sum(vmap(loss)(a, idx)))(input)
      expect(values(viaVmap)).toEqual(values(perExample).map((v) => expect.closeTo(v, 12)))
      expect(values(viaGradOfVmap)).toEqual(values(perExample).map((v) => expect.closeTo(v, 12)))
    }
  })
})

// Shape rules (issue #12, staged execution): staging runs each op's `abstract` rule on values that
// have a shape and a dtype but no data. The rule must give eager mode's output shape and dtype and
// throw eager mode's error for a mis-shaped program; index values (ranges) are data, so they are
// checked by the kernel when the staged program runs, never by the rule.
describe('shape rules of the indexing ops', () => {
  const f32 = (shape: ReadonlyArray<number>): Tensor => T.astype(anywhere(7, shape), 'float32')

  /** The output shape and dtype of `f` staged on `args`, and eager mode's. */
  const avals = (
    f: (...xs: Tensor[]) => Tensor,
    args: ReadonlyArray<Tensor>,
  ): {
    staged: { shape: ReadonlyArray<number>; dtype: string }
    eager: { shape: number[]; dtype: string }
  } => {
    const graph = makeGraph(f)(...args)
    expect(graph.outputs).toHaveLength(1)
    const out = graph.outputs[0]!
    const y = f(...args)
    return {
      staged: { shape: [...out.shape], dtype: out.dtype },
      eager: { shape: [...y.shape], dtype: y.dtype },
    }
  }

  /** What `run` throws (undefined when it returns). */
  const thrown = (run: () => unknown): unknown => {
    try {
      run()
    } catch (error) {
      return error
    }
    return undefined
  }

  /** Expects staging `f` on `args` to throw what eager mode throws: the same class and message. */
  const expectSameError = (f: (...xs: Tensor[]) => Tensor, args: ReadonlyArray<Tensor>): void => {
    const eager = thrown(() => f(...args))
    const staged = thrown(() => makeGraph(f)(...args))
    if (!(eager instanceof T.BackfoldError) || !(staged instanceof T.BackfoldError))
      throw new Error(`expected both to throw a BackfoldError, got ${String(eager)} and ${String(staged)}`)
    expect(eager).not.toBeInstanceOf(T.TraceError)
    expect(staged.constructor).toBe(eager.constructor)
    expect(staged.message).toContain(eager.message)
  }

  it('slice: the staged shape is the eager one for any ranges (negative steps, clamping, empty)', () => {
    fc.assert(
      fc.property(sliceCase, ([shape, ranges, seed]) => {
        const x = anywhere(seed, shape)
        const { staged, eager } = avals((t) => slice(t, ranges), [x])
        expect(staged).toEqual(eager)
      }),
      { numRuns: 150 },
    )
  })

  const cases: ReadonlyArray<readonly [string, (...xs: Tensor[]) => Tensor, ReadonlyArray<Tensor>]> = [
    [
      'slice backwards to index 0',
      (x) => slice(x, [{ step: -2 }, { start: 2, step: -1 }]),
      [f64([3, 4], new Array<number>(12).fill(1))],
    ],
    [
      'slice to nothing',
      (x) => slice(x, [{ start: 2, stop: 1 }]),
      [f64([3, 4], new Array<number>(12).fill(1))],
    ],
    [
      'concat promotes int32 and float32',
      (a, b) => concat([a, b], { axis: 1 }),
      [i32([2, 1], [1, 2]), f32([2, 3])],
    ],
    [
      'concat of three along the last axis',
      (a, b, c) => concat([a, b, c], { axis: -1 }),
      [f32([2, 3, 1]), f32([2, 3, 0]), f32([2, 3, 4])],
    ],
    [
      'stack of int32 and float64',
      (a, b) => stack([a, b], { axis: 1 }),
      [i32([2], [1, 2]), f64([2], [3, 4])],
    ],
    ['split into sizes', (x) => split(x, [1, 3], { axis: 1 })[1]!, [f32([2, 4])]],
    [
      'pad an int32 tensor',
      (x) =>
        pad(
          x,
          [
            [1, 2],
            [0, 3],
          ],
          7,
        ),
      [i32([2, 2], [1, 2, 3, 4])],
    ],
    ['pad by nothing', (x) => pad(x, [[0, 0]]), [f32([2, 3])]],
    [
      'gather with 2-D indices along axis 1',
      (x, i) => gather(x, i, { axis: 1 }),
      [f64([3, 4, 2], new Array<number>(24).fill(1)), i32([2, 3], [0, 3, 1, 1, 2, 0])],
    ],
    ['gather with a scalar index', (x, i) => gather(x, i), [f32([3, 4]), i32([], [2])]],
    [
      'scatterAdd along axis 1',
      (u, i) => scatterAdd(u, i, [2, 5], { axis: 1 }),
      [f32([2, 3]), i32([3], [4, 0, 4])],
    ],
    [
      'takeAlongAxis along axis 0',
      (x, i) => takeAlongAxis(x, i, { axis: 0 }),
      [f64([3, 2], [1, 2, 3, 4, 5, 6]), i32([1, 2], [2, 0])],
    ],
    [
      'scatterAddAlongAxis',
      (u, i) => scatterAddAlongAxis(u, i, [2, 4], { axis: 1 }),
      [i32([2, 1], [5, 7]), i32([2, 1], [3, 0])],
    ],
    ['oneHot as int32', (i) => oneHot(i, 4, 'int32'), [i32([2, 3], [0, 1, 2, 3, 0, 1])]],
    ['oneHot of depth 0 on no indices', (i) => oneHot(i, 0, 'float64'), [i32([0], [])]],
    // Under vmap the batching rules apply the ops with renumbered parameters: the rules see those too.
    [
      'vmap of gather, both inputs mapped',
      vmap((x, i) => gather(x, i, { axis: 1 })),
      [f32([3, 2, 4]), i32([3, 5], [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2])],
    ],
    [
      'vmap of scatterAdd, indices mapped',
      vmap((u, i) => scatterAdd(u, i, [4, 2]), { inAxes: [null, 0] }),
      [f32([2, 2]), i32([3, 2], [0, 3, 1, 1, 2, 0])],
    ],
    ['vmap of slice along axis 1', vmap((x) => slice(x, [{ step: -1 }]), { inAxes: [1] }), [f32([4, 3, 2])]],
    ['vmap of pad', vmap((x) => pad(x, [[1, 0]])), [f32([3, 2])]],
  ]
  it.each(cases)('%s: the staged output has the eager shape and dtype', (_what, f, args) => {
    const { staged, eager } = avals(f, args)
    expect(staged).toEqual(eager)
  })

  const errors: ReadonlyArray<readonly [string, (...xs: Tensor[]) => Tensor, ReadonlyArray<Tensor>]> = [
    ['concat of mismatched dimensions', (a, b) => concat([a, b], { axis: 1 }), [f32([2, 3]), f32([3, 3])]],
    ['concat of mismatched ranks', (a, b) => concat([a, b]), [f32([2, 3]), f32([2])]],
    ['pad of an int32 tensor with a fraction', (x) => pad(x, [[1, 1]], 0.5), [i32([2], [1, 2])]],
    ['pad by a negative amount', (x) => pad(x, [[-1, 0]]), [f32([2])]],
    [
      'pad of more axes than x has',
      (x) =>
        pad(x, [
          [1, 1],
          [1, 1],
        ]),
      [f32([2])],
    ],
    ['gather with float indices', (x, i) => gather(x, i), [f32([3, 2]), f32([2])]],
    [
      'scatterAdd with mis-shaped updates',
      (u, i) => scatterAdd(u, i, [4, 2]),
      [f32([3, 2]), i32([2], [0, 1])],
    ],
    ['scatterAdd with float indices', (u, i) => scatterAdd(u, i, [4, 2]), [f32([2, 2]), f32([2])]],
    [
      'takeAlongAxis with indices of another rank',
      (x, i) => takeAlongAxis(x, i, { axis: 1 }),
      [f32([2, 3]), i32([2], [0, 1])],
    ],
    [
      'takeAlongAxis with indices of another size',
      (x, i) => takeAlongAxis(x, i, { axis: 1 }),
      [f32([2, 3]), i32([3, 1], [0, 1, 2])],
    ],
    [
      'scatterAddAlongAxis with updates unlike the indices',
      (u, i) => scatterAddAlongAxis(u, i, [2, 3], { axis: 1 }),
      [f32([2, 2]), i32([2, 1], [0, 1])],
    ],
    [
      'scatterAddAlongAxis with float indices',
      (u, i) => scatterAddAlongAxis(u, i, [2, 3], { axis: 1 }),
      [f32([2, 1]), f32([2, 1])],
    ],
    ['oneHot of float indices', (i) => oneHot(i, 3), [f32([2])]],
    ['oneHot of a negative depth', (i) => oneHot(i, -1), [i32([2], [0, 0])]],
  ]
  it.each(errors)('%s: staging throws the eager error', (_what, f, args) => {
    expectSameError(f, args)
  })

  it('names the staged function and the op in a staging error', () => {
    const lookup = (x: Tensor, i: Tensor): Tensor => gather(x, i)
    expect(() => makeGraph(lookup)(f32([3, 2]), f32([2]))).toThrow(
      /while staging function lookup: gather: indices must be int32/,
    )
  })

  it("leaves index values to the kernel: staging succeeds, running the program throws eager mode's error", () => {
    const outOfRange = i32([2], [0, 3])
    const cases: ReadonlyArray<readonly [(t: Tensor, i: Tensor) => Tensor, Tensor, Tensor]> = [
      [(t, i) => gather(t, i), f32([3, 2]), outOfRange],
      [(t, i) => takeAlongAxis(t, i, { axis: 0 }), f32([3, 1]), i32([2, 1], [0, 3])],
      [(t, i) => scatterAdd(t, i, [3, 2]), f32([2, 2]), outOfRange],
      [(t, i) => scatterAddAlongAxis(t, i, [3], { axis: 0 }), f32([2]), outOfRange],
      [(_t, i) => oneHot(i, 3), f32([2]), outOfRange],
    ]
    for (const [f, data, indices] of cases) {
      expect(() => makeGraph(f)(data, indices)).not.toThrow()
      const eager = thrown(() => f(data, indices))
      if (!(eager instanceof T.ValueError)) throw new Error(`expected a ValueError, got ${String(eager)}`)
      expect(() => jit(f)(data, indices)).toThrow(eager.message)
    }
    // Closed over, the indices are a constant of the graph, the data an input: still checked only
    // when the program runs. (An op on constants alone is not staged: it runs while staging.)
    for (const [f, data, indices] of cases.slice(0, 4)) {
      const closed = (t: Tensor): Tensor => f(t, indices)
      expect(() => makeGraph(closed)(data)).not.toThrow()
      expect(() => jit(closed)(data)).toThrow(T.ValueError)
    }
  })
})
