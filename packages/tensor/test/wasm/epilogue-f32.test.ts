import { describe, it, expect } from 'vitest'
import type { ElementwiseProgram, ProgramInstruction } from '../../src/backend'
import { roundsOnce, type OperandKind } from '../../src/backends/wasm/epilogue'
import { wasmResident } from '../../src/backends/wasm/resident'
import { bufferBytes } from '../../src/backends/wasm/epilogue'

// Programs that round once run in float32 lanes; they must give the bits of the float64 program
// rounded once (the reference elementwise program), specials and every row tail length included.

const program = (arity: number, ...instructions: ProgramInstruction[]): ElementwiseProgram => ({
  arity,
  instructions,
})

const biasRelu = program(2, { kind: 'binary', op: 'add', a: 0, b: 1 }, { kind: 'unary', op: 'relu', x: 2 })

/** The program in float64, rounded to float32 once at the end. */
const evaluate = (p: ElementwiseProgram, inputs: ReadonlyArray<number>): number => {
  const values = [...inputs]
  for (const step of p.instructions) {
    if (step.kind === 'constant') values.push(step.value)
    else if (step.kind === 'unary') {
      const x = values[step.x]!
      const unary: Record<string, number> = {
        neg: -x,
        abs: Math.abs(x),
        sqrt: Math.sqrt(x),
        relu: Math.max(x, 0),
      }
      values.push(unary[step.op]!)
    } else {
      const [a, b] = [values[step.a]!, values[step.b]!]
      const binary: Record<string, number> = {
        add: a + b,
        sub: a - b,
        mul: a * b,
        div: a / b,
        maximum: Math.max(a, b),
        minimum: Math.min(a, b),
      }
      values.push(binary[step.op]!)
    }
  }
  return Math.fround(values[values.length - 1]!)
}

const SPECIALS = [NaN, -0, 0, Infinity, -Infinity, 1e-45, -3e-39, 3.4e38, -1.5, 0.1, 7]

describe('float32 epilogue kernels (programs that round once)', () => {
  it('takes only programs whose rounding steps read unrounded float32 values', () => {
    expect(roundsOnce(biasRelu)).toBe(true)
    // relu(x) · y: the multiply reads an exact step of an input and an input.
    expect(
      roundsOnce(program(2, { kind: 'unary', op: 'relu', x: 0 }, { kind: 'binary', op: 'mul', a: 2, b: 1 })),
    ).toBe(true)
    // (x + y) · x rounds twice in float32, once in float64.
    expect(
      roundsOnce(
        program(2, { kind: 'binary', op: 'add', a: 0, b: 1 }, { kind: 'binary', op: 'mul', a: 2, b: 0 }),
      ),
    ).toBe(false)
    // 0.1 is no float32 number: x · 0.1 in float64 differs from x · fround(0.1).
    expect(
      roundsOnce(program(1, { kind: 'constant', value: 0.1 }, { kind: 'binary', op: 'mul', a: 0, b: 1 })),
    ).toBe(false)
    expect(
      roundsOnce(program(1, { kind: 'constant', value: 0.5 }, { kind: 'binary', op: 'mul', a: 0, b: 1 })),
    ).toBe(true)
    expect(roundsOnce(program(1, { kind: 'unary', op: 'rsqrt', x: 0 }))).toBe(false)
    expect(roundsOnce(program(1, { kind: 'unary', op: 'exp', x: 0 }))).toBe(false)
  })

  const cases: ReadonlyArray<readonly [string, ElementwiseProgram, ReadonlyArray<OperandKind>]> = [
    ['bias + relu', biasRelu, ['whole', 'row']],
    [
      'max(x - s, c) with a scalar and a column',
      program(
        3,
        { kind: 'binary', op: 'sub', a: 0, b: 1 },
        { kind: 'binary', op: 'maximum', a: 3, b: 2 },
        { kind: 'unary', op: 'neg', x: 4 },
      ),
      ['whole', 'scalar', 'column'],
    ],
    [
      '-|sqrt(x)| min y / 4',
      program(
        2,
        { kind: 'unary', op: 'sqrt', x: 0 },
        { kind: 'unary', op: 'abs', x: 2 },
        { kind: 'constant', value: 4 },
        { kind: 'binary', op: 'div', a: 1, b: 4 },
        { kind: 'binary', op: 'minimum', a: 3, b: 5 },
      ),
      ['whole', 'whole'],
    ],
  ]

  for (const [name, p, kinds] of cases) {
    it(`${name}: the reference's bits for every row length 1..9, specials included, in place and not`, () => {
      expect(roundsOnce(p)).toBe(true)
      const rows = 3
      for (let cols = 1; cols <= 9; cols++) {
        for (const inPlace of [false, true]) {
          const sizes = kinds.map((k) =>
            k === 'whole' ? rows * cols : k === 'row' ? cols : k === 'column' ? rows : 1,
          )
          const data = sizes.map((n, o) =>
            Float32Array.from(
              { length: n },
              (_, i) => SPECIALS[(i * 3 + o * 5 + cols) % SPECIALS.length]! * (1 + i),
            ),
          )
          const offsets: number[] = []
          let at = 0
          for (const n of sizes) {
            offsets.push(at)
            at += bufferBytes(n)
          }
          const out = inPlace ? offsets[0]! : at
          const step = wasmResident.prepareProgram(
            p,
            kinds.map((kind, i) => ({ kind, offset: offsets[i]! })),
            out,
            rows,
            cols,
          )
          const base = wasmResident.reserve(at + bufferBytes(rows * cols))!
          data.forEach((d, i) => wasmResident.write(base + offsets[i]!, d))
          step(base)
          const got = Array.from(wasmResident.read(base + out, rows * cols))
          const want = Array.from({ length: rows * cols }, (_, e) => {
            const [r, c] = [Math.floor(e / cols), e % cols]
            return evaluate(
              p,
              kinds.map((k, i) => data[i]![k === 'whole' ? e : k === 'row' ? c : k === 'column' ? r : 0]!),
            )
          })
          expect(got).toEqual(want)
          // toEqual treats -0 and +0 alike: check the signs too.
          got.forEach((v, e) => expect(Object.is(v, -0)).toBe(Object.is(want[e], -0)))
        }
      }
    })
  }
})
