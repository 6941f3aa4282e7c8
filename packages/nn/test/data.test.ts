import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import {
  applyScaling,
  batches,
  fitMinMax,
  fitStandardize,
  formatDataError,
  fromTensors,
  numExamples,
  parseCsv,
  parseCsvBytes,
  parseIdx,
  shuffle,
  stratifiedSplit,
  subset,
  take,
  validateLabels,
} from '../src/data/index'
import type { CsvOptions, DataError, Dataset } from '../src/data/index'
import { byteLines, parseCsvLines } from '../src/data/csv'

// ---------------------------------------------------------------------------------------------
// helpers written for the tests (independent of the code under test)
// ---------------------------------------------------------------------------------------------

/** A dataset whose example i has features [i, 10 i] and label i % classes (labels int32). */
const counting = (n: number, classes = 3): Dataset => {
  const x = new Float32Array(2 * n)
  const y = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    x[2 * i] = i
    x[2 * i + 1] = 10 * i
    y[i] = i % classes
  }
  return { x: T.unsafeTensor('float32', [n, 2], x), y: T.unsafeTensor('int32', [n], y) }
}

/** The example ids of a `counting` dataset, read back from feature 0. */
const ids = (d: Dataset): number[] => Array.from({ length: d.x.shape[0]! }, (_, i) => d.x.data[2 * i]!)

const leftMessage = <A>(result: E.Either<DataError, A>): string => {
  if (E.isRight(result)) throw new Error('expected a Left, got a Right')
  return formatDataError(result.left)
}

const rightValue = <A>(result: E.Either<DataError, A>): A => {
  if (E.isLeft(result)) throw new Error(`expected a Right, got ${formatDataError(result.left)}`)
  return result.right
}

/** An IDX file built from the specification: big-endian header and values, written with DataView. */
const idxBytes = (
  typeByte: number,
  shape: ReadonlyArray<number>,
  values: ReadonlyArray<number>,
): Uint8Array => {
  const itemSize: Record<number, number> = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 }
  const size = itemSize[typeByte]!
  const bytes = new Uint8Array(4 + 4 * shape.length + size * values.length)
  const view = new DataView(bytes.buffer)
  bytes[2] = typeByte
  bytes[3] = shape.length
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false))
  const start = 4 + 4 * shape.length
  values.forEach((v, i) => {
    const at = start + size * i
    if (typeByte === 0x08) view.setUint8(at, v)
    else if (typeByte === 0x09) view.setInt8(at, v)
    else if (typeByte === 0x0b) view.setInt16(at, v, false)
    else if (typeByte === 0x0c) view.setInt32(at, v, false)
    else if (typeByte === 0x0d) view.setFloat32(at, v, false)
    else view.setFloat64(at, v, false)
  })
  return bytes
}

// ---------------------------------------------------------------------------------------------
// datasets
// ---------------------------------------------------------------------------------------------

describe('fromTensors', () => {
  it('accepts tensors with the same number of examples', () => {
    const d = rightValue(fromTensors(T.zeros([5, 3]), T.zeros([5], 'int32')))
    expect(numExamples(d)).toBe(5)
  })

  it('rejects different first dimensions, naming both shapes', () => {
    const message = leftMessage(fromTensors(T.zeros([5, 3]), T.zeros([4], 'int32'), { source: 'mnist' }))
    expect(message).toContain('mnist')
    expect(message).toContain('[5,3]')
    expect(message).toContain('[4]')
  })

  it('rejects scalars (no example axis)', () => {
    expect(leftMessage(fromTensors(T.scalar(1), T.zeros([1])))).toContain('rank >= 1')
  })
})

describe('subset, take, shuffle', () => {
  it('subset picks the examples in the order given, repeats allowed', () => {
    const d = subset(counting(10), [7, 0, 7, 3])
    expect(ids(d)).toEqual([7, 0, 7, 3])
    expect(Array.from(d.y.data)).toEqual([1, 0, 1, 0])
    expect(Array.from(d.x.data)).toEqual([7, 70, 0, 0, 7, 70, 3, 30])
  })

  it('subset rejects out-of-range and non-integer indices', () => {
    expect(() => subset(counting(4), [4])).toThrow(/out of range/)
    expect(() => subset(counting(4), [1.5])).toThrow(/integer/)
  })

  it('take keeps the first examples and clamps to the size', () => {
    expect(ids(take(counting(10), 3))).toEqual([0, 1, 2])
    expect(ids(take(counting(4), 99))).toEqual([0, 1, 2, 3])
    expect(() => take(counting(4), -1)).toThrow(/non-negative/)
  })

  it('shuffle is a permutation, the same for the same key', () => {
    const d = counting(50)
    const a = ids(shuffle(d, T.random.key(3)))
    expect([...a].sort((p, q) => p - q)).toEqual(ids(d))
    expect(ids(shuffle(d, T.random.key(3)))).toEqual(a)
    expect(ids(shuffle(d, T.random.key(4)))).not.toEqual(a)
  })
})

