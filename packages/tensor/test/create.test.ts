import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import {
  arange,
  eye,
  fromArray,
  fromFlat,
  full,
  fullLike,
  linspace,
  ones,
  onesLike,
  scalar,
  tensor,
  zeros,
  zerosLike,
} from '../src/create'
import type { NestedArray } from '../src/create'
import type { DType } from '../src/dtype'
import { DTypeError, ParseError, ValueError } from '../src/errors'
import { unsafeTensor } from '../src/tensor'
import type { Tensor } from '../src/tensor'

// ---- naive references ------------------------------------------------------------------------

const flattenNested = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(flattenNested) : [v as number])

/** Builds the nested array for `shape` from flat row-major values, by slicing. */
const nestFlat = (flat: ReadonlyArray<number>, shape: ReadonlyArray<number>): NestedArray => {
  if (shape.length === 0) return flat[0]!
  const [first, ...rest] = shape as [number, ...number[]]
  const block = rest.reduce((a, b) => a * b, 1)
  return Array.from({ length: first }, (_, i) => nestFlat(flat.slice(i * block, (i + 1) * block), rest))
}

const leftOf = (result: E.Either<ParseError, Tensor>): ParseError => {
  if (E.isRight(result))
    throw new Error(`expected Left, got a tensor of shape [${result.right.shape.join(',')}]`)
  return result.left
}

const rightOf = (result: E.Either<ParseError, Tensor>): Tensor => {
  if (E.isLeft(result)) throw result.left
  return result.right
}

const expectTensor = (
  x: Tensor,
  dtype: DType,
  shape: ReadonlyArray<number>,
  values: ReadonlyArray<number>,
): void => {
  expect(x.dtype).toBe(dtype)
  expect([...x.shape]).toEqual([...shape])
  expect(x.data.length).toBe(values.length)
  expect(Array.from(x.data)).toEqual([...values])
  const arrayType = { float32: Float32Array, float64: Float64Array, int32: Int32Array }[dtype]
  expect(x.data).toBeInstanceOf(arrayType)
}

const DTYPES: ReadonlyArray<DType> = ['float32', 'float64', 'int32']

// ---- fromArray / tensor ----------------------------------------------------------------------

