import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import { decodeSafetensors, encodeSafetensors } from '../src/checkpoint/index'

// References written from the formats' definitions, sharing no code with src/checkpoint/halfFloat.ts:
// value = (−1)^s · 2^(e − bias) · (1 + m / 2^p) for normal numbers, (−1)^s · 2^(1 − bias) · m / 2^p for
// subnormals, ±Infinity or NaN when every exponent bit is set.
const fromFormula = (bits: number, exponentBits: number, mantissaBits: number): number => {
  const sign = bits >> (exponentBits + mantissaBits) ? -1 : 1
  const exponent = (bits >> mantissaBits) & ((1 << exponentBits) - 1)
  const mantissa = bits & ((1 << mantissaBits) - 1)
  const bias = (1 << (exponentBits - 1)) - 1
  if (exponent === (1 << exponentBits) - 1) return mantissa === 0 ? sign * Infinity : Number.NaN
  if (exponent === 0) return sign * mantissa * 2 ** (1 - bias - mantissaBits)
  return sign * (1 + mantissa / 2 ** mantissaBits) * 2 ** (exponent - bias)
}
const f16Value = (bits: number): number => fromFormula(bits, 5, 10)
const bf16Value = (bits: number): number => fromFormula(bits, 8, 7)

const right = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(`expected Right, got Left: ${e.left.message}`)
  return e.right
}

/** A one-tensor file built by hand from the specification, the data given as 16-bit words. */
const halfFile = (name: string, dtype: 'F16' | 'BF16', words: ArrayLike<number>): Uint8Array => {
  const header = new TextEncoder().encode(
    `{"${name}":{"dtype":"${dtype}","shape":[${words.length}],"data_offsets":[0,${2 * words.length}]}}`,
  )
  const out = new Uint8Array(8 + header.length + 2 * words.length)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(header.length), true)
  out.set(header, 8)
  for (let i = 0; i < words.length; i++) view.setUint16(8 + header.length + 2 * i, words[i]!, true)
  return out
}

/** The 16-bit words of the only tensor of an encoded file, read back by hand from the layout. */
const wordsOf = (file: Uint8Array): number[] => {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength)
  const start = 8 + Number(view.getBigUint64(0, true))
  const words: number[] = []
  for (let at = start; at < file.length; at += 2) words.push(view.getUint16(at, true))
  return words
}

const allPatterns = Array.from({ length: 1 << 16 }, (_, i) => i)
const isNaNPattern = (bits: number, exponentBits: number, mantissaBits: number): boolean =>
  ((bits >> mantissaBits) & ((1 << exponentBits) - 1)) === (1 << exponentBits) - 1 &&
  (bits & ((1 << mantissaBits) - 1)) !== 0

describe('safetensors F16 and BF16: loading', () => {
  it('reads every one of the 65536 F16 values exactly, as float32 (subnormals, ±0, ±Infinity, NaN)', () => {
    const { tensors, storedDTypes } = right(decodeSafetensors(halfFile('h', 'F16', allPatterns)))
    const x = tensors['h']!
    expect(x.dtype).toBe('float32')
    expect(storedDTypes['h']).toBe('F16')
    const wrong = allPatterns.filter((bits) => !Object.is(x.data[bits], f16Value(bits)))
    expect(wrong).toEqual([])
  })

  it('reads every one of the 65536 BF16 values exactly, as float32', () => {
    const { tensors, storedDTypes } = right(decodeSafetensors(halfFile('b', 'BF16', allPatterns)))
    const x = tensors['b']!
    expect(x.dtype).toBe('float32')
    expect(storedDTypes['b']).toBe('BF16')
    const wrong = allPatterns.filter((bits) => !Object.is(x.data[bits], Math.fround(bf16Value(bits))))
    expect(wrong).toEqual([])
  })

  it('keeps the payload and sign of a NaN (the conversion works on bits)', () => {
    const f16 = right(decodeSafetensors(halfFile('n', 'F16', [0x7c01, 0xfe00]))).tensors['n']!
    const bf16 = right(decodeSafetensors(halfFile('n', 'BF16', [0x7f81, 0xffc0]))).tensors['n']!
    const bits = (x: T.Tensor): number[] => Array.from(new Uint32Array(Float32Array.from(x.data).buffer))
    // F16 mantissa bits move up by 13 (10 → 23 bits); BF16 is the upper half of a float32.
    expect(bits(f16)).toEqual([0x7f802000, 0xffc00000])
    expect(bits(bf16)).toEqual([0x7f810000, 0xffc00000])
  })

  it('loads a Hugging Face-style file whose F16 and BF16 values numpy wrote', () => {
    // packages/nn/test/fixtures/make_half_floats.py (numpy's float16; bfloat16 by the rounding bit trick).
    const file = new Uint8Array(readFileSync(join(__dirname, 'fixtures/half_floats.safetensors')))
    const expected = JSON.parse(readFileSync(join(__dirname, 'fixtures/half_floats.json'), 'utf8')) as Record<
      'f16' | 'bf16',
      { sources: Array<number | string>; values: Array<number | string> }
    >
    const { tensors, metadata, storedDTypes } = right(
      decodeSafetensors(file, { source: 'half_floats.safetensors' }),
    )
    expect(metadata).toEqual({ format: 'pt' })
    expect({ ...storedDTypes }).toEqual({ ok: 'F32', bf16: 'BF16', f16: 'F16' })
    expect(Array.from(tensors['ok']!.data)).toEqual([1.5])
    for (const name of ['f16', 'bf16'] as const) {
      const got = Array.from(tensors[name]!.data)
      const want = expected[name].values.map(numberOf)
      expect(got.length).toBe(want.length)
      expect(got.every((v, i) => Object.is(v, want[i]))).toBe(true)
    }
  })
})