describe('batches', () => {
  it('yields consecutive batches, keeping the last partial one', () => {
    const all = [...batches(counting(10), 4)]
    expect(all.map((b) => numExamples(b))).toEqual([4, 4, 2])
    expect(all.flatMap(ids)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(all.flatMap((b) => Array.from(b.y.data))).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
  })

  it('with a key, covers every example once in a key-determined order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 12 }),
        fc.nat(1000),
        (n, size, seed) => {
          const key = T.random.key(seed)
          const order = [...batches(counting(n), size, { key })].flatMap(ids)
          expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i))
          expect([...batches(counting(n), size, { key })].flatMap(ids)).toEqual(order)
        },
      ),
      { numRuns: 30 },
    )
  })

  it('rejects a non-positive batch size', () => {
    expect(() => [...batches(counting(3), 0)]).toThrow(/batchSize/)
  })
})

describe('stratifiedSplit', () => {
  const labelled = (labels: ReadonlyArray<number>): Dataset => {
    const x = new Float32Array(2 * labels.length)
    for (let i = 0; i < labels.length; i++) x[2 * i] = i
    return {
      x: T.unsafeTensor('float32', [labels.length, 2], x),
      y: T.unsafeTensor('int32', [labels.length], Int32Array.from(labels)),
    }
  }

  it('keeps every class proportion on both sides and partitions the examples', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 120 }),
        fc.double({ min: 0.05, max: 0.95, noNaN: true }),
        fc.nat(1000),
        (labels, testFraction, seed) => {
          const { train, test } = stratifiedSplit(labelled(labels), { testFraction, key: T.random.key(seed) })
          const trainIds = ids(train)
          const testIds = ids(test)
          // a partition, both sides in the original order
          expect([...trainIds, ...testIds].sort((a, b) => a - b)).toEqual(labels.map((_, i) => i))
          expect(trainIds).toEqual([...trainIds].sort((a, b) => a - b))
          expect(testIds).toEqual([...testIds].sort((a, b) => a - b))
          // the total is round(N f); each class within one example of its exact share
          expect(testIds.length).toBe(Math.round(labels.length * testFraction))
          for (let c = 0; c <= 4; c++) {
            const count = labels.filter((l) => l === c).length
            const inTest = testIds.filter((i) => labels[i] === c).length
            const share = count * testFraction
            expect([Math.floor(share), Math.floor(share) + 1]).toContain(inTest)
          }
          // labels travel with their examples
          for (const d of [train, test]) ids(d).forEach((id, j) => expect(d.y.data[j]).toBe(labels[id]))
        },
      ),
      { numRuns: 60 },
    )
  })

  it('is deterministic for a key and changes with the key', () => {
    const d = labelled(Array.from({ length: 200 }, (_, i) => i % 4))
    const a = ids(stratifiedSplit(d, { testFraction: 0.25, key: T.random.key(0) }).test)
    expect(ids(stratifiedSplit(d, { testFraction: 0.25, key: T.random.key(0) }).test)).toEqual(a)
    expect(ids(stratifiedSplit(d, { testFraction: 0.25, key: T.random.key(1) }).test)).not.toEqual(a)
    expect(a.length).toBe(50)
    for (let c = 0; c < 4; c++) expect(a.filter((i) => i % 4 === c).length).toBe(12 + (c < 2 ? 1 : 0))
  })

  it('rejects bad fractions and non-class labels', () => {
    const d = labelled([0, 1, 0, 1])
    expect(() => stratifiedSplit(d, { testFraction: 0, key: T.random.key(0) })).toThrow(/testFraction/)
    expect(() => stratifiedSplit(d, { testFraction: 1, key: T.random.key(0) })).toThrow(/testFraction/)
    expect(() =>
      stratifiedSplit({ x: d.x, y: T.zeros([4]) }, { testFraction: 0.5, key: T.random.key(0) }),
    ).toThrow(/int32 class indices/)
    expect(() => stratifiedSplit(labelled([0, -1]), { testFraction: 0.5, key: T.random.key(0) })).toThrow(
      />= 0/,
    )
  })
})