describe('fromArray', () => {
  it('reads scalars, vectors, matrices and 3-D arrays row-major with the inferred shape', () => {
    expectTensor(rightOf(fromArray(2.5)), 'float32', [], [2.5])
    expectTensor(rightOf(fromArray([1, 2, 3])), 'float32', [3], [1, 2, 3])
    expectTensor(
      rightOf(
        fromArray(
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
          'float64',
        ),
      ),
      'float64',
      [2, 3],
      [1, 2, 3, 4, 5, 6],
    )
    expectTensor(
      rightOf(fromArray([[[1, 2]], [[3, 4]], [[5, 6]]], 'int32')),
      'int32',
      [3, 1, 2],
      [1, 2, 3, 4, 5, 6],
    )
  })

  it('agrees with a naive flatten on random rectangular arrays of every dtype', () => {
    const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 4 })
    fc.assert(
      fc.property(shapeArb, fc.constantFrom(...DTYPES), fc.integer(), (shape, dtype, seed) => {
        const size = shape.reduce((a, b) => a * b, 1)
        const flat = Array.from({ length: size }, (_, i) => ((seed + i * 7919) % 1000) - 500)
        const nested = nestFlat(flat, shape)
        const x = rightOf(fromArray(nested, dtype))
        // an empty row hides the dimensions below it, as in NumPy
        expect([...x.shape]).toEqual(inferredShape(shape))
        expect(Array.from(x.data)).toEqual(flattenNested(nested))
        expect(x.dtype).toBe(dtype)
      }),
      { numRuns: 200 },
    )
  })

  it('handles size-0 shapes', () => {
    expectTensor(rightOf(fromArray([])), 'float32', [0], [])
    expectTensor(rightOf(fromArray([[], []], 'int32')), 'int32', [2, 0], [])
    expectTensor(rightOf(fromArray([[[]]])), 'float32', [1, 1, 0], [])
  })

  it('keeps NaN and infinities for floats, rounds to float32', () => {
    const x = rightOf(fromArray([NaN, Infinity, -Infinity, 0.1]))
    expect(Number.isNaN(x.data[0])).toBe(true)
    expect(x.data[1]).toBe(Infinity)
    expect(x.data[2]).toBe(-Infinity)
    expect(x.data[3]).toBe(Math.fround(0.1))
    expect(rightOf(fromArray([0.1], 'float64')).data[0]).toBe(0.1)
  })

  it('names the path of a ragged row', () => {
    const error = leftOf(
      fromArray([
        [1, 2, 3],
        [4, 5],
      ]),
    )
    expect(error).toBeInstanceOf(ParseError)
    expect(error.kind).toBe('ParseError')
    expect(error.message).toContain('fromArray')
    expect(error.message).toContain('row 1 has length 2, expected 3 at path [1]')
  })

  it('finds ragged rows at depth', () => {
    const deep = leftOf(
      fromArray([
        [
          [1, 2],
          [3, 4],
        ],
        [[5, 6], [7]],
      ]),
    )
    expect(deep.message).toContain('row 1 has length 1, expected 2 at path [1,1]')
    const longer = leftOf(
      fromArray([
        [[1], [2]],
        [[3], [4], [5]],
      ]),
    )
    expect(longer.message).toContain('row 1 has length 3, expected 2 at path [1]')
  })

  it('rejects a number where a row is expected and a row where a number is expected', () => {
    const shallow = leftOf(fromArray([[1, 2], 3] as unknown as NestedArray))
    expect(shallow.message).toContain('path [1]')
    expect(shallow.message).toContain('expected an array of length 2')
    const deeper = leftOf(
      fromArray([
        [1, 2],
        [3, [4]],
      ] as unknown as NestedArray),
    )
    expect(deeper.message).toContain('path [1,1]')
    expect(deeper.message).toContain('expected a number')
  })

  it('rejects leaves that are not numbers, naming the path and what was found', () => {
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [[1, 'a'], 'string'],
      [
        [
          [1, 2],
          [3, null],
        ],
        'null',
      ],
      [[undefined], 'undefined'],
      [[true], 'boolean'],
      [[{}], 'object'],
    ]
    for (const [values, what] of cases) {
      const error = leftOf(fromArray(values as NestedArray))
      expect(error).toBeInstanceOf(ParseError)
      expect(error.message).toContain(what)
      expect(error.message).toMatch(/path \[[\d,]+\]/)
    }
    expect(
      leftOf(
        fromArray([
          [1, 2],
          [3, 'x'],
        ] as unknown as NestedArray),
      ).message,
    ).toContain('path [1,1]')
    expect(leftOf(fromArray('abc' as unknown as NestedArray)).message).toContain('values is the string "abc"')
  })

  it('requires integers in int32 range for int32, naming the path', () => {
    const fractional = leftOf(
      fromArray(
        [
          [1, 2],
          [3, 4.5],
        ],
        'int32',
      ),
    )
    expect(fractional.message).toContain('path [1,1]')
    expect(fractional.message).toContain('4.5')
    expect(fractional.message).toContain('int32')
    expect(leftOf(fromArray([NaN], 'int32')).message).toContain('NaN')
    expect(leftOf(fromArray([Infinity], 'int32')).message).toContain('Infinity')
    expect(leftOf(fromArray([2 ** 31], 'int32')).message).toContain('2147483648')
    expect(leftOf(fromArray(0.5, 'int32')).message).toContain('0.5')
    expectTensor(
      rightOf(fromArray([-(2 ** 31), 2 ** 31 - 1, -0], 'int32')),
      'int32',
      [3],
      [-(2 ** 31), 2 ** 31 - 1, 0],
    )
  })

  it('rejects cyclic input instead of looping forever', () => {
    const cyclic: unknown[] = []
    cyclic.push(cyclic)
    expect(leftOf(fromArray(cyclic as NestedArray)).message).toContain('deeper than')
  })

  it('throws DTypeError for an unknown dtype', () => {
    expect(() => fromArray([1], 'int64' as DType)).toThrow(DTypeError)
  })
})

/** The shape fromArray infers when an inner dimension is 0: it stops at the first empty row. */
const inferredShape = (shape: ReadonlyArray<number>): number[] => {
  const out: number[] = []
  for (const d of shape) {
    out.push(d)
    if (d === 0) break
  }
  return out
}

