import { describe, it, expect } from 'vitest'
import { DTypeError, ShapeError } from '../src/errors'
import { setBackend, type ReductionProgram } from '../src/backend'
import { unsafeTensor, type Tensor } from '../src/tensor'
import { tensor } from '../src/create'
import {
  reductionProgram,
  reductionProgramOutput,
  reductionProgramText,
} from '../src/kernels/reductionProgram'
import { backends } from './backends'
import { referenceBackend } from '../src/backends/reference/index'
import { wasmAvailable, wasmBackend } from '../src/backends/wasm/index'
import { wasmRunsReduction } from '../src/backends/wasm/reduction'

// Reduction programs against formulas written here, row by row in float64, on every backend.

const SOFTMAX: ReductionProgram = {
  arity: 1,
  instructions: [
    { kind: 'reduce', op: 'max', x: 0 }, // 1
    { kind: 'binary', op: 'sub', a: 0, b: 1 }, // 2
    { kind: 'unary', op: 'exp', x: 2 }, // 3
    { kind: 'reduce', op: 'sum', x: 3 }, // 4
    { kind: 'binary', op: 'div', a: 3, b: 4 }, // 5
  ],
}

/** Layer norm over the last axis with gain and bias rows: (x - mean) / sqrt(var + eps) · g + b. */
const LAYER_NORM: ReductionProgram = {
  arity: 3,
  instructions: [
    { kind: 'constant', value: 1e-5 }, // 3
    { kind: 'reduce', op: 'mean', x: 0 }, // 4
    { kind: 'binary', op: 'sub', a: 0, b: 4 }, // 5
    { kind: 'unary', op: 'square', x: 5 }, // 6
    { kind: 'reduce', op: 'mean', x: 6 }, // 7
    { kind: 'binary', op: 'add', a: 7, b: 3 }, // 8
    { kind: 'unary', op: 'rsqrt', x: 8 }, // 9
    { kind: 'binary', op: 'mul', a: 5, b: 9 }, // 10
    { kind: 'binary', op: 'mul', a: 10, b: 1 }, // 11
    { kind: 'binary', op: 'add', a: 11, b: 2 }, // 12
  ],
}

const rows = (x: Tensor): number[][] => {
  const n = x.shape[x.shape.length - 1]!
  return Array.from({ length: x.data.length / n }, (_, r) => Array.from(x.data.slice(r * n, (r + 1) * n)))
}

const float32 = (shape: ReadonlyArray<number>, seed: number): Tensor => {
  const size = shape.reduce((a, d) => a * d, 1)
  return unsafeTensor(
    'float32',
    shape,
    Float32Array.from({ length: size }, (_, i) => Math.sin(i * 1.7 + seed) * 4),
  )
}

const ulpsApart = (a: number, b: number): number =>
  Math.abs(a - b) / Math.max(Math.abs(b) * 2 ** -23, 2 ** -149)

