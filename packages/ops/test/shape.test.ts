import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import {
  broadcastTo,
  broadcastToOp,
  expandDims,
  ravel,
  reshape,
  reshapeOp,
  squeeze,
  transpose,
  transposeOp,
} from '../src/shape/index'
import { mul } from '../src/binary/mul'
import * as S from '../src/shape/index'
import type { Aval } from '../src/core/op'
import { makeGraph } from '../src/staging/graph'
import { sum } from '../src/reduce/sum'
import { grad } from '../src/transforms/grad'
import { vjp } from '../src/transforms/vjp'
import { vmap } from '../src/transforms/vmap'
import { unbroadcast } from '../src/core/unbroadcast'
import { anywhere } from './rows/domains'

const f64 = (shape: ReadonlyArray<number>, values: ReadonlyArray<number>): Tensor =>
  T.unsafeTensor('float64', shape, Float64Array.from(values))
const values = (x: Tensor): number[] => Array.from(x.data)

/** The pullback of `f` at `x` applied to `ct`. */
const pullback = (f: (x: Tensor) => Tensor, x: Tensor, ct: Tensor): Tensor => {
  const [, back] = vjp(f)(x)
  return back(ct)[0] as Tensor
}

/** A random shape of rank 1..4 and a random permutation of its axes. */
const shapeAndPerm = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }).chain((shape) =>
  fc.tuple(
    fc.constant(shape),
    fc.shuffledSubarray(
      shape.map((_, i) => i),
      { minLength: shape.length, maxLength: shape.length },
    ),
    fc.integer({ min: 0, max: 1000 }),
  ),
)

describe('reshape', () => {
  it('infers -1, and its VJP reshapes the cotangent back (same elements, same order)', () => {
    const x = anywhere(1, [2, 3, 4])
    const y = reshape(x, [4, -1])
    expect(y.shape).toEqual([4, 6])
    expect(values(y)).toEqual(values(x))
    const ct = anywhere(2, [4, 6])
    const back = pullback((t) => reshape(t, [4, -1]), x, ct)
    expect(back.shape).toEqual([2, 3, 4])
    expect(values(back)).toEqual(values(ct))
  })

  it('returns its input unchanged (no op recorded) when the shape does not change', () => {
    const x = anywhere(3, [2, 2])
    expect(reshape(x, [2, 2])).toBe(x)
    expect(reshape(x, [-1, 2])).toBe(x)
  })

  it('rejects a size mismatch and two -1s with ShapeErrors naming both shapes', () => {
    const x = anywhere(4, [2, 3])
    expect(() => reshape(x, [4, 2])).toThrow(T.ShapeError)
    expect(() => reshape(x, [4, 2])).toThrow(/reshape.*\[2,3\].*\[4,2\]/)
    expect(() => reshape(x, [-1, -1])).toThrow(T.ShapeError)
  })
})

describe('transpose', () => {
  it('matches direct index arithmetic and its VJP applies the inverse permutation', () => {
    fc.assert(
      fc.property(shapeAndPerm, ([shape, perm, seed]) => {
        const x = anywhere(seed, shape)
        const y = transpose(x, perm)
        const outShape = perm.map((axis) => shape[axis]!)
        expect(y.shape).toEqual(outShape)
        const inStrides = T.stridesOf(shape)
        const outStrides = T.stridesOf(outShape)
        // y[j] = x[i] where j's index along output axis k is i's index along input axis perm[k].
        const expected = new Array<number>(x.data.length)
        const ct = anywhere(seed + 1, outShape)
        const expectedBack = new Array<number>(x.data.length)
        for (let j = 0; j < expected.length; j++) {
          let rest = j
          let i = 0
          for (let k = 0; k < outShape.length; k++) {
            const idx = Math.floor(rest / outStrides[k]!)
            rest -= idx * outStrides[k]!
            i += idx * inStrides[perm[k]!]!
          }
          expected[j] = x.data[i]!
          expectedBack[i] = ct.data[j]!
        }
        expect(values(y)).toEqual(expected)
        expect(values(pullback((t) => transpose(t, perm), x, ct))).toEqual(expectedBack)
      }),
      { numRuns: 50 },
    )
  })

  it('reverses the axes by default, accepts negative axes, and returns x for the identity', () => {
    const x = f64([2, 3], [1, 2, 3, 4, 5, 6])
    expect(values(transpose(x))).toEqual([1, 4, 2, 5, 3, 6])
    expect(values(transpose(x, [-1, 0]))).toEqual([1, 4, 2, 5, 3, 6])
    expect(transpose(x, [0, 1])).toBe(x)
    expect(transpose(x, [-2, -1])).toBe(x)
  })

  it('round-trips with the inverse permutation, gradient included', () => {
    const x = anywhere(5, [2, 3, 4])
    const roundTrip = (t: Tensor): Tensor => transpose(transpose(t, [1, 2, 0]), [2, 0, 1])
    expect(values(roundTrip(x))).toEqual(values(x))
    expect(values(grad((t: Tensor) => sum(mul(roundTrip(t), t)))(x))).toEqual(values(x).map((v) => 2 * v))
  })

  it('rejects a non-permutation with a ValueError naming the perm and shape', () => {
    const x = anywhere(6, [2, 3])
    expect(() => transpose(x, [0, 0])).toThrow(T.ValueError)
    expect(() => transpose(x, [0, 0])).toThrow(/transpose.*\[0,0\].*\[2,3\]/)
    expect(() => transpose(x, [0])).toThrow(/transpose/)
    expect(() => transpose(x, [0, 2])).toThrow(T.ValueError)
  })
})

