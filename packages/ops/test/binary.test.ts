import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  add as addKernel,
  mul as mulKernel,
  random,
  stack,
  unsafeTensor,
  zeros,
  type DType,
  type Tensor,
} from '@backfold/tensor'
import { grad } from '../src/transforms/grad'
import { vjp } from '../src/transforms/vjp'
import { vmap } from '../src/transforms/vmap'
import { sum } from '../src/reduce/sum'
import * as B from '../src/binary/index'
import { makeGraph } from '../src/staging/graph'
import { eagerOutcome, stagedOutcome } from './abstractOutcome'

const f64 = (values: ReadonlyArray<number>, shape: ReadonlyArray<number> = [values.length]): Tensor =>
  unsafeTensor('float64', shape, Float64Array.from(values))
const i32 = (values: ReadonlyArray<number>, shape: ReadonlyArray<number> = [values.length]): Tensor =>
  unsafeTensor('int32', shape, Int32Array.from(values))
const valuesOf = (x: Tensor): number[] => Array.from(x.data)
/** Gradients of sum(f(a, b)) with respect to both operands. */
const grads = (f: (a: Tensor, b: Tensor) => Tensor, a: Tensor, b: Tensor): [number[], number[]] => {
  const [ga, gb] = grad((x: Tensor, y: Tensor) => sum(f(x, y)), { argnums: [0, 1] })(a, b)
  return [valuesOf(ga), valuesOf(gb)]
}

/** For each element of `outShape` (row-major), the flat index of the element of `inShape` broadcast onto it (NumPy rules). */
const broadcastSource = (inShape: ReadonlyArray<number>, outShape: ReadonlyArray<number>): number[] => {
  const size = outShape.reduce((p, d) => p * d, 1)
  const lead = outShape.length - inShape.length
  const out: number[] = []
  for (let flat = 0; flat < size; flat++) {
    let rest = flat
    const index = new Array<number>(outShape.length)
    for (let axis = outShape.length - 1; axis >= 0; axis--) {
      index[axis] = rest % outShape[axis]!
      rest = Math.floor(rest / outShape[axis]!)
    }
    let source = 0
    for (let axis = 0; axis < inShape.length; axis++)
      source = source * inShape[axis]! + (inShape[axis] === 1 ? 0 : index[axis + lead]!)
    out.push(source)
  }
  return out
}