describe('tensor', () => {
  it('returns the tensor for valid input', () => {
    expectTensor(
      tensor([
        [1, 2],
        [3, 4],
      ]),
      'float32',
      [2, 2],
      [1, 2, 3, 4],
    )
    expectTensor(tensor([0, 2, 1], 'int32'), 'int32', [3], [0, 2, 1])
    expectTensor(tensor(7, 'float64'), 'float64', [], [7])
  })

  it('throws the ParseError for invalid input', () => {
    expect(() => tensor([[1], [2, 3]])).toThrow(ParseError)
    expect(() => tensor([[1], [2, 3]])).toThrow('row 1 has length 2, expected 1 at path [1]')
    expect(() => tensor([1.5], 'int32')).toThrow(ParseError)
  })
})

// ---- fromFlat --------------------------------------------------------------------------------

describe('fromFlat', () => {
  it('shapes flat data row-major and agrees with fromArray of the nested form', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 4 }),
        fc.constantFrom(...DTYPES),
        (shape, dtype) => {
          const size = shape.reduce((a, b) => a * b, 1)
          const flat = Array.from({ length: size }, (_, i) => i * 3 - 7)
          const x = rightOf(fromFlat(flat, shape, dtype))
          const y = rightOf(fromArray(nestFlat(flat, shape), dtype))
          expect(x.dtype).toBe(dtype)
          expect([...x.shape]).toEqual(shape)
          expect(Array.from(x.data)).toEqual(Array.from(y.data))
        },
      ),
      { numRuns: 100 },
    )
  })

  it('copies its input: later writes to the source do not show', () => {
    const source = new Float32Array([1, 2, 3, 4])
    const shape = [2, 2]
    const x = rightOf(fromFlat(source, shape))
    source[0] = 99
    shape[0] = 7
    expect(x.data[0]).toBe(1)
    expect(x.data).not.toBe(source)
    expect([...x.shape]).toEqual([2, 2])
    const plain = [5, 6]
    const y = rightOf(fromFlat(plain, [2], 'float64'))
    plain[1] = 0
    expect(Array.from(y.data)).toEqual([5, 6])
  })

  it('accepts size-0 shapes', () => {
    expectTensor(rightOf(fromFlat([], [0])), 'float32', [0], [])
    expectTensor(rightOf(fromFlat([], [3, 0, 2], 'int32')), 'int32', [3, 0, 2], [])
    expectTensor(rightOf(fromFlat([4], [])), 'float32', [], [4])
  })

  it('names both lengths and the shape when they disagree', () => {
    const error = leftOf(fromFlat([1, 2, 3, 4, 5], [2, 3]))
    expect(error).toBeInstanceOf(ParseError)
    expect(error.message).toContain('5 values')
    expect(error.message).toContain('[2,3]')
    expect(error.message).toContain('6 elements')
  })

  it('rejects non-numbers and bad int32 values with the index', () => {
    expect(leftOf(fromFlat([1, '2'] as unknown as number[], [2])).message).toContain('values[1]')
    const error = leftOf(fromFlat([1, 2, 2.5], [3], 'int32'))
    expect(error.message).toContain('values[2] is 2.5')
    expect(leftOf(fromFlat(null as unknown as number[], [0])).message).toContain('null')
  })

  it('throws ValueError for bad shapes and DTypeError for bad dtypes', () => {
    expect(() => fromFlat([1], [-1])).toThrow(ValueError)
    expect(() => fromFlat([1], [0.5])).toThrow(ValueError)
    expect(() => fromFlat([1], [1], 'uint8' as DType)).toThrow(DTypeError)
  })
})

// ---- constants -------------------------------------------------------------------------------