describe('broadcastTo', () => {
  it('materialises the broadcast and its VJP sums over the broadcast axes', () => {
    const x = f64([3, 1], [1, 2, 3])
    const y = broadcastTo(x, [2, 3, 4])
    expect(y.shape).toEqual([2, 3, 4])
    expect(values(y).slice(0, 8)).toEqual([1, 1, 1, 1, 2, 2, 2, 2])
    const ct = f64(
      [2, 3, 4],
      Array.from({ length: 24 }, (_, i) => i),
    )
    // x̄[i] = Σ_{b, j} ct[b, i, j]
    const expected = [0, 1, 2].map((i) => {
      let s = 0
      for (let b = 0; b < 2; b++) for (let j = 0; j < 4; j++) s += b * 12 + i * 4 + j
      return s
    })
    const back = pullback((t) => broadcastTo(t, [2, 3, 4]), x, ct)
    expect(back.shape).toEqual([3, 1])
    expect(values(back)).toEqual(expected)
    expect(values(grad((t: Tensor) => sum(broadcastTo(t, [2, 3])))(f64([], [7])))).toEqual([6])
  })

  it('returns x for an equal shape and rejects incompatible shapes with a ShapeError', () => {
    const x = f64([2], [1, 2])
    expect(broadcastTo(x, [2])).toBe(x)
    expect(() => broadcastTo(x, [3])).toThrow(T.ShapeError)
    expect(() => broadcastTo(x, [3])).toThrow(/broadcastTo.*\[2\].*\[3\]/)
  })
})

describe('expandDims, squeeze, ravel (composites of reshape)', () => {
  it('give the NumPy shapes and pass gradients straight through', () => {
    const x = anywhere(7, [2, 3])
    expect(expandDims(x, { axis: 0 }).shape).toEqual([1, 2, 3])
    expect(expandDims(x, { axis: -1 }).shape).toEqual([2, 3, 1])
    expect(expandDims(x, { axis: 1 }).shape).toEqual([2, 1, 3])
    expect(squeeze(anywhere(8, [1, 3, 1])).shape).toEqual([3])
    expect(squeeze(anywhere(8, [1, 3, 1]), { axis: -1 }).shape).toEqual([1, 3])
    expect(ravel(x).shape).toEqual([6])
    expect(ravel(f64([], [4])).shape).toEqual([1])
    const ct = anywhere(9, [1, 2, 3])
    const back = pullback((t) => expandDims(t, { axis: 0 }), x, ct)
    expect(back.shape).toEqual([2, 3])
    expect(values(back)).toEqual(values(ct))
    const g = grad((t: Tensor) => sum(mul(squeeze(t), f64([3], [1, 2, 3]))))(anywhere(10, [1, 3, 1]))
    expect(g.shape).toEqual([1, 3, 1])
    expect(values(g)).toEqual([1, 2, 3])
  })

  it('reject bad axes with typed errors', () => {
    const x = anywhere(11, [2, 3])
    expect(() => expandDims(x, { axis: 3 })).toThrow(T.ValueError)
    expect(() => squeeze(x, { axis: 0 })).toThrow(T.ShapeError)
    expect(() => squeeze(x, { axis: 0 })).toThrow(/squeeze.*\[2,3\]/)
  })
})