describe('binary forward values and dtypes', () => {
  it('broadcasts [3,1] with [4]', () => {
    const y = B.add(f64([0, 10, 20], [3, 1]), f64([1, 2, 3, 4]))
    expect(y.shape).toEqual([3, 4])
    expect(valuesOf(y)).toEqual([1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24])
  })

  it('treats a plain number as weak: it takes the tensor dtype', () => {
    expect(B.mul(f64([1.5]), 2).dtype).toBe('float64')
    expect(B.add(3, i32([1])).dtype).toBe('int32')
    expect(valuesOf(B.sub(10, f64([1, 2])))).toEqual([9, 8])
    const both = B.add(1, 2)
    expect(both.dtype).toBe('float32')
    expect(both.shape).toEqual([])
    expect(valuesOf(both)).toEqual([3])
  })

  it('promotes tensor dtypes and divides int32 into float32', () => {
    expect(B.add(i32([1]), unsafeTensor('float32', [1], Float32Array.from([1]))).dtype).toBe('float32')
    expect(B.mul(unsafeTensor('float32', [1], Float32Array.from([1])), f64([2])).dtype).toBe('float64')
    const q = B.div(i32([1, 3]), i32([2, 2]))
    expect(q.dtype).toBe('float32')
    expect(valuesOf(q)).toEqual([0.5, 1.5])
  })

  it('comparisons give int32 masks', () => {
    const a = f64([1, 2, 3])
    const table: ReadonlyArray<readonly [(x: Tensor, y: number) => Tensor, number[]]> = [
      [B.equal, [0, 1, 0]],
      [B.notEqual, [1, 0, 1]],
      [B.less, [1, 0, 0]],
      [B.lessEqual, [1, 1, 0]],
      [B.greater, [0, 0, 1]],
      [B.greaterEqual, [0, 1, 1]],
    ]
    for (const [f, expected] of table) {
      const y = f(a, 2)
      expect(y.dtype).toBe('int32')
      expect(valuesOf(y)).toEqual(expected)
    }
  })

  it('maximum and minimum propagate NaN', () => {
    expect(valuesOf(B.maximum(f64([NaN, 1]), f64([0, NaN])))).toEqual([NaN, NaN])
    expect(valuesOf(B.minimum(f64([NaN, 1]), f64([0, NaN])))).toEqual([NaN, NaN])
  })

  it('pow follows Math.pow, including negative bases with integer exponents', () => {
    const a = [-2, -1.5, 0, 0.5, 3]
    expect(valuesOf(B.pow(f64(a), 3))).toEqual(a.map((v) => v ** 3))
    expect(valuesOf(B.pow(f64([4, 9]), 0.5))).toEqual([2, 3])
  })

  it('where selects with a broadcast condition and accepts numbers', () => {
    const cond = i32([1, 0, 2], [3, 1])
    const y = B.where(cond, f64([1, 2]), -1)
    expect(y.shape).toEqual([3, 2])
    expect(y.dtype).toBe('float64')
    expect(valuesOf(y)).toEqual([1, 2, -1, -1, 1, 2])
    expect(B.where(i32([1, 0]), 5, 7).dtype).toBe('float32')
    expect(valuesOf(B.where(i32([1, 0]), 5, 7))).toEqual([5, 7])
  })

  it('throws a ShapeError naming the op and both shapes when shapes do not broadcast', () => {
    const a = f64([1, 2, 3, 4, 5, 6], [2, 3])
    const b = f64([1, 2, 3, 4])
    for (const [name, f] of [
      ['add', B.add],
      ['mul', B.mul],
      ['maximum', B.maximum],
      ['less', B.less],
    ] as const) {
      let caught: unknown
      try {
        f(a, b)
      } catch (e) {
        caught = e
      }
      expect(caught).toMatchObject({ kind: 'ShapeError' })
      const message = (caught as Error).message
      expect(message).toContain(name)
      expect(message).toContain('[2,3]')
      expect(message).toContain('[4]')
    }
    // The same error surfaces inside a transformation.
    expect(() => grad((x: Tensor) => sum(B.mul(x, b)))(a)).toThrow(
      expect.objectContaining({ kind: 'ShapeError' }),
    )
  })
})