// ---------------------------------------------------------------------------------------------
// scaling
// ---------------------------------------------------------------------------------------------

describe('scaling', () => {
  const table = T.tensor(
    [
      [1, 5, 2],
      [3, 5, 4],
      [8, 5, 9],
      [0, 5, 1],
    ],
    'float64',
  )
  const column = (j: number): number[] => [0, 1, 2, 3].map((i) => table.data[3 * i + j]!)

  it('fitStandardize gives per-feature mean and population std; constant features get scale 1', () => {
    const s = fitStandardize(table)
    for (let j = 0; j < 3; j++) {
      const values = column(j)
      const mean = values.reduce((a, b) => a + b, 0) / values.length
      const std = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length)
      expect(s.shift.data[j]).toBeCloseTo(mean, 12)
      expect(s.scale.data[j]).toBeCloseTo(std === 0 ? 1 : std, 12)
    }
    const scaled = applyScaling(table, s)
    for (let j = 0; j < 3; j++) {
      const values = [0, 1, 2, 3].map((i) => scaled.data[3 * i + j]!)
      expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 12)
    }
  })

  it('fitMinMax maps the training range to [0, 1]', () => {
    const scaled = applyScaling(table, fitMinMax(table))
    expect(Array.from(scaled.data)).toEqual([1 / 8, 0, 1 / 8, 3 / 8, 0, 3 / 8, 1, 0, 1, 0, 0, 0])
  })

  it('rejects mismatched shapes and integer data', () => {
    expect(() => applyScaling(T.zeros([2, 4]), fitMinMax(T.ones([2, 3])))).toThrow(/\[2,4\]/)
    expect(() => fitStandardize(T.zeros([3, 2], 'int32'))).toThrow(/float32 or float64/)
  })
})

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

describe('parseCsv', () => {
  it('parses features and an int32 label in the last column', () => {
    const d = rightValue(parseCsv('1,2,0\n3.5,-4e-1,1\n', { source: 'inline' }))
    expect(d.x.dtype).toBe('float32')
    expect(d.x.shape).toEqual([2, 2])
    expect(Array.from(d.x.data)).toEqual([1, 2, 3.5, Math.fround(-0.4)])
    expect(d.y.dtype).toBe('int32')
    expect(Array.from(d.y.data)).toEqual([0, 1])
    expect(d.header).toEqual([])
  })

  it('handles a header, CRLF, blank lines, a BOM, a first-column label and float64', () => {
    const text = '\ufefflabel,a,b\r\n\r\n2,1,2\r\n0,3,4\r\n\n'
    const d = rightValue(parseCsv(text, { source: 's', hasHeader: true, labelColumn: 0, dtype: 'float64' }))
    expect(d.header).toEqual(['a', 'b'])
    expect(d.x.dtype).toBe('float64')
    expect(Array.from(d.x.data)).toEqual([1, 2, 3, 4])
    expect(Array.from(d.y.data)).toEqual([2, 0])
  })

  it("labelColumn 'none' returns features only; negative indices count from the end", () => {
    const f = rightValue(parseCsv('1,2\n3,4', { source: 's', labelColumn: 'none' }))
    expect(f.x.shape).toEqual([2, 2])
    expect('y' in f).toBe(false)
    const d = rightValue(parseCsv('1,7,2\n3,8,4', { source: 's', labelColumn: -2 }))
    expect(Array.from(d.y.data)).toEqual([7, 8])
    expect(Array.from(d.x.data)).toEqual([1, 2, 3, 4])
  })

  it('accepts real-valued targets with a float labelDType', () => {
    const d = rightValue(parseCsv('1,0.5\n2,1.5', { source: 's', labelDType: 'float32' }))
    expect(Array.from(d.y.data)).toEqual([0.5, 1.5])
  })

  it('round-trips any integer matrix', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((cols) =>
          fc.array(
            fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: cols + 1, maxLength: cols + 1 }),
            {
              minLength: 1,
              maxLength: 20,
            },
          ),
        ),
        (rows) => {
          const text = rows.map((r) => r.join(',')).join('\n')
          const d = rightValue(parseCsv(text, { source: 'p' }))
          expect(Array.from(d.x.data)).toEqual(rows.flatMap((r) => r.slice(0, -1)))
          expect(Array.from(d.y.data)).toEqual(rows.map((r) => r[r.length - 1]!))
        },
      ),
      { numRuns: 50 },
    )
  })

  it('rejects a ragged row, naming the source and the lines', () => {
    const message = leftMessage(parseCsv('1,2,0\n3,4,1\n\n5,6\n', { source: 'digits.csv' }))
    expect(message).toBe('digits.csv: line 4 has 2 fields; expected 3 like line 1 (a truncated row?)')
    expect(leftMessage(parseCsv('1,2\n3,4,5', { source: 's' }))).toContain('line 2 has 3 fields; expected 2')
  })

  it('rejects non-numbers with line and column', () => {
    expect(leftMessage(parseCsv('1,2,0\n3,x,1', { source: 'a.csv' }))).toBe(
      'a.csv: line 2, column 2: "x" is not a number',
    )
    expect(leftMessage(parseCsv('1,,0', { source: 'a.csv' }))).toBe(
      'a.csv: line 1, column 2: an empty field is not a number',
    )
    for (const bad of ['0x10', 'Infinity', 'NaN', '1e', '"3"', '1 2'])
      expect(leftMessage(parseCsv(`1,${bad},0`, { source: 's' }))).toContain('column 2')
  })

  it('rejects non-integer class labels, empty text, a header without rows and a missing label column', () => {
    expect(leftMessage(parseCsv('1,2,0.5', { source: 's' }))).toContain(
      'line 1, column 3: label 0.5 is not an integer',
    )
    expect(leftMessage(parseCsv('', { source: 's' }))).toContain('no data')
    expect(leftMessage(parseCsv('a,b\n', { source: 's', hasHeader: true }))).toContain('no data rows')
    expect(leftMessage(parseCsv('1,2', { source: 's', labelColumn: 5 }))).toContain(
      'labelColumn 5 does not exist',
    )
  })
})