/**
 * `vmap(f)` over the examples stacked along every axis of the batch (negative ones included), with
 * one example and with all of them, equals `f` applied to each example, stacked; so does
 * `vmap(grad)` against per-example gradients.
 */
const expectBatchesLikeALoop = (f: (x: Tensor) => Tensor, examples: ReadonlyArray<Tensor>): void => {
  const rank = examples[0]!.shape.length + 1
  const out = f(examples[0]!)
  const weighting = T.unsafeTensor(
    'float64',
    out.shape,
    Float64Array.from({ length: T.sizeOf(out.shape) }, (_, i) => Math.sin(i + 1)),
  )
  const perExampleGrad = grad((x: Tensor) => sum(mul(f(x), weighting)))
  for (const chosen of [examples.slice(0, 1), examples]) {
    const expected = T.stack(chosen.map(f))
    const expectedGrad = T.stack(chosen.map(perExampleGrad))
    for (let axis = -rank; axis < rank; axis++) {
      const batch = T.stack(chosen, axis < 0 ? axis + rank : axis)
      const where = `${chosen.length} examples along axis ${axis}`
      const got = vmap(f, { inAxes: [axis] })(batch)
      expect(got.shape, where).toEqual(expected.shape)
      expect(values(got), where).toEqual(values(expected))
      const g = vmap(perExampleGrad, { inAxes: [axis] })(batch)
      expect(g.shape, where).toEqual(expectedGrad.shape)
      expect(values(g), where).toEqual(values(expectedGrad))
    }
  }
}

const examplesOf = (shape: ReadonlyArray<number>, seed: number): Tensor[] =>
  [0, 1, 2].map((i) => anywhere(seed + i, shape))

/** The batch `x` (examples along `axis`) through `op`'s batching rule, applied to concrete tensors. */
const runRule = <P>(
  op: {
    readonly batch: (
      xs: [Tensor],
      axes: readonly [number | undefined],
      p: P,
      self: (xs: [Tensor], p: P) => Tensor,
    ) => readonly [Tensor, number | undefined]
    readonly forward: (xs: [Tensor], p: P) => Tensor
  },
  x: Tensor,
  axis: number,
  p: P,
): readonly [Tensor, number | undefined] => op.batch([x], [axis], p, (xs, q) => op.forward(xs, q))