describe('binary gradients: exact values and conventions', () => {
  it('add and sub sum the cotangent over broadcast axes', () => {
    const a = f64([1, 2, 3], [3, 1])
    const b = f64([1, 2, 3, 4])
    expect(grads(B.add, a, b)).toEqual([
      [4, 4, 4],
      [3, 3, 3, 3],
    ])
    expect(grads(B.sub, a, b)).toEqual([
      [4, 4, 4],
      [-3, -3, -3, -3],
    ])
  })

  it('mul and div', () => {
    expect(grads(B.mul, f64([2, 3]), f64([5, 7]))).toEqual([
      [5, 7],
      [2, 3],
    ])
    expect(grads(B.div, f64([1, 3]), f64([2, 4]))).toEqual([
      [0.5, 0.25],
      [-0.25, -3 / 16],
    ])
  })

  it('maximum and minimum split ties half and half', () => {
    const a = f64([1, 2, 3])
    const b = f64([3, 2, 1])
    expect(grads(B.maximum, a, b)).toEqual([
      [0, 0.5, 1],
      [1, 0.5, 0],
    ])
    expect(grads(B.minimum, a, b)).toEqual([
      [1, 0.5, 0],
      [0, 0.5, 1],
    ])
    // maximum(x, x) has the gradient of x itself.
    expect(valuesOf(grad((x: Tensor) => sum(B.maximum(x, x)))(f64([1, -2])))).toEqual([1, 1])
    // A broadcast scalar tied with two elements collects both halves.
    expect(grads(B.maximum, f64([0, 0, 5]), f64([0], []))).toEqual([[0.5, 0.5, 1], [1]])
  })

  it('pow: b a^(b−1) and aᵇ ln a, with zero (not NaN) at a = 0', () => {
    const [ga, gb] = grads(B.pow, f64([2]), f64([3]))
    expect(ga[0]).toBeCloseTo(12, 12)
    expect(gb[0]).toBeCloseTo(8 * Math.LN2, 12)
    expect(grads(B.pow, f64([0, 0]), f64([2, 0]))).toEqual([
      [0, 0],
      [0, 0],
    ])
    expect(grads(B.pow, f64([0]), f64([1]))).toEqual([[1], [0]])
  })

  it('pow with a float32 base and a float64 exponent: the exponent gradient is float64-accurate', () => {
    // In float64, d/db aᵇ = aᵇ ln a with a the float32 value of the base; taking ln in float32
    // (the operand's own dtype) is off by about 1e-8 relative.
    const base = [1.1, 3.7, 0.3]
    const exponent = [2.5, -1.25, 0.75]
    const a32 = unsafeTensor('float32', [3], Float32Array.from(base))
    const [gBase, gExponent] = grad((a: Tensor, b: Tensor) => sum(B.pow(a, b)), { argnums: [0, 1] })(
      a32,
      f64(exponent),
    )
    expect([gBase.dtype, gExponent.dtype]).toEqual(['float32', 'float64'])
    gExponent.data.forEach((g, i) => {
      const a = Math.fround(base[i]!)
      const expected = a ** exponent[i]! * Math.log(a)
      expect(Math.abs(g - expected) / Math.abs(expected)).toBeLessThan(1e-14)
    })
    // The float32 operand's gradient is rounded once, to float32, from the float64 value.
    gBase.data.forEach((g, i) => {
      const a = Math.fround(base[i]!)
      expect(g).toBe(Math.fround(exponent[i]! * a ** (exponent[i]! - 1)))
    })
  })

  it('where: the condition gets a zero gradient, a and b get the masked cotangent', () => {
    const cond = f64([1, 0, 0.5])
    const [gc, ga, gb] = grad((c: Tensor, x: Tensor, y: Tensor) => sum(B.mul(B.where(c, x, y), 3)), {
      argnums: [0, 1, 2],
    })(cond, f64([1, 2, 3]), f64([4], []))
    expect(valuesOf(gc)).toEqual([0, 0, 0])
    expect(valuesOf(ga)).toEqual([3, 0, 3])
    expect(valuesOf(gb)).toEqual([3])
  })

  it('comparisons have an exactly zero gradient', () => {
    for (const f of [B.equal, B.notEqual, B.less, B.lessEqual, B.greater, B.greaterEqual]) {
      const g = grad((x: Tensor) => sum(B.mul(f(x, 1), x)))(f64([0, 1, 2]))
      // Only the product rule's mask term survives: d/dx (mask · x) = mask.
      expect(valuesOf(g)).toEqual(valuesOf(f(f64([0, 1, 2]), 1)))
    }
  })

  it('second order: d²/da² of a·b·b is 0 and d²/db² of a·b² is 2a', () => {
    const b = f64([1.5, -2])
    const a = f64([0.5, 3])
    const dbb = grad((y: Tensor) => sum(grad((z: Tensor) => sum(B.mul(a, B.mul(z, z))))(y)))(b)
    expect(valuesOf(dbb)).toEqual([1, 6])
  })
})

/** A random output shape and two operand shapes that broadcast to it. */
const broadcastPair = fc
  .array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 3 })
  .chain((outShape) =>
    fc
      .tuple(
        fc.integer({ min: 0, max: outShape.length }),
        fc.integer({ min: 0, max: outShape.length }),
        fc.array(fc.boolean(), { minLength: outShape.length, maxLength: outShape.length }),
        fc.array(fc.boolean(), { minLength: outShape.length, maxLength: outShape.length }),
        fc.integer({ min: 0, max: 1000 }),
      )
      .map(([dropA, dropB, onesA, onesB, seed]) => ({
        outShape,
        aShape: outShape.slice(dropA).map((d, i) => (onesA[i + dropA] === true ? 1 : d)),
        bShape: outShape.slice(dropB).map((d, i) => (onesB[i + dropB] === true ? 1 : d)),
        seed,
      })),
  )

