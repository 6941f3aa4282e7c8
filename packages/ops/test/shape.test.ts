import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { broadcastTo, expandDims, ravel, reshape, squeeze, transpose } from '../src/shape/index'
import { mul } from '../src/binary/mul'
import { sum } from '../src/reduce/sum'
import { grad } from '../src/transforms/grad'
import { vjp } from '../src/transforms/vjp'
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
