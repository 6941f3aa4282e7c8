import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { cumprod, cumprodShape, cumsum, cumsumShape } from '../src/kernels/cumulative'
import { argsort, argsortShape } from '../src/kernels/sort'
import { unsafeTensor, type Tensor } from '../src/index'
import { referenceBackend, wasmBackend, wasmAvailable } from '../src/index'
import { setBackend } from '../src/backend'

const f64 = (shape: ReadonlyArray<number>, values: ReadonlyArray<number>): Tensor =>
  unsafeTensor('float64', shape, Float64Array.from(values))
const values = (x: Tensor): number[] => Array.from(x.data)

/** One line's cumulative product, written out the obvious way (the oracle). */
const scan = (line: ReadonlyArray<number>, exclusive: boolean, reverse: boolean): number[] =>
  line.map((_, k) => {
    const factors = line.filter((__, j) =>
      reverse ? (exclusive ? j > k : j >= k) : exclusive ? j < k : j <= k,
    )
    return factors.reduce((product, value) => product * value, 1)
  })

const backends = wasmAvailable() ? [referenceBackend, wasmBackend] : [referenceBackend]

describe.each(backends.map((backend) => [backend.name, backend] as const))(
  'cumprod on %s',
  (_name, backend) => {
    it('scans the chosen axis, inclusive or exclusive, forward or reversed', () => {
      setBackend(backend)
      try {
        const x = f64([2, 3], [2, 3, 4, 0, 5, 6])
        expect(values(cumprod(x, 1))).toEqual([2, 6, 24, 0, 0, 0])
        expect(values(cumprod(x, -1, { exclusive: true }))).toEqual([1, 2, 6, 1, 0, 0])
        expect(values(cumprod(x, 1, { reverse: true }))).toEqual([24, 12, 4, 0, 30, 6])
        expect(values(cumprod(x, 0))).toEqual([2, 3, 4, 0, 15, 24])
        expect(values(cumprod(x, 0, { exclusive: true, reverse: true }))).toEqual([0, 5, 6, 1, 1, 1])
        const ints = cumprod(unsafeTensor('int32', [3], Int32Array.from([65536, 65536, 3])), 0)
        expect(ints.dtype).toBe('int32')
        // 2^32 wraps to 0, as int32 multiplication does.
        expect(values(ints)).toEqual([65536, 0, 0])
        expect(cumprod(f64([2, 0, 3], []), 1).shape).toEqual([2, 0, 3])
      } finally {
        setBackend(undefined)
      }
    })

    it('matches the obvious product of each line (property)', () => {
      setBackend(backend)
      try {
        fc.assert(
          fc.property(
            fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
            fc.nat(),
            fc.boolean(),
            fc.boolean(),
            (shape, axisSeed, exclusive, reverse) => {
              const size = shape.reduce((a, b) => a * b, 1)
              const data = Array.from({ length: size }, (_, i) => ((i * 7) % 5) - 2)
              const axis = axisSeed % shape.length
              const y = cumprod(f64(shape, data), axis, { exclusive, reverse })
              const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1)
              const length = shape[axis]!
              for (let start = 0; start < size; start++) {
                if (Math.floor(start / inner) % length !== 0) continue
                const at = Array.from({ length }, (_, k) => start + k * inner)
                const expected = scan(
                  at.map((i) => data[i]!),
                  exclusive,
                  reverse,
                )
                expect(at.map((i) => y.data[i])).toEqual(expected)
              }
            },
          ),
        )
      } finally {
        setBackend(undefined)
      }
    })
  },
)

describe('cumprodShape', () => {
  it('keeps the shape and refuses a bad axis or flag as the kernel does', () => {
    expect(cumprodShape([2, 3], -1)).toEqual([2, 3])
    expect(() => cumprodShape([2, 3], 2)).toThrow(/axis 2 is out of range/)
    expect(() => cumprod(f64([2], [1, 2]), 0, { reverse: 'yes' as unknown as boolean })).toThrow(
      /reverse must be a boolean/,
    )
  })
})

describe.each(backends.map((backend) => [backend.name, backend] as const))(
  'cumsum on %s',
  (_name, backend) => {
    /** One line's cumulative sum, written out the obvious way (the oracle). */
    const sumScan = (line: ReadonlyArray<number>, exclusive: boolean, reverse: boolean): number[] =>
      line.map((_, k) =>
        line
          .filter((__, j) => (reverse ? (exclusive ? j > k : j >= k) : exclusive ? j < k : j <= k))
          .reduce((total, value) => total + value, 0),
      )
    it('scans the chosen axis like the oracle, and keeps empty shapes and int32', () => {
      setBackend(backend)
      try {
        const line = [0.5, -2, 3, 8.25]
        for (const exclusive of [false, true])
          for (const reverse of [false, true])
            expect(values(cumsum(f64([4], line), 0, { exclusive, reverse }))).toEqual(
              sumScan(line, exclusive, reverse),
            )
        expect(values(cumsum(f64([2, 2], [1, 2, 3, 4]), 0))).toEqual([1, 2, 4, 6])
        expect(cumsum(f64([2, 0, 3], []), 1).shape).toEqual([2, 0, 3])
        const ints = cumsum(unsafeTensor('int32', [2], Int32Array.from([2 ** 31 - 1, 2])), 0)
        expect(values(ints)).toEqual([2 ** 31 - 1, -(2 ** 31) + 1])
        expect(cumsumShape([2, 3], -1)).toEqual([2, 3])
        expect(() => cumsum(f64([2], [1, 2]), 1)).toThrow(/cumsum/)
      } finally {
        setBackend(undefined)
      }
    })
  },
)

describe.each(backends.map((backend) => [backend.name, backend] as const))(
  'argsort on %s',
  (_name, backend) => {
    /** Positions sorted by an insertion sort (stable by construction), NaN above everything. */
    const oracle = (line: ReadonlyArray<number>, descending: boolean): number[] => {
      const key = (v: number): number => (Number.isNaN(v) ? Infinity : v)
      const before = (a: number, b: number): boolean => {
        const [va, vb] = [line[a]!, line[b]!]
        if (Number.isNaN(va) || Number.isNaN(vb))
          return descending ? Number.isNaN(va) && !Number.isNaN(vb) : !Number.isNaN(va) && Number.isNaN(vb)
        return descending ? key(va) > key(vb) : key(va) < key(vb)
      }
      const out: number[] = []
      for (let i = 0; i < line.length; i++) {
        let at = out.length
        while (at > 0 && before(i, out[at - 1]!)) at--
        out.splice(at, 0, i)
      }
      return out
    }
    it('sorts each line stably, NaN above +Infinity, along any axis', () => {
      setBackend(backend)
      try {
        const line = [3, -1, NaN, 3, Infinity, -Infinity, 0, -1, 2]
        for (const descending of [false, true])
          expect(values(argsort(f64([line.length], line), 0, descending))).toEqual(oracle(line, descending))
        const x = f64([2, 3], [5, 1, 4, 0, 2, -3])
        expect(values(argsort(x, 1))).toEqual([1, 2, 0, 2, 0, 1])
        expect(values(argsort(x, 0))).toEqual([1, 0, 1, 0, 1, 0])
        const y = argsort(unsafeTensor('float32', [3], Float32Array.from([2, 1, 3])), -1)
        expect(y.dtype).toBe('int32')
        expect(values(y)).toEqual([1, 0, 2])
        expect(argsortShape([2, 0], 0)).toEqual([2, 0])
        expect(() => argsort(x, 2)).toThrow(/argsort: axis 2 is out of range/)
      } finally {
        setBackend(undefined)
      }
    })
  },
)