describe('binary VJP laws (property)', () => {
  const normal = (seed: number, shape: ReadonlyArray<number>): Tensor =>
    random.normal(random.key(seed), shape, { dtype: 'float64' })

  it('add and mul: cotangents are the broadcast sums of a naive reference and linear in the cotangent', () => {
    fc.assert(
      fc.property(broadcastPair, ({ aShape, bShape, seed }) => {
        const a = normal(seed, aShape)
        const b = normal(seed + 1, bShape)
        const [y, pullback] = vjp((x: Tensor, z: Tensor) => B.mul(x, z))(a, b)
        const outShape = y.shape
        const u = normal(seed + 2, outShape)
        const w = normal(seed + 3, outShape)
        const [ga, gb] = pullback(u) as Tensor[]
        expect(ga!.shape).toEqual(aShape)
        expect(gb!.shape).toEqual(bShape)
        // Reference: ā[i] = Σ over output positions fed by a[i] of u · b(broadcast).
        const fromA = broadcastSource(aShape, outShape)
        const fromB = broadcastSource(bShape, outShape)
        const wantA = new Array<number>(a.data.length).fill(0)
        const wantB = new Array<number>(b.data.length).fill(0)
        fromA.forEach((ia, o) => {
          wantA[ia]! += u.data[o]! * b.data[fromB[o]!]!
          wantB[fromB[o]!]! += u.data[o]! * a.data[ia]!
        })
        valuesOf(ga!).forEach((v, i) => expect(v).toBeCloseTo(wantA[i]!, 10))
        valuesOf(gb!).forEach((v, i) => expect(v).toBeCloseTo(wantB[i]!, 10))
        // Linearity: pullback(u + 2w) = pullback(u) + 2 pullback(w).
        const combined = unsafeTensor(
          'float64',
          outShape,
          u.data.map((v, i) => v + 2 * w.data[i]!),
        )
        const [ca] = pullback(combined) as Tensor[]
        const [wa] = pullback(w) as Tensor[]
        valuesOf(ca!).forEach((v, i) => expect(v).toBeCloseTo(ga!.data[i]! + 2 * wa!.data[i]!, 10))

        const [, addPullback] = vjp((x: Tensor, z: Tensor) => B.add(x, z))(a, b)
        const [sa, sb] = addPullback(u) as Tensor[]
        const sumA = new Array<number>(a.data.length).fill(0)
        const sumB = new Array<number>(b.data.length).fill(0)
        fromA.forEach((ia, o) => {
          sumA[ia]! += u.data[o]!
          sumB[fromB[o]!]! += u.data[o]!
        })
        valuesOf(sa!).forEach((v, i) => expect(v).toBeCloseTo(sumA[i]!, 10))
        valuesOf(sb!).forEach((v, i) => expect(v).toBeCloseTo(sumB[i]!, 10))
      }),
      { numRuns: 60 },
    )
  })

  it('maximum: the two cotangents add up to the broadcast sum of the output cotangent', () => {
    fc.assert(
      fc.property(broadcastPair, ({ aShape, bShape, seed }) => {
        // Small integers make ties common, which is the case the half/half rule must get right.
        const a = unsafeTensor(
          'float64',
          aShape,
          Float64Array.from(random.randint(random.key(seed), aShape, 0, 3).data),
        )
        const b = unsafeTensor(
          'float64',
          bShape,
          Float64Array.from(random.randint(random.key(seed + 1), bShape, 0, 3).data),
        )
        const [y, pullback] = vjp((x: Tensor, z: Tensor) => B.maximum(x, z))(a, b)
        const u = normal(seed + 2, y.shape)
        const [ga, gb] = pullback(u) as Tensor[]
        const total = valuesOf(u).reduce((s, v) => s + v, 0)
        const got = valuesOf(ga!).reduce((s, v) => s + v, 0) + valuesOf(gb!).reduce((s, v) => s + v, 0)
        expect(got).toBeCloseTo(total, 10)
      }),
      { numRuns: 60 },
    )
  })
})