const numberOf = (v: number | string): number =>
  v === 'NaN' ? Number.NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : (v as number)

describe('safetensors F16 and BF16: writing', () => {
  it('writes every finite F16 value (and ±Infinity) back to its own bits, from float64 and float32', () => {
    const patterns = allPatterns.filter((bits) => !isNaNPattern(bits, 5, 10))
    const values = patterns.map(f16Value)
    for (const dtype of ['float64', 'float32'] as const) {
      const file = encodeSafetensors({ h: T.tensor(values, dtype) }, { floatDType: 'F16' })
      expect(wordsOf(file)).toEqual(patterns)
    }
  })

  it('rounds to the nearest F16, ties to the even one, at every midpoint', () => {
    // Between consecutive positive finite F16 values a < b: the midpoint goes to the one whose last
    // mantissa bit is 0, anything a hair below to a, a hair above to b (subnormals included).
    const below: number[] = []
    const tie: number[] = []
    const above: number[] = []
    const expectBelow: number[] = []
    const expectTie: number[] = []
    const expectAbove: number[] = []
    for (let bits = 0; bits < 0x7bff; bits++) {
      const a = f16Value(bits)
      const b = f16Value(bits + 1)
      const mid = (a + b) / 2
      const hair = (b - a) * 2 ** -20
      below.push(mid - hair)
      tie.push(mid)
      above.push(mid + hair)
      expectBelow.push(bits)
      expectTie.push(bits % 2 === 0 ? bits : bits + 1)
      expectAbove.push(bits + 1)
    }
    const words = (values: number[]): number[] =>
      wordsOf(encodeSafetensors({ h: T.tensor(values, 'float64') }, { floatDType: 'F16' }))
    expect(words(below)).toEqual(expectBelow)
    expect(words(tie)).toEqual(expectTie)
    expect(words(above)).toEqual(expectAbove)
    // The same for negative values, with the sign bit set.
    expect(words(tie.map((v) => -v))).toEqual(expectTie.map((bits) => bits | 0x8000))
  })

  it('rounds below the smallest subnormal to ±0 and keeps the sign of zero', () => {
    const tiny = 2 ** -24
    const words = wordsOf(
      encodeSafetensors(
        { h: T.tensor([tiny / 2, tiny / 2 + 2 ** -60, -tiny / 4, -0, 0], 'float64') },
        { floatDType: 'F16' },
      ),
    )
    expect(words).toEqual([0x0000, 0x0001, 0x8000, 0x8000, 0x0000])
  })

  it('writes BF16 like the usual float32 bit trick, for random float32 values', () => {
    // Reference: u + 0x7fff + ((u >> 16) & 1), top 16 bits (round to nearest even on the float32 bits).
    let state = 12345
    const next = (): number => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0
      return state
    }
    const words = new Uint32Array(20000)
    for (let i = 0; i < words.length; i++) words[i] = next()
    const floats = new Float32Array(words.buffer)
    const keep = Array.from(floats.keys()).filter((i) => !Number.isNaN(floats[i]!))
    const values = keep.map((i) => floats[i]!)
    const expected = keep.map((i) => {
      const u = words[i]!
      return Math.floor((u + 0x7fff + ((u >>> 16) & 1)) / 65536) & 0xffff
    })
    const file = encodeSafetensors(
      { b: T.tensor(values, 'float32') },
      { floatDType: 'BF16', allowOverflow: true },
    )
    expect(wordsOf(file)).toEqual(expected)
  })

  it('rounds float64 straight to BF16, not through float32 (no double rounding)', () => {
    // 1 + 2^-8 + 2^-30 is above the midpoint 1 + 2^-8 between BF16 neighbours 1 and 1 + 2^-7, so it
    // rounds up; through float32 it would first become exactly the midpoint and then round to even (1).
    const x = 1 + 2 ** -8 + 2 ** -30
    expect(Math.fround(x)).toBe(1 + 2 ** -8)
    const words = wordsOf(
      encodeSafetensors({ b: T.tensor([x, 1 + 2 ** -8], 'float64') }, { floatDType: 'BF16' }),
    )
    expect(words).toEqual([0x3f81, 0x3f80])
  })

  it('writes the values numpy wrote, from the same sources (F16 from float64, BF16 from float32)', () => {
    const file = new Uint8Array(readFileSync(join(__dirname, 'fixtures/half_floats.safetensors')))
    const expected = JSON.parse(readFileSync(join(__dirname, 'fixtures/half_floats.json'), 'utf8')) as Record<
      'f16' | 'bf16',
      { sources: Array<number | string> }
    >
    const view = new DataView(file.buffer, file.byteOffset, file.byteLength)
    const dataStart = 8 + Number(view.getBigUint64(0, true))
    const numpyWords = (begin: number, count: number): number[] =>
      Array.from({ length: count }, (_, i) => view.getUint16(dataStart + begin + 2 * i, true))
    const { f16, bf16 } = expected
    const ours = (values: number[], dtype: 'float64' | 'float32', floatDType: 'F16' | 'BF16'): number[] =>
      wordsOf(encodeSafetensors({ x: T.tensor(values, dtype) }, { floatDType, allowOverflow: true }))
    // Offsets from the fixture's header: ok [0, 4], bf16 [4, ...], f16 after it.
    expect(ours(bf16.sources.map(numberOf), 'float32', 'BF16')).toEqual(numpyWords(4, bf16.sources.length))
    expect(ours(f16.sources.map(numberOf), 'float64', 'F16')).toEqual(
      numpyWords(4 + 2 * bf16.sources.length, f16.sources.length),
    )
  })

  it('refuses a finite value beyond the format, naming tensor, index and value, unless allowOverflow', () => {
    const tree = { fc: { weight: T.tensor([1, 65519.99, -65520, 70000], 'float32') } }
    expect(() => encodeSafetensors(tree, { floatDType: 'F16' })).toThrow(
      /encodeSafetensors: tensor 'fc\.weight' holds -65520 at index 2, beyond the largest finite F16 \(65504\).*allowOverflow: true/,
    )
    expect(wordsOf(encodeSafetensors(tree, { floatDType: 'F16', allowOverflow: true }))).toEqual([
      0x3c00, 0x7bff, 0xfc00, 0x7c00,
    ])
    // Infinity is not an overflow; BF16 refuses float32's largest value, which rounds past its own.
    expect(wordsOf(encodeSafetensors({ w: T.tensor([Infinity, -Infinity]) }, { floatDType: 'F16' }))).toEqual(
      [0x7c00, 0xfc00],
    )
    expect(() => encodeSafetensors({ w: T.tensor([3.4028234663852886e38]) }, { floatDType: 'BF16' })).toThrow(
      /beyond the largest finite BF16/,
    )
    expect(
      wordsOf(encodeSafetensors({ w: T.tensor([3.3895313892515355e38]) }, { floatDType: 'BF16' })),
    ).toEqual([0x7f7f])
  })

  it('keeps int32 tensors as I32, lays I32 before F16 as the reference writer orders dtypes, and round-trips', () => {
    const tree = { a: T.tensor([0.5, -3], 'float64'), n: T.tensor([7, -1], 'int32'), z: T.tensor([2.5]) }
    const file = encodeSafetensors(tree, { floatDType: 'F16', metadata: { format: 'pt' } })
    const view = new DataView(file.buffer)
    const headerLength = Number(view.getBigUint64(0, true))
    expect(headerLength % 8).toBe(0)
    expect(new TextDecoder().decode(file.subarray(8, 8 + headerLength)).trimEnd()).toBe(
      '{"__metadata__":{"format":"pt"},' +
        '"n":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},' +
        '"a":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},' +
        '"z":{"dtype":"F16","shape":[1],"data_offsets":[12,14]}}',
    )
    const back = right(decodeSafetensors(file))
    expect(back.tensors['a']!.dtype).toBe('float32')
    expect(Array.from(back.tensors['a']!.data)).toEqual([0.5, -3])
    expect(back.tensors['n']!.dtype).toBe('int32')
    expect(Array.from(back.tensors['n']!.data)).toEqual([7, -1])
    expect({ ...back.storedDTypes }).toEqual({ n: 'I32', a: 'F16', z: 'F16' })
  })

  it('refuses an unknown floatDType, allowOverflow without one, and unknown option keys', () => {
    const tree = { w: T.tensor([1]) }
    const untyped = encodeSafetensors as (tree: unknown, opts: unknown) => Uint8Array
    expect(() => untyped(tree, { floatDType: 'F8' })).toThrow(/floatDType must be 'F16' or 'BF16', got "F8"/)
    expect(() => untyped(tree, { allowOverflow: true })).toThrow(/allowOverflow only applies with floatDType/)
    // A misspelt key would otherwise write float32 without a word.
    expect(() => untyped(tree, { dtype: 'F16' })).toThrow(
      /encodeSafetensors: unknown option 'dtype' \(write 'floatDType' instead\).*accepted options: metadata, floatDType, allowOverflow/,
    )
    expect(() => untyped(tree, { floatDType: 'F16', allowOverflow: 'yes' })).toThrow(/allowOverflow/)
  })
})