describe('shape ops under vmap (batching rules)', () => {
  /** A random example shape of rank 0..3, a target shape with its elements, and a batch layout. */
  const reshapeCase = fc
    .array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 3 })
    .chain((shape) =>
      fc.tuple(
        fc.constant(shape),
        fc.constantFrom<ReadonlyArray<number>>(
          [-1],
          [...shape].reverse(),
          [1, ...shape, 1],
          [T.sizeOf(shape), 1],
          shape.length > 1 ? [shape[0]! * shape[1]!, ...shape.slice(2)] : [1, -1],
        ),
        fc.integer({ min: 0, max: 1000 }),
      ),
    )

  it("reshape: each example gets the new shape, whatever the examples' axis (property)", () => {
    fc.assert(
      fc.property(reshapeCase, ([shape, target, seed]) => {
        expectBatchesLikeALoop((x) => reshape(x, target), examplesOf(shape, seed))
      }),
      { numRuns: 40 },
    )
  })

  it("reshape: the examples' axis stays in place when the elements before it form a prefix of the new shape", () => {
    const examples = examplesOf([2, 3, 4], 300)
    const loop = (target: number[]): Tensor => T.stack(examples.map((e) => T.reshape(e, target)))
    // [2, B, 3, 4] -> [2, B, 12]: two blocks of B examples of 12 elements, no copy.
    const [inMiddle, middleAxis] = runRule(reshapeOp, T.stack(examples, 1), 1, { shape: [2, 12] })
    expect(middleAxis).toBe(1)
    expect(values(T.transpose(inMiddle, [1, 0, 2]))).toEqual(values(loop([2, 12])))
    // [2, 3, B, 4] -> [6, B, 4]
    const [late, lateAxis] = runRule(reshapeOp, T.stack(examples, 2), 2, { shape: [6, 4] })
    expect(lateAxis).toBe(1)
    expect(values(T.transpose(late, [1, 0, 2]))).toEqual(values(loop([6, 4])))
    // [2, B, 3, 4] -> [3, 8]: no prefix of [3, 8] holds 2 elements, so the examples go first.
    const [moved, movedAxis] = runRule(reshapeOp, T.stack(examples, 1), 1, { shape: [3, 8] })
    expect(movedAxis).toBe(0)
    expect(values(moved)).toEqual(values(loop([3, 8])))
  })

  /** A random example shape of rank 0..4 with a random permutation of its axes. */
  const transposeCase = fc
    .array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 4 })
    .chain((shape) =>
      fc.tuple(
        fc.constant(shape),
        fc.shuffledSubarray(
          shape.map((_, i) => i),
          { minLength: shape.length, maxLength: shape.length },
        ),
        fc.integer({ min: 0, max: 1000 }),
      ),
    )

  it("transpose: each example permuted, whatever the examples' axis (property)", () => {
    fc.assert(
      fc.property(transposeCase, ([shape, perm, seed]) => {
        expectBatchesLikeALoop((x) => transpose(x, perm), examplesOf(shape, seed))
      }),
      { numRuns: 40 },
    )
  })

  it("transpose: one transpose of the batch, the examples' axis kept in place", () => {
    const examples = examplesOf([2, 3, 4], 310)
    const [y, axis] = runRule(transposeOp, T.stack(examples, 2), 2, { perm: [2, 0, 1] })
    expect(axis).toBe(2)
    expect(y.shape).toEqual([4, 2, 3, 3])
    const expected = T.stack(
      examples.map((e) => T.transpose(e, [2, 0, 1])),
      2,
    )
    expect(values(y)).toEqual(values(expected))
  })

  it("broadcastTo: each example broadcast to the target, the examples' axis lined up with itself", () => {
    expectBatchesLikeALoop((x) => broadcastTo(x, [2, 3, 4]), examplesOf([3, 1], 320))
    expectBatchesLikeALoop((x) => broadcastTo(x, [2, 3]), examplesOf([], 330))
    expectBatchesLikeALoop((x) => broadcastTo(x, [3, 2]), examplesOf([1, 2], 340))
    expectBatchesLikeALoop((x) => broadcastTo(x, [2, 1, 4, 3]), examplesOf([4, 1], 350))
    const [y, axis] = runRule(broadcastToOp, T.stack(examplesOf([3, 1], 360), 1), 1, { shape: [2, 3, 4] })
    expect(axis).toBe(2)
    expect(y.shape).toEqual([2, 3, 3, 4])
  })

  it('expandDims, squeeze, ravel read the shape of one example: a batch axis of size 1 is never squeezed', () => {
    for (const axis of [0, 1, -1, -3])
      expectBatchesLikeALoop((x) => expandDims(x, { axis }), examplesOf([2, 3], 370))
    expectBatchesLikeALoop((x) => squeeze(x), examplesOf([1, 3, 1, 2], 380))
    expectBatchesLikeALoop((x) => squeeze(x, { axis: [0, -2] }), examplesOf([1, 3, 1, 2], 390))
    expectBatchesLikeALoop(ravel, examplesOf([2, 3], 400))
    expectBatchesLikeALoop(ravel, examplesOf([], 410))
    // One example: the batch is [1, 3, 1] and squeezing one example ([3, 1]) must leave its size-1 axis 0.
    const one = vmap((x: Tensor) => squeeze(x, { axis: -1 }))(anywhere(420, [1, 3, 1]))
    expect(one.shape).toEqual([1, 3])
  })

  it('unbroadcast (the shared VJP helper) sums each example back to its own shape', () => {
    expectBatchesLikeALoop((ct) => unbroadcast(ct, [3, 1]), examplesOf([2, 3, 4], 430))
    expectBatchesLikeALoop((ct) => unbroadcast(ct, []), examplesOf([2, 3], 440))
    expectBatchesLikeALoop((ct) => unbroadcast(ct, [1, 2]), examplesOf([4, 2], 450))
  })
})

/**
 * The op's shape rule agrees with its forward: the same shape and dtype, or the same error (class
 * and message), so a program fails while it is staged exactly as it would when run.
 */