describe('binary batching rules (property)', () => {
  const uniform = (seed: number, shape: ReadonlyArray<number>, min: number, max: number): Tensor =>
    random.uniform(random.key(seed), shape, { min, max, dtype: 'float64' })
  const mask = (seed: number, shape: ReadonlyArray<number>): Tensor =>
    random.randint(random.key(seed), shape, 0, 2)

  // Each op with a draw per operand from its domain (pow: a positive base; div: b away from 0).
  type Draw = (seed: number, shape: ReadonlyArray<number>) => Tensor
  const anywhere: Draw = (seed, shape) => uniform(seed, shape, -2, 2)
  const binaryCases: ReadonlyArray<readonly [string, (a: Tensor, b: Tensor) => Tensor, Draw, Draw]> = [
    ['add', B.add, anywhere, anywhere],
    ['sub', B.sub, anywhere, anywhere],
    ['mul', B.mul, anywhere, anywhere],
    ['div', B.div, anywhere, (seed, shape) => uniform(seed, shape, 0.5, 2)],
    ['pow', B.pow, (seed, shape) => uniform(seed, shape, 0.5, 2), anywhere],
    ['maximum', B.maximum, anywhere, anywhere],
    ['minimum', B.minimum, anywhere, anywhere],
    ['atan2', B.atan2, anywhere, anywhere],
    ['equal', B.equal, mask, mask],
    ['notEqual', B.notEqual, mask, mask],
    ['less', B.less, anywhere, anywhere],
    ['lessEqual', B.lessEqual, anywhere, anywhere],
    ['greater', B.greater, anywhere, anywhere],
    ['greaterEqual', B.greaterEqual, anywhere, anywhere],
  ]

  /** In-axes for operands of the given ranks: null (shared) or any axis of the batch, negative ones too; at least one mapped. */
  const inAxesFor = (ranks: ReadonlyArray<number>) =>
    fc
      .tuple(
        ...ranks.map((rank) =>
          fc.option(fc.integer({ min: -(rank + 1), max: rank }), { nil: null, freq: 3 }),
        ),
      )
      .map((axes) => (axes.every((a) => a === null) ? [0, ...axes.slice(1)] : axes))

  /** vmap(f) over the operands against f applied to each example, stacked: the same numbers exactly. */
  const expectMapsLikeALoop = (
    f: (...xs: Tensor[]) => Tensor,
    draws: ReadonlyArray<(example: number) => Tensor>,
    axes: ReadonlyArray<number | null>,
    count: number,
  ): void => {
    const examples = Array.from({ length: count }, (_, i) =>
      draws.map((draw, n) => draw(axes[n] === null ? 0 : i)),
    )
    const batches = draws.map((draw, n) => {
      const axis = axes[n]
      if (axis === null || axis === undefined) return draw(0)
      const each = examples.map((xs) => xs[n]!)
      return stack(each, axis < 0 ? axis + each[0]!.shape.length + 1 : axis)
    })
    const batched = vmap(f, { inAxes: [...axes] })(...batches)
    const want = stack(examples.map((xs) => f(...xs)))
    expect(batched.shape).toEqual(want.shape)
    expect(batched.dtype).toBe(want.dtype)
    expect(valuesOf(batched)).toEqual(valuesOf(want))
  }

  for (const [name, op, drawA, drawB] of binaryCases)
    it(`${name}: any broadcast shapes, any in-axes (or shared)`, () => {
      fc.assert(
        fc.property(
          broadcastPair.chain((pair) =>
            fc.tuple(
              fc.constant(pair),
              inAxesFor([pair.aShape.length, pair.bShape.length]),
              fc.integer({ min: 1, max: 3 }),
            ),
          ),
          ([{ aShape, bShape, seed }, axes, count]) =>
            expectMapsLikeALoop(
              (a, b) => op(a!, b!),
              [(i) => drawA(seed + 10 * i, aShape), (i) => drawB(seed + 10 * i + 1, bShape)],
              axes,
              count,
            ),
        ),
        { numRuns: 25 },
      )
    })

  it('where: the condition, a and b each mapped or shared, any broadcast shapes', () => {
    fc.assert(
      fc.property(
        broadcastPair
          .chain((pair) =>
            fc.tuple(
              fc.constant(pair),
              fc.array(fc.boolean(), { minLength: pair.outShape.length, maxLength: pair.outShape.length }),
            ),
          )
          .chain(([pair, ones]) => {
            const condShape = pair.outShape.map((d, i) => (ones[i] === true ? 1 : d))
            return fc.tuple(
              fc.constant({ ...pair, condShape }),
              inAxesFor([condShape.length, pair.aShape.length, pair.bShape.length]),
              fc.integer({ min: 1, max: 3 }),
            )
          }),
        ([{ aShape, bShape, condShape, seed }, axes, count]) =>
          expectMapsLikeALoop(
            (cond, a, b) => B.where(cond!, a!, b!),
            [
              (i) => mask(seed + 10 * i, condShape),
              (i) => anywhere(seed + 10 * i + 1, aShape),
              (i) => anywhere(seed + 10 * i + 2, bShape),
            ],
            axes,
            count,
          ),
      ),
      { numRuns: 40 },
    )
  })
})