describe('scalar, zeros, ones, full', () => {
  it('fill every element, for every dtype and shape', () => {
    for (const dtype of DTYPES) {
      expectTensor(scalar(3, dtype), dtype, [], [3])
      expectTensor(zeros([2, 3], dtype), dtype, [2, 3], [0, 0, 0, 0, 0, 0])
      expectTensor(ones([3], dtype), dtype, [3], [1, 1, 1])
      expectTensor(full([2, 1], -4, dtype), dtype, [2, 1], [-4, -4])
      expectTensor(zeros([], dtype), dtype, [], [0])
    }
  })

  it('default to float32', () => {
    expect(scalar(1).dtype).toBe('float32')
    expect(zeros([1]).dtype).toBe('float32')
    expect(ones([1]).dtype).toBe('float32')
    expect(full([1], 2).dtype).toBe('float32')
  })

  it('handle size-0 shapes', () => {
    expectTensor(zeros([0]), 'float32', [0], [])
    expectTensor(ones([2, 0, 3], 'int32'), 'int32', [2, 0, 3], [])
    expectTensor(full([0, 5], 1), 'float32', [0, 5], [])
  })

  it('store float values as their dtype rounds them, NaN included', () => {
    expect(full([1], 0.1).data[0]).toBe(Math.fround(0.1))
    expect(full([1], 0.1, 'float64').data[0]).toBe(0.1)
    expect(Number.isNaN(full([2], NaN).data[1])).toBe(true)
    expect(scalar(-Infinity, 'float64').data[0]).toBe(-Infinity)
  })

  it('do not alias the shape array they were given', () => {
    const shape = [2, 2]
    const x = zeros(shape)
    shape[0] = 5
    expect([...x.shape]).toEqual([2, 2])
  })

  it('reject negative and non-integer dimensions with ValueError', () => {
    for (const make of [(s: number[]) => zeros(s), (s: number[]) => ones(s), (s: number[]) => full(s, 1)]) {
      expect(() => make([2, -1])).toThrow(ValueError)
      expect(() => make([1.5])).toThrow(ValueError)
      expect(() => make([NaN])).toThrow(ValueError)
    }
    expect(() => zeros([2, -1])).toThrow('[2,-1]')
  })

  it('reject absurd sizes with ValueError instead of a RangeError', () => {
    expect(() => zeros([100000, 100000])).toThrow(ValueError)
  })

  it('require int32 fill values to be integers in range', () => {
    expect(() => full([2], 1.5, 'int32')).toThrow(ValueError)
    expect(() => full([2], NaN, 'int32')).toThrow(ValueError)
    expect(() => scalar(2 ** 31, 'int32')).toThrow(ValueError)
    expect(() => full([2], '1' as unknown as number)).toThrow(ValueError)
    expect(() => full([2], 1.5, 'int32')).toThrow('1.5')
  })

  it('reject unknown dtypes with DTypeError', () => {
    expect(() => zeros([1], 'bool' as DType)).toThrow(DTypeError)
    expect(() => ones([1], 'bool' as DType)).toThrow(DTypeError)
    expect(() => full([1], 0, 'bool' as DType)).toThrow(DTypeError)
    expect(() => scalar(0, 'bool' as DType)).toThrow(DTypeError)
  })
})