const expectRuleMatchesForward = (rule: () => Aval, forward: () => Tensor): void => {
  let expected: Aval | Error
  try {
    const y = forward()
    expected = { shape: [...y.shape], dtype: y.dtype }
  } catch (error) {
    if (!(error instanceof Error)) throw error
    expected = error
  }
  if (!(expected instanceof Error)) {
    expect(rule()).toEqual(expected)
    return
  }
  let thrown: unknown
  try {
    rule()
  } catch (error) {
    thrown = error
  }
  // The exact class (a ValueError is not a ShapeError) and the exact message.
  expect(thrown instanceof Error ? [thrown.constructor, thrown.message] : thrown).toEqual([
    expected.constructor,
    expected.message,
  ])
}

const dims = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 })
const dtypes = fc.constantFrom<T.DType>('float32', 'float64', 'int32')

describe('shape and dtype rules (abstract)', () => {
  it("reshape's rule gives forward's shape and dtype, or its error, -1 included (property)", () => {
    fc.assert(
      fc.property(
        dims,
        dims,
        fc.option(fc.nat(3), { nil: undefined }),
        dtypes,
        (inShape, target, infer, dtype) => {
          const x = T.zeros(inShape, dtype)
          const shape =
            infer === undefined || infer >= target.length
              ? target
              : target.map((dim, i) => (i === infer ? -1 : dim))
          expectRuleMatchesForward(
            () => reshapeOp.abstract([x], { shape }),
            () => reshapeOp.forward([x], { shape }),
          )
        },
      ),
      { numRuns: 300 },
    )
  })

  it("transpose's rule gives forward's shape and dtype, or its error for a non-permutation (property)", () => {
    fc.assert(
      fc.property(
        dims,
        fc.array(fc.integer({ min: -4, max: 4 }), { maxLength: 4 }),
        dtypes,
        (inShape, perm, dtype) => {
          const x = T.zeros(inShape, dtype)
          expectRuleMatchesForward(
            () => transposeOp.abstract([x], { perm }),
            () => transposeOp.forward([x], { perm }),
          )
        },
      ),
      { numRuns: 300 },
    )
    fc.assert(
      fc.property(shapeAndPerm, dtypes, ([inShape, perm], dtype) => {
        const x = T.zeros(inShape, dtype)
        expect(transposeOp.abstract([x], { perm })).toEqual({
          shape: perm.map((axis) => inShape[axis]),
          dtype,
        })
      }),
    )
  })

  it("broadcastTo's rule gives forward's shape and dtype, or its error (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 }),
        dtypes,
        (inShape, shape, dtype) => {
          const x = T.zeros(inShape, dtype)
          expectRuleMatchesForward(
            () => broadcastToOp.abstract([x], { shape }),
            () => broadcastToOp.forward([x], { shape }),
          )
        },
      ),
      { numRuns: 300 },
    )
  })

  it("stages every shape op and composite with eager mode's shape and dtype", () => {
    const x = T.unsafeTensor('int32', [2, 1, 3], Int32Array.of(1, 2, 3, 4, 5, 6))
    const programs: ReadonlyArray<(v: Tensor) => Tensor> = [
      (v) => reshape(v, [3, -1]),
      (v) => transpose(v),
      (v) => transpose(v, [0, -1, 1]),
      (v) => broadcastTo(v, [4, 2, 5, 3]),
      (v) => expandDims(v, { axis: -1 }),
      (v) => squeeze(v),
      (v) => squeeze(v, { axis: 1 }),
      (v) => ravel(v),
    ]
    for (const f of programs) {
      const eager = f(x)
      const graph = makeGraph(f)(x)
      expect(graph.outputs.map((v) => [v.shape, v.dtype])).toEqual([[eager.shape, eager.dtype]])
    }
  })

  it('refuses mis-shaped programs while staging, with the eager errors', () => {
    const x = T.zeros([2, 3])
    const cases: ReadonlyArray<readonly [(v: Tensor) => Tensor, new (...args: never[]) => Error]> = [
      [(v) => reshape(v, [4, 2]), T.ShapeError],
      [(v) => transpose(v, [0, 0]), T.ValueError],
      [(v) => broadcastTo(v, [2, 4]), T.ShapeError],
      [(v) => squeeze(v, { axis: 0 }), T.ShapeError],
    ]
    for (const [f, errorClass] of cases) {
      let eagerMessage = ''
      try {
        f(x)
      } catch (error) {
        if (error instanceof errorClass) eagerMessage = error.message
      }
      expect(eagerMessage).not.toBe('')
      expect(() => makeGraph(f)(x)).toThrow(errorClass)
      expect(() => makeGraph(f)(x)).toThrow(eagerMessage)
    }
  })
})