// ---------------------------------------------------------------------------------------------
// IDX
// ---------------------------------------------------------------------------------------------

describe('parseIdx', () => {
  const cases: ReadonlyArray<readonly [number, string, ReadonlyArray<number>]> = [
    [0x08, 'int32', [0, 1, 127, 128, 255, 3]],
    [0x09, 'int32', [-128, -1, 0, 1, 127, 5]],
    [0x0b, 'int32', [-32768, -2, 0, 300, 32767, 9]],
    [0x0c, 'int32', [-2147483648, -70000, 0, 70000, 2147483647, 1]],
    [0x0d, 'float32', [-1.5, 0, 0.25, 2 ** 40, Math.fround(0.1), -7]],
    [0x0e, 'float64', [-1.5, 0, 0.1, 1e300, Math.PI, -7]],
  ]
  for (const [typeByte, dtype, values] of cases)
    it(`reads type 0x${typeByte.toString(16)} big-endian into ${dtype}`, () => {
      const t = rightValue(parseIdx(idxBytes(typeByte, [2, 3], values), { source: 'f' }))
      expect(t.dtype).toBe(dtype)
      expect(t.shape).toEqual([2, 3])
      expect(Array.from(t.data)).toEqual(values)
    })

  it('reads a subarray of a larger buffer (byteOffset honoured) and rank 0 and 3', () => {
    const inner = idxBytes(0x0b, [2, 1, 2], [1, -2, 3, -4])
    const outer = new Uint8Array(inner.length + 5)
    outer.set(inner, 3)
    const t = rightValue(parseIdx(outer.subarray(3, 3 + inner.length), { source: 'f' }))
    expect(t.shape).toEqual([2, 1, 2])
    expect(Array.from(t.data)).toEqual([1, -2, 3, -4])
    expect(rightValue(parseIdx(idxBytes(0x0c, [], [42]), { source: 'f' })).shape).toEqual([])
  })

  it('rejects a wrong magic number (with a hint for gzip data)', () => {
    const bytes = idxBytes(0x08, [1], [1])
    bytes[1] = 0x01
    expect(leftMessage(parseIdx(bytes, { source: 'img.idx' }))).toBe(
      'img.idx: bad magic number: the first two bytes are 0x00 0x01; an IDX file starts with 0x00 0x00',
    )
    expect(leftMessage(parseIdx(Uint8Array.from([0x1f, 0x8b, 8, 0, 0]), { source: 'x.gz' }))).toContain(
      'gzip',
    )
  })

  it('rejects an unknown type byte and a file shorter than the magic number', () => {
    expect(leftMessage(parseIdx(Uint8Array.from([0, 0, 0x0a, 1, 0, 0, 0, 0]), { source: 'f' }))).toContain(
      'unknown data type byte 0x0a',
    )
    expect(leftMessage(parseIdx(Uint8Array.from([0, 0]), { source: 'f' }))).toContain('2 bytes long')
  })

  it('rejects a truncated header and a data size that differs from the declared shape', () => {
    const full = idxBytes(
      0x08,
      [3, 4],
      Array.from({ length: 12 }, (_, i) => i),
    )
    expect(leftMessage(parseIdx(full.subarray(0, 9), { source: 'f' }))).toContain(
      'truncated: the header declares 2 dimensions',
    )
    expect(leftMessage(parseIdx(full.subarray(0, full.length - 1), { source: 'labels' }))).toBe(
      'labels: declares shape [3,4] of unsigned byte (12 data bytes) but holds 11 data bytes (the file is truncated)',
    )
    const longer = new Uint8Array(full.length + 2)
    longer.set(full)
    expect(leftMessage(parseIdx(longer, { source: 'f' }))).toContain('unexpected trailing bytes')
  })

  it('rejects an absurd declared size without allocating it', () => {
    const bytes = idxBytes(0x0e, [65535, 65535, 65535], [])
    expect(leftMessage(parseIdx(bytes, { source: 'f' }))).toContain('(the file is truncated)')
  })

  it('round-trips random shapes and values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
        fc.constantFrom(0x08, 0x0b, 0x0c),
        (shape, typeByte) => {
          const count = shape.reduce((a, b) => a * b, 1)
          const values = Array.from({ length: count }, (_, i) => (i * 37) % 200)
          const t = rightValue(parseIdx(idxBytes(typeByte, shape, values), { source: 'f' }))
          expect(t.shape).toEqual(shape)
          expect(Array.from(t.data)).toEqual(values)
        },
      ),
      { numRuns: 40 },
    )
  })
})