describe('zerosLike, onesLike, fullLike', () => {
  const x = unsafeTensor('int32', [2, 3], new Int32Array(6).fill(9))

  it("copy x's shape and dtype, or take the dtype given", () => {
    expectTensor(zerosLike(x), 'int32', [2, 3], [0, 0, 0, 0, 0, 0])
    expectTensor(onesLike(x, 'float64'), 'float64', [2, 3], [1, 1, 1, 1, 1, 1])
    expectTensor(fullLike(x, 7), 'int32', [2, 3], [7, 7, 7, 7, 7, 7])
    expectTensor(fullLike(x, 0.5, 'float32'), 'float32', [2, 3], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    expect(Array.from(x.data)).toEqual([9, 9, 9, 9, 9, 9])
    expect(zerosLike(x).shape).not.toBe(x.shape)
  })

  it('work for scalars and size-0 tensors', () => {
    expectTensor(onesLike(unsafeTensor('float32', [], new Float32Array(1))), 'float32', [], [1])
    expectTensor(zerosLike(unsafeTensor('float64', [0, 2], new Float64Array(0))), 'float64', [0, 2], [])
  })

  it('validate the value and dtype', () => {
    expect(() => fullLike(x, 0.5)).toThrow(ValueError)
    expect(() => zerosLike(x, 'x' as DType)).toThrow(DTypeError)
  })
})

// ---- ranges ----------------------------------------------------------------------------------

/** NumPy's arange written out directly. */
const naiveArange = (start: number, stop: number, step: number): number[] => {
  const out: number[] = []
  const n = Math.max(0, Math.ceil((stop - start) / step))
  for (let i = 0; i < n; i++) out.push(start + i * step)
  return out
}

describe('arange', () => {
  it('treats a single argument as stop', () => {
    expectTensor(arange(5), 'int32', [5], [0, 1, 2, 3, 4])
    expectTensor(arange(0), 'int32', [0], [])
  })

  it('matches a direct loop for integer arguments (int32 by default)', () => {
    const nonZero = fc.integer({ min: -5, max: 5 }).filter((s) => s !== 0)
    fc.assert(
      fc.property(
        fc.integer({ min: -20, max: 20 }),
        fc.integer({ min: -20, max: 20 }),
        nonZero,
        (start, stop, step) => {
          expectTensor(
            arange(start, stop, step),
            'int32',
            [naiveArange(start, stop, step).length],
            naiveArange(start, stop, step),
          )
        },
      ),
      { numRuns: 200 },
    )
  })

  it('defaults to float32 when any argument is fractional', () => {
    expectTensor(arange(1, 2, 0.25), 'float32', [4], [1, 1.25, 1.5, 1.75])
    expectTensor(arange(2.5), 'float32', [3], [0, 1, 2])
    const x = arange(0, 1, 0.1, 'float64')
    expectTensor(x, 'float64', [10], naiveArange(0, 1, 0.1))
  })

  it('honours an explicit dtype', () => {
    expectTensor(arange(0, 3, 1, 'float64'), 'float64', [3], [0, 1, 2])
  })

  it('gives an empty range when stop is on the wrong side', () => {
    expectTensor(arange(5, 0), 'int32', [0], [])
    expectTensor(arange(0, 5, -1), 'int32', [0], [])
    expectTensor(arange(5, 0, -2), 'int32', [3], [5, 3, 1])
  })

  it('rejects step 0, non-finite arguments, fractional int32 and int32 overflow', () => {
    expect(() => arange(0, 5, 0)).toThrow(ValueError)
    expect(() => arange(0, 5, 0)).toThrow('step')
    expect(() => arange(Infinity)).toThrow(ValueError)
    expect(() => arange(0, NaN)).toThrow(ValueError)
    expect(() => arange(0, 2, 0.5, 'int32')).toThrow(ValueError)
    expect(() => arange(2 ** 31 - 2, 2 ** 31 + 2)).toThrow(ValueError)
    expect(() => arange(0, 1e300, 1e-300)).toThrow(ValueError)
    expect(() => arange(0, 3, 1, 'u8' as DType)).toThrow(DTypeError)
  })
})

describe('linspace', () => {
  it('includes both endpoints and spaces evenly', () => {
    expectTensor(linspace(0, 1, 5), 'float32', [5], [0, 0.25, 0.5, 0.75, 1])
    expectTensor(linspace(2, -2, 3, 'float64'), 'float64', [3], [2, 0, -2])
  })

  it('matches start + i * step with the exact stop at the end', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.integer({ min: 2, max: 50 }),
        (start, stop, num) => {
          const x = linspace(start, stop, num, 'float64')
          const step = (stop - start) / (num - 1)
          const expected = Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : start + i * step))
          expect(Array.from(x.data)).toEqual(expected)
        },
      ),
      { numRuns: 100 },
    )
  })

  it('handles num = 1 and num = 0', () => {
    expectTensor(linspace(3, 7, 1), 'float32', [1], [3])
    expectTensor(linspace(3, 7, 0), 'float32', [0], [])
  })

  it('rounds toward -Infinity for int32', () => {
    expectTensor(linspace(-1, 1, 5, 'int32'), 'int32', [5], [-1, -1, 0, 0, 1])
  })

  it('rejects bad num and non-finite bounds', () => {
    expect(() => linspace(0, 1, -1)).toThrow(ValueError)
    expect(() => linspace(0, 1, 2.5)).toThrow(ValueError)
    expect(() => linspace(0, Infinity, 3)).toThrow(ValueError)
    expect(() => linspace(0, 1, 3, 'x' as DType)).toThrow(DTypeError)
  })
})

describe('eye', () => {
  it('puts ones on the main diagonal', () => {
    expectTensor(eye(3), 'float32', [3, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1])
    expectTensor(eye(2, 3, 'int32'), 'int32', [2, 3], [1, 0, 0, 0, 1, 0])
    expectTensor(eye(3, 2, 'float64'), 'float64', [3, 2], [1, 0, 0, 1, 0, 0])
  })

  it('matches a direct loop for random sizes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 }), (n, m) => {
        const expected: number[] = []
        for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) expected.push(i === j ? 1 : 0)
        expectTensor(eye(n, m), 'float32', [n, m], expected)
      }),
    )
  })

  it('rejects negative or fractional sizes', () => {
    expect(() => eye(-1)).toThrow(ValueError)
    expect(() => eye(2, 1.5)).toThrow(ValueError)
  })
})