describe('flip, roll, tile, repeat, tril and triu against index loops', () => {
  const m = (rows: number, cols: number): Tensor =>
    T.unsafeTensor(
      'float64',
      [rows, cols],
      Float64Array.from({ length: rows * cols }, (_, i) => i + 1),
    )
  /** Reads y[i][j] of a rank-2 result through `at`. */
  const table = (rows: number, cols: number, at: (i: number, j: number) => number): number[] =>
    Array.from({ length: rows * cols }, (_, q) => at(Math.floor(q / cols), q % cols))
  const x = m(3, 4)
  const xAt = (i: number, j: number): number => i * 4 + j + 1
  const data = (t: Tensor): number[] => Array.from(t.data)

  it('flip reverses the chosen axes', () => {
    expect(data(S.flip(x, { axis: 1 }))).toEqual(table(3, 4, (i, j) => xAt(i, 3 - j)))
    expect(data(S.flip(x, { axis: [0, -1] }))).toEqual(table(3, 4, (i, j) => xAt(2 - i, 3 - j)))
  })
  it('roll moves the last elements to the front, shifts taken modulo the length', () => {
    const mod = (a: number, n: number): number => ((a % n) + n) % n
    expect(data(S.roll(x, 1, { axis: 1 }))).toEqual(table(3, 4, (i, j) => xAt(i, mod(j - 1, 4))))
    expect(data(S.roll(x, [5, -7], { axis: [0, 1] }))).toEqual(
      table(3, 4, (i, j) => xAt(mod(i - 5, 3), mod(j + 7, 4))),
    )
    expect(S.roll(x, 0, { axis: 0 })).toEqual(x)
  })
  it('tile repeats the whole array, NumPy-style padding of reps and promotion of x', () => {
    const y = S.tile(x, [2, 3])
    expect(y.shape).toEqual([6, 12])
    expect(data(y)).toEqual(table(6, 12, (i, j) => xAt(i % 3, j % 4)))
    expect(S.tile(x, 2).shape).toEqual([3, 8])
    expect(S.tile(x, [2, 1, 1]).shape).toEqual([2, 3, 4])
    expect(S.tile(x, [0, 1]).shape).toEqual([0, 4])
  })
  it('repeat repeats each element in place', () => {
    const y = S.repeat(x, 2, { axis: 1 })
    expect(y.shape).toEqual([3, 8])
    expect(data(y)).toEqual(table(3, 8, (i, j) => xAt(i, Math.floor(j / 2))))
    expect(data(S.repeat(x, 3, { axis: 0 }))).toEqual(table(9, 4, (i, j) => xAt(Math.floor(i / 3), j)))
  })
  it('tril and triu keep one side of the k-th diagonal, on every matrix of a batch', () => {
    for (const k of [-2, -1, 0, 1, 3]) {
      expect(data(S.tril(x, { k }))).toEqual(table(3, 4, (i, j) => (j - i <= k ? xAt(i, j) : 0)))
      expect(data(S.triu(x, { k }))).toEqual(table(3, 4, (i, j) => (j - i >= k ? xAt(i, j) : 0)))
    }
    const batch = T.stack([x, x])
    expect(data(S.tril(batch))).toEqual([...data(S.tril(x)), ...data(S.tril(x))])
    expect(S.tril(T.unsafeTensor('int32', [2, 2], Int32Array.from([1, 2, 3, 4]))).dtype).toBe('int32')
  })
  it('refuse bad arguments with errors that name the op', () => {
    expect(() => S.tril(T.zeros([3]))).toThrow(/tril: x has rank 1/)
    expect(() => S.triu(x, { k: 0.5 })).toThrow(/triu.*k/)
    expect(() => S.tile(x, [-1])).toThrow(/tile: reps must be non-negative integers/)
    expect(() => S.repeat(x, 1.5, { axis: 0 })).toThrow(/repeat: repeats must be a non-negative integer/)
    expect(() => S.roll(x, [1, 2], { axis: 0 })).toThrow(/roll: got 2 shifts for 1 axes/)
    expect(() => S.flip(x, { axis: 2 })).toThrow(/flip: axis 2 is out of range/)
    expect(() => S.flip(x, {} as unknown as { axis: number })).toThrow(/flip/)
  })
})