describe.each(backends)('reductionProgram on the %s backend', (_name, backend) => {
  const run = <R>(f: () => R): R => {
    setBackend(backend)
    try {
      return f()
    } finally {
      setBackend(undefined)
    }
  }

  it('softmax of each row: the float64 formula rounded once (odd and even rows, many rows)', () => {
    for (const shape of [
      [5, 7],
      [3, 2, 64],
      [130, 33],
    ] as const) {
      const x = float32(shape, 1)
      const y = run(() => reductionProgram(SOFTMAX, [x]))
      expect(y.shape).toEqual(shape)
      rows(x).forEach((row, r) => {
        const m = Math.max(...row)
        const e = row.map((v) => Math.exp(v - m))
        const s = e.reduce((a, v) => a + v, 0)
        const n = row.length
        e.forEach((v, i) => expect(ulpsApart(y.data[r * n + i]!, Math.fround(v / s))).toBeLessThanOrEqual(1))
      })
    }
  })

  it('layer norm with a gain row [n] and a bias [1, n] broadcast over [b, n]', () => {
    const x = float32([9, 40], 2)
    const g = float32([40], 3)
    const b = float32([1, 40], 4)
    const y = run(() => reductionProgram(LAYER_NORM, [x, g, b]))
    rows(x).forEach((row, r) => {
      const n = row.length
      const mu = row.reduce((a, v) => a + v, 0) / n
      const variance = row.reduce((a, v) => a + (v - mu) ** 2, 0) / n
      row.forEach((v, i) => {
        const expected = ((v - mu) / Math.sqrt(variance + Math.fround(1e-5))) * g.data[i]! + b.data[i]!
        expect(Math.abs(y.data[r * n + i]! - expected)).toBeLessThanOrEqual(
          2e-6 * Math.max(1, Math.abs(expected)),
        )
      })
    })
  })

  it('a result constant along rows has a last axis of 1, or the outShape asked for; per-row inputs [b, 1] broadcast', () => {
    // Per row: Σ (x - c)² with c a per-row input: [4, 1] by default, [4] on request.
    const program: ReductionProgram = {
      arity: 2,
      instructions: [
        { kind: 'binary', op: 'sub', a: 0, b: 1 }, // 2
        { kind: 'unary', op: 'square', x: 2 }, // 3
        { kind: 'reduce', op: 'sum', x: 3 }, // 4
      ],
    }
    const x = tensor([
      [1, 2, 3],
      [4, 5, 6],
      [0, 0, 0],
      [1, -1, 1],
    ])
    const c = tensor([[1], [5], [1], [0]])
    const [kept, squeezed] = run(() => [
      reductionProgram(program, [x, c]),
      reductionProgram(program, [x, c], [4]),
    ])
    expect(kept.shape).toEqual([4, 1])
    expect(squeezed.shape).toEqual([4])
    expect(Array.from(kept.data)).toEqual([5, 2, 3, 3])
    expect(Array.from(squeezed.data)).toEqual([5, 2, 3, 3])
  })

  it('max, min, sum and mean of rows with special values: NaN propagates, ±Inf and -0 as the reductions give them', () => {
    const x = tensor([
      [1, NaN, 3],
      [-Infinity, -Infinity, -Infinity],
      [-0, -0, -0],
      [Infinity, 1, -Infinity],
    ])
    const reduce = (op: 'sum' | 'max' | 'min' | 'mean'): number[] =>
      Array.from(
        run(() => reductionProgram({ arity: 1, instructions: [{ kind: 'reduce', op, x: 0 }] }, [x])).data,
      )
    expect(reduce('max')).toEqual([NaN, -Infinity, -0, Infinity])
    expect(reduce('min')).toEqual([NaN, -Infinity, -0, -Infinity])
    expect(reduce('sum')).toEqual([NaN, -Infinity, 0, NaN])
    expect(reduce('mean')).toEqual([NaN, -Infinity, 0, NaN])
  })

  it('reduces a value constant along the row as the row of its copies', () => {
    // sum over the row of (c + 0 · x) with c per row: n · c.
    const program: ReductionProgram = {
      arity: 2,
      instructions: [
        { kind: 'unary', op: 'square', x: 1 }, // 2: per row
        { kind: 'reduce', op: 'sum', x: 2 }, // 3
        { kind: 'binary', op: 'add', a: 0, b: 3 }, // 4: x + n·c²
      ],
    }
    const x = tensor([
      [0, 1, 2],
      [3, 4, 5],
    ])
    const c = tensor([[2], [-1]])
    expect(Array.from(run(() => reductionProgram(program, [x, c])).data)).toEqual([12, 13, 14, 6, 7, 8])
  })
})

describe('reductionProgram errors and text', () => {
  it('refuses inputs of rank 0 only, empty rows, an outShape of another size, int32 and unknown reductions', () => {
    expect(() => reductionProgram(SOFTMAX, [tensor(1)])).toThrow(/no last axis/)
    expect(() => reductionProgram(SOFTMAX, [unsafeTensor('float32', [2, 0], new Float32Array(0))])).toThrow(
      /empty/,
    )
    expect(() => reductionProgram(SOFTMAX, [tensor([[1, 2]])], [3])).toThrow(ShapeError)
    expect(() => reductionProgram(SOFTMAX, [tensor([[1, 2]], 'int32')])).toThrow(DTypeError)
    const bad = { arity: 1, instructions: [{ kind: 'reduce', op: 'prod', x: 0 }] }
    expect(() => reductionProgramOutput(bad as unknown as ReductionProgram, [tensor([1, 2])])).toThrow(
      /unknown reduction prod/,
    )
    expect(() =>
      reductionProgram({ arity: 1, instructions: [{ kind: 'reduce', op: 'sum', x: 1 }] }, [tensor([1, 2])]),
    ).toThrow(/value 1/)
  })

  it('prints as text with the reductions named', () => {
    expect(reductionProgramText(SOFTMAX)).toBe('(1) max a0; sub a0 v1; exp v2; sum v3; div v3 v4')
  })
})