// ---------------------------------------------------------------------------------------------
// labels
// ---------------------------------------------------------------------------------------------

describe('validateLabels', () => {
  const labels = (values: number[]): Tensor => T.tensor(values, 'int32')

  it('returns valid labels unchanged', () => {
    const y = labels([0, 9, 3])
    expect(rightValue(validateLabels(y, 10))).toBe(y)
  })

  it('names the first bad label and counts them', () => {
    expect(leftMessage(validateLabels(labels([0, 10, -1, 2]), 10, { source: 'train.csv' }))).toBe(
      'train.csv: labels[1] is 10, outside the 10 classes [0, 9] (2 of 4 labels out of range)',
    )
  })

  it('rejects float labels, wrong ranks and a bad class count', () => {
    expect(leftMessage(validateLabels(T.zeros([3]), 10))).toContain('dtype float32')
    expect(leftMessage(validateLabels(T.zeros([3, 1], 'int32'), 10))).toContain('[3,1]')
    expect(leftMessage(validateLabels(labels([0]), 0))).toContain('numClasses')
  })
})

// ---------------------------------------------------------------------------------------------
// CSV from outside: sizes, ranges, options, bytes
// ---------------------------------------------------------------------------------------------

/** Options as a JavaScript caller (or a config file) might pass them, unchecked by the compiler. */
const untyped = (opts: object): CsvOptions => opts as CsvOptions