const scriptPath = join(__dirname, '../../../scripts/check_safetensors.py')
const python = ['/usr/bin/python3', 'python3'].find(
  (candidate) =>
    (candidate.startsWith('/') ? existsSync(candidate) : true) &&
    spawnSync(candidate, ['--version']).status === 0,
)

describe.skipIf(python === undefined)(
  `F16 files read by Python's struct module (${python ?? 'SKIPPED: python3 not found'})`,
  () => {
    it('scripts/check_safetensors.py reads the F16 values backfold wrote, as backfold reads them', () => {
      const dir = mkdtempSync(join(tmpdir(), 'backfold-f16-py-'))
      const path = join(dir, 'half.safetensors')
      const values = [0, -0, 1 / 3, -65504, 2 ** -24, 3 * 2 ** -25, 1e-9, Math.PI, Infinity, Number.NaN]
      writeFileSync(
        path,
        encodeSafetensors(
          { w: T.tensor(values, 'float64'), n: T.tensor([3], 'int32') },
          { floatDType: 'F16' },
        ),
      )
      const result = spawnSync(python!, [scriptPath, '--no-torch', path], {
        encoding: 'utf8',
        timeout: 120_000,
      })
      const report = (
        JSON.parse(result.stdout) as Record<
          string,
          {
            ok: boolean
            error?: string
            tensors: Record<string, { dtype: string; values: Array<number | string> }>
          }
        >
      )[path]!
      if (!report.ok) throw new Error(`python rejected the file: ${report.error}`)
      expect(report.tensors['w']!.dtype).toBe('F16')
      const ours = Array.from(right(decodeSafetensors(new Uint8Array(readFileSync(path)))).tensors['w']!.data)
      const theirs = report.tensors['w']!.values.map(numberOf)
      expect(theirs.every((v, i) => Object.is(v, ours[i]))).toBe(true)
      expect(theirs.slice(0, 6)).toEqual([0, -0, 0.333251953125, -65504, 2 ** -24, 2 ** -23])
    }, 120_000)
  },
)