describe.runIf(wasmAvailable())('reductionProgram on generated wasm code', () => {
  /** Float32 ulps between two float32 values (0 for identical specials, Infinity for a special mismatch). */
  const f32Ulps = (a: number, b: number): number => {
    if (Object.is(a, b) || (a === 0 && b === 0)) return 0
    if (!Number.isFinite(a) || !Number.isFinite(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity
    const bits = new Int32Array(new Float32Array([a, b]).buffer)
    const ordered = (i: number): number => (bits[i]! < 0 ? -(bits[i]! & 0x7fffffff) : bits[i]!)
    return Math.abs(ordered(0) - ordered(1))
  }
  const agree = (
    program: ReductionProgram,
    inputs: ReadonlyArray<Tensor>,
    rowShape: ReadonlyArray<number>,
    ulps = 2,
  ) => {
    expect(wasmRunsReduction(program, inputs, rowShape, 'float32')).toBe(true)
    const wasm = wasmBackend.reductionProgram(program, inputs, rowShape, 'float32')
    const reference = referenceBackend.reductionProgram(program, inputs, rowShape, 'float32')
    expect(wasm.shape).toEqual(reference.shape)
    Array.from(wasm.data).forEach((v, i) =>
      expect(
        f32Ulps(v, reference.data[i]!),
        `element ${i}: ${v} vs ${reference.data[i]}`,
      ).toBeLessThanOrEqual(ulps),
    )
  }
  const PER_ROW_SUM: ReductionProgram = {
    arity: 2,
    instructions: [
      { kind: 'binary', op: 'sub', a: 0, b: 1 }, // 2
      { kind: 'unary', op: 'square', x: 2 }, // 3
      { kind: 'reduce', op: 'sum', x: 3 }, // 4
      { kind: 'reduce', op: 'min', x: 0 }, // 5
      { kind: 'binary', op: 'add', a: 4, b: 5 }, // 6: per row
    ],
  }

  it('softmax and layer norm, odd and even rows, one and many rows: within 2 float32 ulps of the reference loop', () => {
    for (const shape of [
      [1, 64],
      [5, 13],
      [8, 33],
      [130, 7],
      [2, 3, 65],
    ] as const) {
      agree(SOFTMAX, [float32(shape, 5)], shape)
      const n = shape[shape.length - 1]!
      // The gain as [n], the bias as [1, n]: rows repeated; relative error of (x - mean) grows where it cancels.
      agree(LAYER_NORM, [float32(shape, 6), float32([n], 7), float32([1, n], 8)], shape, 8)
    }
  })

  it('per-row inputs [b, 1], scalars, per-row results, a reduction of a per-row value, and special values', () => {
    const x = float32([40, 9], 9)
    const c = float32([40, 1], 10)
    agree(PER_ROW_SUM, [x, c], [40, 9])
    agree(PER_ROW_SUM, [x, unsafeTensor('float32', [], Float32Array.of(0.5))], [40, 9])
    const copies: ReductionProgram = {
      arity: 2,
      instructions: [
        { kind: 'reduce', op: 'sum', x: 1 }, // 2: n · c
        { kind: 'reduce', op: 'max', x: 0 }, // 3
        { kind: 'binary', op: 'mul', a: 0, b: 2 }, // 4
        { kind: 'binary', op: 'sub', a: 4, b: 3 }, // 5
      ],
    }
    agree(copies, [x, c], [40, 9])
    const special = unsafeTensor(
      'float32',
      [8, 9],
      Float32Array.from(
        { length: 72 },
        (_, i) => [NaN, Infinity, -Infinity, -0, 0, 1e-40, 3.4e38, -2][i % 8]! * (i % 3 === 0 ? -1 : 1),
      ),
    )
    agree(SOFTMAX, [special], [8, 9])
    agree(PER_ROW_SUM, [special, float32([8, 1], 11)], [8, 9])
  })

  it('leaves other dtypes, small sizes, steps it does not generate and other input layouts to the reference', () => {
    const x = float32([10, 10], 12)
    expect(wasmRunsReduction(SOFTMAX, [float32([4, 5], 1)], [4, 5], 'float32')).toBe(false)
    const atan: ReductionProgram = {
      arity: 1,
      instructions: [
        { kind: 'unary', op: 'atan', x: 0 },
        { kind: 'reduce', op: 'sum', x: 1 },
      ],
    }
    expect(wasmRunsReduction(atan, [x], [10, 10], 'float32')).toBe(false)
    // A block [2, 10] repeated over [5, 2, 10]: neither a row, nor a repeated row, nor one per row.
    const block = float32([2, 10], 13)
    const twoInputs: ReductionProgram = {
      arity: 2,
      instructions: [
        { kind: 'binary', op: 'add', a: 0, b: 1 },
        { kind: 'reduce', op: 'sum', x: 2 },
      ],
    }
    expect(wasmRunsReduction(twoInputs, [float32([5, 2, 10], 14), block], [5, 2, 10], 'float32')).toBe(false)
  })
})