describe('binary shape rules (staging)', () => {
  const dtypes = ['float32', 'float64', 'int32'] as const
  const operand = fc.record({
    shape: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 0, maxLength: 3 }),
    dtype: fc.constantFrom(...dtypes),
  })
  const zerosOf = ({ shape, dtype }: { shape: number[]; dtype: DType }): Tensor => zeros(shape, dtype)
  const twoOperandOps: ReadonlyArray<readonly [string, (a: Tensor, b: Tensor) => Tensor]> = [
    ['add', B.add],
    ['sub', B.sub],
    ['mul', B.mul],
    ['div', B.div],
    ['pow', B.pow],
    ['maximum', B.maximum],
    ['minimum', B.minimum],
    ['atan2', B.atan2],
    ['equal', B.equal],
    ['notEqual', B.notEqual],
    ['less', B.less],
    ['lessEqual', B.lessEqual],
    ['greater', B.greater],
    ['greaterEqual', B.greaterEqual],
  ]

  it.each(twoOperandOps)(
    '%s: the staged output has the eager shape and dtype, or staging throws the eager error',
    (_name, f) => {
      fc.assert(
        fc.property(operand, operand, (a, b) => {
          const args: [Tensor, Tensor] = [zerosOf(a), zerosOf(b)]
          expect(stagedOutcome(f, args)).toEqual(eagerOutcome(f, args))
        }),
        { numRuns: 150 },
      )
    },
  )

  it('where: the same, with the three-way broadcast and its error naming all three shapes', () => {
    fc.assert(
      fc.property(operand, operand, operand, (cond, a, b) => {
        const args: [Tensor, Tensor, Tensor] = [zerosOf(cond), zerosOf(a), zerosOf(b)]
        expect(stagedOutcome(B.where, args)).toEqual(eagerOutcome(B.where, args))
      }),
      { numRuns: 300 },
    )
  })

  it('division and powers of int32 stage as float32, comparisons as int32 (not the promoted dtype)', () => {
    const ints = (shape: number[]): Tensor => zeros(shape, 'int32')
    expect(stagedOutcome(B.div, [ints([3, 1]), ints([4])])).toEqual({ shape: [3, 4], dtype: 'float32' })
    expect(stagedOutcome(B.pow, [ints([2]), ints([])])).toEqual({ shape: [2], dtype: 'float32' })
    const f64s = zeros([2], 'float64')
    expect(stagedOutcome(B.less, [f64s, f64s])).toEqual({ shape: [2], dtype: 'int32' })
    expect(stagedOutcome(B.where, [f64s, ints([1]), ints([2])])).toEqual({ shape: [2], dtype: 'int32' })
  })

  it('a mis-shaped program fails while staging, naming the op and both shapes', () => {
    const bad = (a: Tensor, b: Tensor): Tensor => B.mul(a, b)
    expect(() => makeGraph(bad)(zeros([2, 3]), zeros([4]))).toThrow(
      /while staging function bad: mul: .*\[2,3\].*\[4\]/,
    )
  })
})

describe('weak numbers next to int32 tensors', () => {
  it('a number that is not an int32 value gives float32, as the kernels do (not a scalar error)', () => {
    const x = i32([1, 2])
    for (const [f, kernel] of [
      [B.mul, mulKernel],
      [B.add, addKernel],
    ] as const) {
      for (const value of [2.5, Number.NaN, 1e10]) {
        const y = f(x, value)
        const want = kernel(x, value)
        expect(y.dtype).toBe('float32')
        expect(valuesOf(y)).toEqual(valuesOf(want))
        expect(valuesOf(f(value, x))).toEqual(valuesOf(kernel(value, x)))
        expect(stagedOutcome((t: Tensor) => f(t, value), [x])).toEqual({ shape: [2], dtype: 'float32' })
      }
    }
    expect(B.mul(x, 3).dtype).toBe('int32')
    expect(valuesOf(B.where(i32([1, 0]), x, 0.5))).toEqual([1, 0.5])
  })
})