describe('parseCsv on input from outside', () => {
  it('sizes its buffers by the rows there are, not by lines × the first row (a 3 MB input)', () => {
    // 750,000 columns on line 1, then 1,600,000 blank lines: one row. Sized by lines, that is 1.2e12 values.
    const wide = Array.from({ length: 750_000 }, (_, i) => i % 10).join(',')
    const text = `${wide}${'\n'.repeat(1_600_000)}`
    expect(text.length).toBeGreaterThan(3_000_000)
    const parsed = rightValue(parseCsv(text, { source: 'wide.csv' }))
    expect(parsed.x.shape).toEqual([1, 749_999])
    expect(Array.from(parsed.x.data.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
    expect(Array.from(parsed.y.data)).toEqual([9])
    // A later row of another width is reported, and nothing the size of the first row × lines is allocated.
    expect(leftMessage(parseCsv(`${text}1,2\n`, { source: 'wide.csv' }))).toBe(
      'wide.csv: line 1600001 has 2 fields; expected 750000 like line 1 (a truncated row?)',
    )
  })

  it('refuses numbers that overflow the target dtype, as it refuses Infinity', () => {
    expect(leftMessage(parseCsv('1,1e39,0', { source: 's' }))).toBe(
      "s: line 1, column 2: 1e39 is beyond the range of float32 (about ±3.4e38) and would become Infinity; pass dtype: 'float64'",
    )
    expect(leftMessage(parseCsv('-3.5e38,0', { source: 's' }))).toContain(
      'column 1: -3.5e38 is beyond the range of float32',
    )
    const wide = rightValue(parseCsv('1,1e39,0', { source: 's', dtype: 'float64' }))
    expect(Array.from(wide.x.data)).toEqual([1, 1e39])
    expect(leftMessage(parseCsv('1e309,0', { source: 's', dtype: 'float64' }))).toBe(
      's: line 1, column 1: 1e309 is beyond the range of float64 (about ±1.8e308) and would become Infinity',
    )
    // The largest float32 and literals that round to it are kept.
    const edge = rightValue(parseCsv('3.4028235e38,-3.40282356e38,0', { source: 's' }))
    expect(Array.from(edge.x.data)).toEqual([Math.fround(3.4028235e38), -Math.fround(3.4028235e38)])
    expect(leftMessage(parseCsv('1,1e39', { source: 's', labelDType: 'float32' }))).toBe(
      "s: line 1, column 2: label 1e39 is beyond the range of float32 (about ±3.4e38) and would become Infinity; pass labelDType: 'float64'",
    )
    expect(leftMessage(parseCsv('1,-1e400', { source: 's', labelDType: 'float64' }))).toContain(
      'label -1e400 is beyond the range of float64',
    )
    expect(Array.from(rightValue(parseCsv('1,1e39', { source: 's', labelDType: 'float64' })).y.data)).toEqual(
      [1e39],
    )
  })

  it('checks every option at run time: unknown keys and bad values are a Left listing what is accepted', () => {
    const accepted = 'accepted options: source, labelColumn, hasHeader, delimiter, dtype, labelDType'
    expect(leftMessage(parseCsv('1,2', untyped({ source: 's', labelDType: 'float16' })))).toBe(
      `s: parseCsv: option 'labelDType' must be one of 'int32', 'float32', 'float64', got 'float16'`,
    )
    expect(leftMessage(parseCsv('1,2', untyped({ source: 's', labelDtype: 'float32' })))).toBe(
      `s: parseCsv: unknown option 'labelDtype' in options; ${accepted}`,
    )
    expect(leftMessage(parseCsv('1,2', untyped({ source: 's', dtype: 'int32' })))).toContain(
      `option 'dtype' must be one of 'float32', 'float64', got 'int32'`,
    )
    expect(leftMessage(parseCsv('1,2', untyped({ source: 's', hasHeader: 'yes' })))).toContain(
      "option 'hasHeader' must be a boolean, got 'yes'",
    )
    expect(leftMessage(parseCsv('1,2', untyped({ source: 's', labelColumn: 1.5 })))).toContain(
      "option 'labelColumn' must be 'last', 'none' or a column index",
    )
    for (const delimiter of ['', ';;', '.', '-', 'e', '7', '\n'])
      expect(leftMessage(parseCsv('1,2', untyped({ source: 's', delimiter })))).toContain(
        "option 'delimiter' must be one character",
      )
    expect(leftMessage(parseCsv('1,2', untyped({ labelColumn: 'last' })))).toBe(
      `<parseCsv>: parseCsv: option 'source' is required (a string); ${accepted}`,
    )
    expect(leftMessage(parseCsv('1,2', untyped({ source: 3 })))).toBe(
      "<parseCsv>: parseCsv: option 'source' must be a string, got 3",
    )
    expect(leftMessage(parseCsv('1,2', null as unknown as CsvOptions))).toMatch(
      /^<parseCsv>: parseCsv: options must be a record with the keys source, .*got null$/,
    )
    // undefined is the default, as for any optional option.
    expect(
      rightValue(parseCsv('1;2', untyped({ source: 's', delimiter: ';', dtype: undefined }))).x.shape,
    ).toEqual([1, 1])
    expect(leftMessage(parseIdx(new Uint8Array(0), untyped({ source: 'i', sorce: 'x' })))).toBe(
      "i: parseIdx: unknown option 'sorce' in options; accepted options: source",
    )
    expect(
      leftMessage(parseCsvBytes(new Uint8Array(0), untyped({ source: 'b', labelDType: 'float16' }))),
    ).toContain("b: parseCsvBytes: option 'labelDType' must be one of 'int32', 'float32', 'float64'")
  })
})

describe('parseCsvBytes', () => {
  const encode = (text: string): Uint8Array => new TextEncoder().encode(text)
  const opts = { source: 'b.csv', hasHeader: true, labelColumn: 0, dtype: 'float64' } as const

  it('parses UTF-8 bytes as parseCsv parses the text, byte-order mark and \\r\\n included', () => {
    const text = '\uFEFFlabel,a,b\r\n1,2,3\r\n\r\n0,-4.5,6e-1\r\n'
    expect(rightValue(parseCsvBytes(encode(text), opts))).toEqual(rightValue(parseCsv(text, opts)))
    expect(rightValue(parseCsvBytes(encode(text), opts)).header).toEqual(['a', 'b'])
  })

  it('decodes in chunks cut at line ends, whatever the chunk size (property)', () => {
    const field = fc.oneof(
      fc.integer({ min: -999, max: 999 }).map(String),
      fc.constantFrom('x', '', 'é', '1e39'),
    )
    const line = fc.oneof(
      fc.array(field, { minLength: 2, maxLength: 2 }).map((fs) => fs.join(',')),
      fc.constantFrom('', ' ', '1,2,3', '\r'),
    )
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.integer({ min: 1, max: 20 }), (lines, chunkBytes) => {
        const text = lines.join('\n')
        const csv = { source: 'p', labelColumn: 'none' } as const
        const whole = parseCsv(text, csv)
        const chunked = parseCsvLines(byteLines(encode(text), { chunkBytes, maxLineBytes: 64 }), csv)
        expect(chunked).toEqual(whole)
      }),
      { numRuns: 300 },
    )
  })

  it('reads text longer than the longest string it may build, and refuses a single line longer than that', () => {
    const text = Array.from({ length: 200 }, (_, i) => `${i},${i % 3}`).join('\n')
    const limits = { chunkBytes: 8, maxLineBytes: 16 }
    expect(encode(text).length).toBeGreaterThan(16 * 50)
    const parsed = rightValue(parseCsvLines(byteLines(encode(text), limits), { source: 'big.csv' }))
    expect(parsed.x.shape).toEqual([200, 1])
    expect('y' in parsed && Array.from(parsed.y.data.subarray(0, 4))).toEqual([0, 1, 2, 0])
    const long = `1,2\n3,4\n${'5'.repeat(17)},0\n6,7\n`
    expect(leftMessage(parseCsvLines(byteLines(encode(long), limits), { source: 'big.csv' }))).toBe(
      'big.csv: line 3 is longer than 16 bytes, more than a JavaScript string can hold (about 512 MiB in V8); ' +
        "no row of a numeric CSV is that long: is the file corrupt, or are its lines ended by '\\r' alone?",
    )
    // 16 bytes with its newline still fits.
    expect(
      rightValue(parseCsvLines(byteLines(encode(`${'5'.repeat(13)},0\n`), limits), { source: 'b' })).x.shape,
    ).toEqual([1, 1])
  })

  it('names the line of bytes that are not UTF-8, in any chunk', () => {
    const bytes = Uint8Array.from([...encode('1,2\n3,4\n5,6\n7,'), 0xe9, ...encode('\n9,0\n')])
    for (const limits of [{}, { chunkBytes: 3 }, { chunkBytes: 9 }])
      expect(leftMessage(parseCsvLines(byteLines(bytes, limits), { source: 'latin.csv' }))).toBe(
        'latin.csv: line 4 is not valid UTF-8 text; expected a numeric CSV file',
      )
    expect(leftMessage(parseCsvBytes(bytes, { source: 'latin.csv' }))).toContain('line 4 is not valid UTF-8')
  })
})
