import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import { decodeSafetensors, encodeSafetensors, loadParams } from '../src/checkpoint/index'
import { loadSafetensors, saveSafetensors } from '../src/node/safetensors'
import { MAX_JSON_DEPTH } from '../src/json'

// -------------------------------------------------------------------------------------
// helpers: an independent writer and reader built from the specification
// -------------------------------------------------------------------------------------

const params = {
  layers: [
    {
      weight: T.tensor([
        [1.5, -2],
        [3, 4.25],
        [0, 1e-7],
      ]),
      bias: T.tensor([0.5, -0.5, 2]),
    },
    { weight: T.tensor([[1, 2, 3]], 'float64'), bias: T.scalar(7, 'float64') },
  ],
  steps: T.tensor([1, -2, 2147483647, -2147483648], 'int32'),
  special: T.tensor([Number.NaN, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], 'float32'),
  empty: T.zeros([0, 3]),
  emptyInt: T.zeros([2, 0], 'int32'),
}

const right = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(`expected Right, got Left: ${e.left.message}`)
  return e.right
}
const leftMessage = (e: E.Either<{ message: string; source: string }, unknown>): string => {
  if (E.isRight(e)) throw new Error('expected Left, got Right')
  return `${e.left.source}: ${e.left.message}`
}

/** A file built by hand from the specification: u64 LE header length, header text, data. */
const handBuilt = (headerJson: string, data: Uint8Array | number[] = []): Uint8Array => {
  const header = new TextEncoder().encode(headerJson)
  const out = new Uint8Array(8 + header.length + data.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true)
  out.set(header, 8)
  out.set(data, 8 + header.length)
  return out
}
const le = (values: number[], kind: 'f32' | 'f64' | 'i32'): Uint8Array => {
  const size = kind === 'f64' ? 8 : 4
  const bytes = new Uint8Array(values.length * size)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < values.length; i++) {
    if (kind === 'f32') view.setFloat32(i * 4, values[i]!, true)
    else if (kind === 'f64') view.setFloat64(i * 8, values[i]!, true)
    else view.setInt32(i * 4, values[i]!, true)
  }
  return bytes
}
const concatBytes = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
const ascii = (text: string): number[] => [...text].map((c) => c.charCodeAt(0))

interface HeaderEntryView {
  dtype: string
  shape: number[]
  data_offsets: [number, number]
}
/** Reads the header with plain JSON.parse, not with the code under test. */
const readHeader = (bytes: Uint8Array): { length: number; entries: Record<string, HeaderEntryView> } => {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true))
  const entries = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<
    string,
    HeaderEntryView
  >
  return { length, entries }
}

/** Same values bit for bit where it matters: NaN equals NaN, -0 differs from 0. */
const sameValues = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false
  return true
}

const ARRAY_TYPE: Record<DType, string> = {
  float32: 'Float32Array',
  float64: 'Float64Array',
  int32: 'Int32Array',
}

/** Everything a decoded result promises, checked with direct loops. */
const expectFullyValid = (result: { tensors: Readonly<Record<string, Tensor>>; metadata: object }): void => {
  for (const x of Object.values(result.tensors)) {
    expect(x.shape.every((d) => Number.isSafeInteger(d) && d >= 0)).toBe(true)
    let size = 1
    for (const d of x.shape) size *= d
    expect(x.data.length).toBe(size)
    expect(x.data.constructor.name).toBe(ARRAY_TYPE[x.dtype])
  }
  for (const v of Object.values(result.metadata)) expect(typeof v).toBe('string')
}

// -------------------------------------------------------------------------------------
// encoding and decoding
// -------------------------------------------------------------------------------------

// -----------------------------------------------------------------------------------
// bad input: every case violates the specification or asks for a dtype backfold lacks
// -----------------------------------------------------------------------------------

const entry = (name: string, dtype: string, shape: string, offsets: string): string =>
  `"${name}":{"dtype":"${dtype}","shape":${shape},"data_offsets":${offsets}}`
const withLength = (declared: bigint, total: number): Uint8Array => {
  const b = new Uint8Array(total)
  new DataView(b.buffer).setBigUint64(0, declared, true)
  return b
}
const cases: ReadonlyArray<[string, Uint8Array, RegExp]> = [
  ['an empty file', new Uint8Array(0), /truncated: 0 bytes/],
  ['a file shorter than the header length', new Uint8Array(5), /truncated: 5 bytes/],
  [
    'a header length past the end',
    handBuilt(`{${entry('w', 'F32', '[2]', '[0,8]')}}`, le([1, 2], 'f32')).slice(0, 20),
    /header length \d+ runs past the end of the file \(20 bytes\)/,
  ],
  ['an absurd header length (2^60)', withLength(2n ** 60n, 16), /above the 100000000-byte limit/],
  ['a header length just above 100 MB', withLength(100_000_001n, 16), /above the 100000000-byte limit/],
  ['a header length of the maximum u64', withLength(2n ** 64n - 1n, 16), /limit/],
  ['a zero header length', withLength(0n, 8), /starting with '\{'/],
  ['a header starting with a space', handBuilt(' {}'), /starting with '\{'/],
  ['a header starting with a byte-order mark', handBuilt('\uFEFF{}'), /starting with '\{'/],
  ['invalid UTF-8 in the header', handBuilt('{"\u00e9":1}').map((b, i) => (i === 10 ? 0xff : b)), /UTF-8/],
  ['invalid JSON', handBuilt('{"w": ['), /not valid JSON/],
  ['JSON followed by garbage', handBuilt('{} x'), /not valid JSON/],
  ['a header that is not an object', handBuilt('[1,2]'), /JSON object/],
  ['an entry that is not an object', handBuilt('{"w":3}'), /tensor 'w': expected/],
  [
    'an entry missing data_offsets',
    handBuilt('{"w":{"dtype":"F32","shape":[1]}}', [0, 0, 0, 0]),
    /tensor 'w': expected/,
  ],
  [
    'a dtype that is not a string',
    handBuilt('{"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]),
    /tensor 'w': expected/,
  ],
  [
    'a shape that is not a list',
    handBuilt(`{${entry('w', 'F32', '4', '[0,4]')}}`, [0, 0, 0, 0]),
    /tensor 'w': expected/,
  ],
  [
    'an F16 tensor whose bytes disagree with its shape',
    handBuilt(`{${entry('w', 'F16', '[2]', '[0,2]')}}`, [0, 0]),
    /tensor 'w': shape \[2\] of F16 needs 4 bytes but data_offsets \[0, 2\] span 2/,
  ],
  ['a U8 tensor', handBuilt(`{${entry('w', 'U8', '[1]', '[0,1]')}}`, [0]), /unsupported dtype U8/],
  [
    'an I64 tensor',
    handBuilt(`{${entry('w', 'I64', '[1]', '[0,8]')}}`, new Uint8Array(8)),
    /unsupported dtype I64/,
  ],
  [
    'an unknown dtype',
    handBuilt(`{${entry('w', 'Q7', '[1]', '[0,2]')}}`, [0, 0]),
    /tensor 'w': unknown dtype "Q7"/,
  ],
  [
    'a lowercase dtype',
    handBuilt(`{${entry('w', 'f32', '[1]', '[0,4]')}}`, new Uint8Array(4)),
    /unknown dtype "f32"/,
  ],
  [
    'a negative dimension',
    handBuilt(`{${entry('w', 'F32', '[-1]', '[0,4]')}}`, new Uint8Array(4)),
    /tensor 'w': shape \[-1\] must be a list of non-negative integers/,
  ],
  [
    'a fractional dimension',
    handBuilt(`{${entry('w', 'F32', '[1.5]', '[0,4]')}}`, new Uint8Array(4)),
    /non-negative integers/,
  ],
  [
    'a dimension beyond 2^53',
    handBuilt(`{${entry('w', 'F32', '[1e300]', '[0,4]')}}`, new Uint8Array(4)),
    /non-negative integers/,
  ],
  [
    'a shape whose byte count overflows',
    handBuilt(`{${entry('w', 'F32', '[1099511627776,1099511627776]', '[0,4]')}}`, new Uint8Array(4)),
    /tensor 'w': .*needs more than 2\^53 bytes/,
  ],
  [
    'a byte count that disagrees with the shape',
    handBuilt(`{${entry('w', 'F32', '[3]', '[0,8]')}}`, new Uint8Array(8)),
    /tensor 'w': shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/,
  ],
  [
    'a byte count off by the item size of another dtype',
    handBuilt(`{${entry('w', 'F64', '[1]', '[0,4]')}}`, new Uint8Array(4)),
    /needs 8 bytes/,
  ],
  [
    'three data offsets',
    handBuilt(`{${entry('w', 'F32', '[1]', '[0,4,8]')}}`, new Uint8Array(8)),
    /tensor 'w': data_offsets \[0,4,8\] must be two/,
  ],
  ['one data offset', handBuilt(`{${entry('w', 'F32', '[0]', '[0]')}}`), /data_offsets \[0\] must be two/],
  [
    'negative offsets',
    handBuilt(`{${entry('w', 'F32', '[1]', '[-4,0]')}}`, new Uint8Array(4)),
    /must be two non-negative integers/,
  ],
  [
    'offsets with begin > end',
    handBuilt(`{${entry('w', 'F32', '[1]', '[8,4]')}}`, new Uint8Array(8)),
    /begin <= end/,
  ],
  [
    'fractional offsets',
    handBuilt(`{${entry('w', 'F32', '[1]', '[0.5,4.5]')}}`, new Uint8Array(8)),
    /must be two non-negative integers/,
  ],
  [
    'offsets out of range',
    handBuilt(`{${entry('w', 'F32', '[2]', '[0,8]')}}`, new Uint8Array(4)),
    /tensor 'w': data_offsets \[0, 8\] run past the end of the data section \(4 bytes\)/,
  ],
  [
    'overlapping offsets',
    handBuilt(
      `{${entry('a', 'F32', '[2]', '[0,8]')},${entry('b', 'F32', '[1]', '[4,8]')}}`,
      new Uint8Array(8),
    ),
    /tensor 'b': data_offsets \[4, 8\] overlap those of 'a' \[0, 8\]/,
  ],
  [
    'two tensors on the same bytes',
    handBuilt(
      `{${entry('a', 'F32', '[1]', '[0,4]')},${entry('b', 'I32', '[1]', '[0,4]')}}`,
      new Uint8Array(4),
    ),
    /overlap/,
  ],
  [
    'a hole at the start',
    handBuilt(`{${entry('a', 'F32', '[1]', '[4,8]')}}`, new Uint8Array(8)),
    /bytes 0\.\.4 of the data section belong to no tensor \(a hole before 'a'\)/,
  ],
  [
    'a hole in the middle',
    handBuilt(
      `{${entry('a', 'F32', '[1]', '[0,4]')},${entry('b', 'F32', '[1]', '[8,12]')}}`,
      new Uint8Array(12),
    ),
    /hole before 'b'/,
  ],
  [
    'trailing bytes after the last tensor',
    handBuilt(`{${entry('a', 'F32', '[1]', '[0,4]')}}`, new Uint8Array(6)),
    /2 bytes after the last tensor/,
  ],
  ['data but no tensors', handBuilt('{}', new Uint8Array(4)), /4 bytes after the last tensor/],
  [
    'duplicate names',
    handBuilt(
      `{${entry('w', 'F32', '[1]', '[0,4]')},${entry('w', 'F32', '[1]', '[4,8]')}}`,
      new Uint8Array(8),
    ),
    /names these tensors more than once: 'w'/,
  ],
  [
    'duplicate names with identical entries',
    handBuilt(
      `{${entry('w', 'F32', '[1]', '[0,4]')},${entry('w', 'F32', '[1]', '[0,4]')}}`,
      new Uint8Array(4),
    ),
    /more than once: 'w'/,
  ],
  [
    'duplicate names spelled with an escape',
    handBuilt(
      `{${entry('w', 'F32', '[1]', '[0,4]')}, "\\u0077" : {"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`,
      new Uint8Array(8),
    ),
    /more than once: 'w'/,
  ],
  [
    'duplicate metadata sections',
    handBuilt('{"__metadata__":{"a":"1"},"__metadata__":{"a":"2"}}'),
    /more than once: '__metadata__'/,
  ],
  [
    'a metadata value that is a number',
    handBuilt('{"__metadata__":{"epochs":3}}'),
    /__metadata__ value 'epochs' must be a string, got 3/,
  ],
  [
    'a metadata value that is null',
    handBuilt('{"__metadata__":{"a":"x","b":null}}'),
    /value 'b' must be a string, got null/,
  ],
  [
    'metadata that is not an object',
    handBuilt('{"__metadata__":["a"]}'),
    /__metadata__ must be an object of strings/,
  ],
  [
    'metadata that is a string',
    handBuilt('{"__metadata__":"pt"}'),
    /__metadata__ must be an object of strings/,
  ],
]

/**
 * Cases the reference reader (safetensors 0.8.0) accepts: dtypes that are valid safetensors but that
 * backfold has no tensor type for; a header not starting with '{', which the specification forbids but
 * that reader does not check; and a name given twice with identical entries, which it silently merges.
 */
const REFERENCE_ACCEPTS: ReadonlySet<string> = new Set([
  'a U8 tensor',
  'an I64 tensor',
  'a header starting with a space',
  'duplicate names with identical entries',
])

// Random parameter trees: all three dtypes, ranks 0..3 with size-0 dimensions, every float value.
const dtypeArb = fc.constantFrom<DType>('float32', 'float64', 'int32')
const tensorArb = fc
  .tuple(dtypeArb, fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }))
  .chain(([dtype, shape]) => {
    const size = shape.reduce((n, d) => n * d, 1)
    const value =
      dtype === 'int32'
        ? fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
        : dtype === 'float32'
          ? fc.float()
          : fc.double()
    return fc.array(value, { minLength: size, maxLength: size }).map((values) => {
      const data = T.allocate(dtype, size)
      for (let i = 0; i < size; i++) data[i] = values[i]!
      return T.unsafeTensor(dtype, shape, data)
    })
  })
const treeArb = fc.dictionary(
  fc.constantFrom('w', 'b', 'fc1', 'fc2', 'layers', 'é', 'a b', '"q"', '\uff01', '\u{1f600}', 'tab\t'),
  fc.oneof(
    tensorArb,
    fc.array(tensorArb, { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('weight', 'bias'), tensorArb),
  ),
  { maxKeys: 4 },
)

describe('encodeSafetensors / decodeSafetensors', () => {
  it('round-trips a nested tree of every dtype, with scalars, size-0 tensors, special values and metadata', () => {
    const bytes = encodeSafetensors(params, { metadata: { framework: 'backfold', note: 'ü "quoted"' } })
    const { tensors, metadata } = right(decodeSafetensors(bytes))
    expect(metadata).toEqual({ framework: 'backfold', note: 'ü "quoted"' })
    expect(Object.keys(tensors).sort()).toEqual([
      'empty',
      'emptyInt',
      'layers.0.bias',
      'layers.0.weight',
      'layers.1.bias',
      'layers.1.weight',
      'special',
      'steps',
    ])
    const back = right(loadParams(params, tensors))
    for (const [a, b] of [
      [back.layers[0]!.weight, params.layers[0]!.weight],
      [back.layers[0]!.bias, params.layers[0]!.bias],
      [back.layers[1]!.weight, params.layers[1]!.weight],
      [back.layers[1]!.bias, params.layers[1]!.bias],
      [back.steps, params.steps],
      [back.special, params.special],
      [back.empty, params.empty],
      [back.emptyInt, params.emptyInt],
    ] as const) {
      expect(a.dtype).toBe(b.dtype)
      expect(a.shape).toEqual(b.shape)
      expect(sameValues(a.data, b.data)).toBe(true)
    }
    expect(back.layers[1]!.bias.shape).toEqual([])
    expect(Array.from(back.steps.data)).toEqual([1, -2, 2147483647, -2147483648])
    expect(Object.is(back.special.data[1], -0)).toBe(true)
  })

  it('encodes exactly the bytes of the reference implementation test vectors', () => {
    // Expected bytes from the reference implementation's own unit tests (huggingface/safetensors,
    // safetensors/src/tensor.rs: test_serialization, test_serialization_forced_alignement, test_empty).
    const floats0to5 = [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64]
    const data = T.tensor([0, 1, 2, 3, 4, 5])
    const attnDot0 = [
      64,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...ascii('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'),
      ...floats0to5,
    ]
    expect(Array.from(encodeSafetensors({ attn: [T.reshape(data, [1, 2, 3])] }))).toEqual(attnDot0)
    const attn0 = [
      72,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...ascii('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       '),
      ...floats0to5,
    ]
    expect(Array.from(encodeSafetensors({ attn0: T.reshape(data, [1, 1, 2, 3]) }))).toEqual(attn0)
    expect(Array.from(encodeSafetensors({}))).toEqual([
      8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32,
    ])
    expect(Array.from(encodeSafetensors({}, { metadata: { framework: 'pt' } }))).toEqual([
      40,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...ascii('{"__metadata__":{"framework":"pt"}}     '),
    ])
    // And the decoder reads them.
    const decoded = right(decodeSafetensors(Uint8Array.from(attnDot0)))
    expect(decoded.tensors['attn.0']!.shape).toEqual([1, 2, 3])
    expect(Array.from(decoded.tensors['attn.0']!.data)).toEqual([0, 1, 2, 3, 4, 5])
  })

  it('reads a file written by the reference implementation and writes it back byte for byte', () => {
    // Written by safetensors 0.8.0 (the Hugging Face package, Rust core) from numpy arrays:
    // scripts/check_safetensors.py --write-fixtures packages/nn/test/fixtures
    const file = new Uint8Array(readFileSync(join(__dirname, 'fixtures/reference.safetensors')))
    const { tensors, metadata } = right(decodeSafetensors(file, { source: 'reference.safetensors' }))
    expect(metadata).toEqual({ format: 'np', writer: 'safetensors 0.8.0' })
    expect(Object.keys(tensors).sort()).toEqual([
      'counts',
      'empty',
      'layers.0.bias',
      'layers.0.weight',
      'scale',
    ])
    const expected: Record<string, [DType, number[], number[]]> = {
      'layers.0.weight': ['float32', [2, 3], [-0.5, -0.25, 0, 0.25, 0.5, 0.75]],
      'layers.0.bias': ['float32', [2], [-1, Math.fround(0.1)]],
      scale: ['float64', [], [Math.PI]],
      counts: ['int32', [3], [1, -2, 2147483647]],
      empty: ['float32', [0, 4], []],
    }
    for (const [name, [dtype, shape, values]] of Object.entries(expected)) {
      expect(tensors[name]!.dtype).toBe(dtype)
      expect(tensors[name]!.shape).toEqual(shape)
      expect(Array.from(tensors[name]!.data)).toEqual(values)
    }
    const rebuilt = {
      layers: [{ weight: tensors['layers.0.weight']!, bias: tensors['layers.0.bias']! }],
      scale: tensors['scale']!,
      counts: tensors['counts']!,
      empty: tensors['empty']!,
    }
    expect(Array.from(encodeSafetensors(rebuilt, { metadata }))).toEqual(Array.from(file))
  })

  it('loads a reference file holding an F16 tensor as float32, and says it was F16', () => {
    const file = new Uint8Array(readFileSync(join(__dirname, 'fixtures/reference_f16.safetensors')))
    const { tensors, storedDTypes } = right(decodeSafetensors(file, { source: 'reference_f16.safetensors' }))
    expect(tensors['half']!.dtype).toBe('float32')
    expect(Array.from(tensors['half']!.data)).toEqual([1, 2])
    expect(Array.from(tensors['ok']!.data)).toEqual([1])
    expect({ ...storedDTypes }).toEqual({ ok: 'F32', half: 'F16' })
  })

  it('lays the data out as the reference writer does: padded header, F64 then F32 then I32, names sorted, aligned', () => {
    const tree = {
      b: T.tensor([1, 2, 3], 'int32'),
      z: T.tensor([1, 2, 3]),
      a: T.tensor([1], 'float32'),
      y: T.tensor([1.5], 'float64'),
      c: T.tensor([2.5, 3.5], 'float64'),
    }
    const bytes = encodeSafetensors(tree)
    const { length, entries } = readHeader(bytes)
    expect(length % 8).toBe(0)
    const order = Object.entries(entries)
      .sort(([, p], [, q]) => p.data_offsets[0] - q.data_offsets[0])
      .map(([name]) => name)
    expect(order).toEqual(['c', 'y', 'a', 'z', 'b'])
    // Names in code-point (UTF-8 byte) order, as Rust sorts them, not in UTF-16 order.
    const unicode = readHeader(
      encodeSafetensors({ '\u{1f600}': T.zeros([1]), '\uff01': T.zeros([1]) }),
    ).entries
    expect(unicode['\uff01']!.data_offsets).toEqual([0, 4])
    expect(unicode['\u{1f600}']!.data_offsets).toEqual([4, 8])
    const sizes: Record<string, number> = { F64: 8, F32: 4, I32: 4 }
    for (const e of Object.values(entries)) expect((8 + length + e.data_offsets[0]) % sizes[e.dtype]!).toBe(0)
    // Data checked directly against the header offsets.
    const view = new DataView(bytes.buffer, 8 + length)
    expect(view.getFloat64(entries['y']!.data_offsets[0], true)).toBe(1.5)
    expect(view.getInt32(entries['b']!.data_offsets[0] + 8, true)).toBe(3)
  })

  it('loads a file written by hand from the specification (keys out of order, metadata in the middle)', () => {
    const data = concatBytes(le([1, 2, 3, 4, 5, 6], 'f32'), le([-1, 2], 'i32'), le([0.25], 'f64'))
    const header =
      '{"z.bias":{"dtype":"F64","shape":[],"data_offsets":[32,40]},"__metadata__":{"format":"pt"},' +
      '"a.weight":{"shape":[2,3],"dtype":"F32","data_offsets":[0,24]}, "m" : {"dtype":"I32","shape":[2],"data_offsets":[24,32]},' +
      '"e":{"dtype":"F32","shape":[0,5],"data_offsets":[24,24]}}   '
    const { tensors, metadata } = right(decodeSafetensors(handBuilt(header, data)))
    expect(metadata).toEqual({ format: 'pt' })
    expect(Object.keys(tensors).sort()).toEqual(['a.weight', 'e', 'm', 'z.bias'])
    expect(tensors['a.weight']!.dtype).toBe('float32')
    expect(tensors['a.weight']!.shape).toEqual([2, 3])
    expect(Array.from(tensors['a.weight']!.data)).toEqual([1, 2, 3, 4, 5, 6])
    expect(tensors['m']!.dtype).toBe('int32')
    expect(Array.from(tensors['m']!.data)).toEqual([-1, 2])
    expect(tensors['z.bias']!.dtype).toBe('float64')
    expect(tensors['z.bias']!.shape).toEqual([])
    expect(Array.from(tensors['z.bias']!.data)).toEqual([0.25])
    expect(tensors['e']!.shape).toEqual([0, 5])
  })

  it('reads from a view into a larger buffer (byteOffset != 0)', () => {
    const file = encodeSafetensors(params)
    const padded = new Uint8Array(file.length + 13)
    padded.set(file, 5)
    const { tensors } = right(decodeSafetensors(padded.subarray(5, 5 + file.length)))
    expect(Array.from(tensors['layers.0.bias']!.data)).toEqual([0.5, -0.5, 2])
  })

  it('keeps names such as __proto__ and constructor as ordinary tensors', () => {
    const header =
      '{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"constructor":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'
    const { tensors } = right(decodeSafetensors(handBuilt(header, le([1, 2], 'f32'))))
    // No prototype: `__proto__` did not rewire it, and a name the file lacks is not an inherited member.
    expect(Object.getPrototypeOf(tensors)).toBe(null)
    expect((tensors as Record<string, unknown>)['toString']).toBeUndefined()
    expect(Object.keys(tensors).sort()).toEqual(['__proto__', 'constructor'])
    expect(
      Array.from(Object.getOwnPropertyDescriptor(tensors, '__proto__')!.value.data as Float32Array),
    ).toEqual([1])
    // A model without these names gets them reported, not silently matched against Object.prototype.
    const message = leftMessage(loadParams({ w: T.zeros([1]) }, tensors))
    expect(message).toMatch(/missing 'w'/)
    expect(message).toMatch(/unexpected '__proto__'/)
    expect(message).toMatch(/unexpected 'constructor'/)
    expect(leftMessage(loadParams({ constructor: T.zeros([1]) }, {}))).toMatch(/missing 'constructor'/)
  })

  it('keeps __proto__ and constructor as ordinary metadata keys, in a record without a prototype', () => {
    const { metadata } = right(
      decodeSafetensors(handBuilt('{"__metadata__":{"__proto__":"a","constructor":"b"}}')),
    )
    expect(Object.getPrototypeOf(metadata)).toBe(null)
    expect(Object.entries(metadata)).toEqual([
      ['__proto__', 'a'],
      ['constructor', 'b'],
    ])
    expect(metadata['toString']).toBeUndefined()
  })

  it('refuses headers nested deeper than MAX_JSON_DEPTH with a Left naming the limit, never a RangeError', () => {
    const deep = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`
    const cases = [
      `{"__metadata__":${deep(10_000)}}`,
      `{"__metadata__":{"a":${deep(1_000_000)}}}`,
      `{"w":{"dtype":"F32","shape":${deep(10_000)},"data_offsets":[0,0]}}`,
    ]
    for (const header of cases) {
      const message = leftMessage(decodeSafetensors(handBuilt(header), { source: 'deep.safetensors' }))
      expect(message).toBe(
        `deep.safetensors: header is JSON nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects, ` +
          'the most backfold reads (it refuses deeper values rather than recurse without bound)',
      )
    }
    // At the limit the header is read, and refused for what it holds, not for its depth.
    const atLimit = leftMessage(decodeSafetensors(handBuilt(`{"__metadata__":${deep(MAX_JSON_DEPTH - 1)}}`)))
    expect(atLimit).toMatch(/__metadata__ must be an object of strings, got \[\[\[/)
  })

  it('refuses to encode trees whose dotted names collide', () => {
    expect(() => encodeSafetensors({ 'a.b': T.zeros([1]), a: { b: T.zeros([1]) } })).toThrow(/'a\.b'/)
    expect(() => encodeSafetensors({ __metadata__: T.zeros([1]) })).toThrow(/__metadata__/)
  })

  it.each(cases)('rejects %s, naming the source and the problem', (_name, bytes, pattern) => {
    const message = leftMessage(decodeSafetensors(bytes, { source: 'bad.safetensors' }))
    expect(message).toMatch(/^bad\.safetensors: /)
    expect(message).toMatch(pattern)
  })

  it('names a default source when none is given', () => {
    expect(leftMessage(decodeSafetensors(new Uint8Array(3)))).toMatch(/^safetensors data: truncated/)
  })

  // -----------------------------------------------------------------------------------
  // properties
  // -----------------------------------------------------------------------------------

  it('round-trips random trees exactly, and the header agrees with an independent reading', () => {
    fc.assert(
      fc.property(treeArb, fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), (tree, metadata) => {
        const bytes = encodeSafetensors(tree, { metadata })
        const { length, entries } = readHeader(bytes)
        expect(length % 8).toBe(0)
        const decoded = right(decodeSafetensors(bytes))
        expectFullyValid(decoded)
        expect(decoded.metadata).toEqual(metadata)
        const originals = new Map<string, Tensor>()
        const walk = (node: unknown, path: string): void => {
          if (T.isTensor(node)) originals.set(path, node)
          else if (typeof node === 'object' && node !== null)
            for (const [k, c] of Object.entries(node)) walk(c, path === '' ? k : `${path}.${k}`)
        }
        walk(tree, '')
        expect(Object.keys(decoded.tensors).sort()).toEqual([...originals.keys()].sort())
        for (const [name, x] of originals) {
          const y = decoded.tensors[name]!
          expect(y.dtype).toBe(x.dtype)
          expect(y.shape).toEqual(x.shape)
          expect(sameValues(y.data, x.data)).toBe(true)
          expect(entries[name]!.shape).toEqual(x.shape)
        }
      }),
      { numRuns: 150 },
    )
  })

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const result = decodeSafetensors(bytes)
        if (E.isRight(result)) expectFullyValid(result.right)
      }),
      { numRuns: 300 },
    )
    // Random bytes behind a plausible header length reach the JSON stage.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(220), (tail, declared) => {
        const bytes = concatBytes(withLength(BigInt(declared), 8), Uint8Array.of(0x7b), tail)
        const result = decodeSafetensors(bytes)
        if (E.isRight(result)) expectFullyValid(result.right)
      }),
      { numRuns: 300 },
    )
  })

  it('never throws on truncations, bit flips and splices of a valid file; flips in the data keep the structure', () => {
    const good = encodeSafetensors(params, { metadata: { a: 'b' } })
    const headerEnd = 8 + readHeader(good).length
    const expectedNames = Object.keys(right(decodeSafetensors(good)).tensors).sort()
    fc.assert(
      fc.property(
        fc.oneof(
          fc.nat(good.length - 1).map((cut) => good.slice(0, cut)),
          fc.tuple(fc.nat(headerEnd - 1), fc.nat(7)).map(([at, bit]) => {
            const mutated = good.slice()
            mutated[at] = mutated[at]! ^ (1 << bit)
            return mutated
          }),
          fc
            .tuple(fc.nat(headerEnd - 1), fc.uint8Array({ minLength: 1, maxLength: 4 }))
            .map(([at, patch]) => {
              const mutated = good.slice()
              mutated.set(patch.subarray(0, Math.min(patch.length, good.length - at)), at)
              return mutated
            }),
          fc.uint8Array({ minLength: 1, maxLength: 9 }).map((extra) => concatBytes(good, extra)),
        ),
        (mutated) => {
          const result = decodeSafetensors(mutated, { source: 'mutated' })
          if (E.isRight(result)) expectFullyValid(result.right)
          else expect(result.left.source).toBe('mutated')
        },
      ),
      { numRuns: 600 },
    )
    fc.assert(
      fc.property(fc.integer({ min: headerEnd, max: good.length - 1 }), fc.nat(7), (at, bit) => {
        const mutated = good.slice()
        mutated[at] = mutated[at]! ^ (1 << bit)
        const decoded = right(decodeSafetensors(mutated))
        expect(Object.keys(decoded.tensors).sort()).toEqual(expectedNames)
        expectFullyValid(decoded)
      }),
      { numRuns: 100 },
    )
  })
})

// -------------------------------------------------------------------------------------
// loadParams
// -------------------------------------------------------------------------------------

describe('loadParams', () => {
  it('rebuilds the tree with the structure of `like` and the tensors of the checkpoint', () => {
    const like = { layers: [{ w: T.zeros([2, 2]), b: T.zeros([2]) }], scale: T.scalar(0, 'float64') }
    const tensors = {
      'layers.0.w': T.tensor([
        [1, 2],
        [3, 4],
      ]),
      'layers.0.b': T.tensor([5, 6]),
      scale: T.scalar(0.5, 'float64'),
    }
    const loaded = right(loadParams(like, tensors))
    expect(Array.isArray(loaded.layers)).toBe(true)
    expect(loaded.layers[0]!.w).toBe(tensors['layers.0.w'])
    expect(loaded.layers[0]!.b).toBe(tensors['layers.0.b'])
    expect(loaded.scale).toBe(tensors.scale)
  })

  it('reports every mismatch at once, naming each parameter, and never reshapes', () => {
    const { tensors } = right(decodeSafetensors(encodeSafetensors(params)))
    const { empty: _empty, ...withoutEmpty } = tensors
    const wrong = {
      ...withoutEmpty,
      extra: T.zeros([1]),
      'layers.0.bias': T.zeros([1, 3]),
      'layers.0.weight': T.zeros([2, 3]),
      steps: T.zeros([4]),
      'layers.1.bias': T.scalar(7, 'float32'),
    }
    const message = leftMessage(loadParams(params, wrong, { source: 'ckpt.safetensors' }))
    expect(message).toMatch(/^ckpt\.safetensors: /)
    expect(message).toMatch(/6 mismatches/)
    expect(message).toMatch(/missing 'empty' \(the model expects float32 \[0,3\]\)/)
    expect(message).toMatch(/'layers\.0\.bias' has shape \[1,3\], the model expects \[3\]/)
    expect(message).toMatch(/'layers\.0\.weight' has shape \[2,3\], the model expects \[3,2\]/)
    expect(message).toMatch(/'steps' has dtype float32, the model expects int32/)
    expect(message).toMatch(/'layers\.1\.bias' has dtype float32, the model expects float64/)
    expect(message).toMatch(/unexpected 'extra'/)
  })

  it('reports a tree whose names collide instead of loading one tensor twice', () => {
    const like = { 'a.b': T.zeros([1]), a: { b: T.zeros([1]) } }
    expect(leftMessage(loadParams(like, { 'a.b': T.zeros([1]) }))).toMatch(/two parameters named 'a\.b'/)
  })
})

// -------------------------------------------------------------------------------------
// files
// -------------------------------------------------------------------------------------

describe('saveSafetensors / loadSafetensors', () => {
  it('saves atomically, overwrites, loads back, and leaves no temporary files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backfold-st-'))
    const path = join(dir, 'params.safetensors')
    expect(E.isRight(await saveSafetensors(path, { old: T.zeros([2]) }))).toBe(true)
    expect(E.isRight(await saveSafetensors(path, params, { metadata: { epochs: '3' } }))).toBe(true)
    expect(readdirSync(dir)).toEqual(['params.safetensors'])
    const loaded = right(await loadSafetensors(path))
    expect(loaded.metadata).toEqual({ epochs: '3' })
    expect(Array.from(loaded.tensors['layers.0.bias']!.data)).toEqual([0.5, -0.5, 2])
    expect(loaded.tensors['old']).toBeUndefined()
    expect(Array.from(readFileSync(path))).toEqual(
      Array.from(encodeSafetensors(params, { metadata: { epochs: '3' } })),
    )
  })

  it('a failed write returns Left naming the file and leaves what was there untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backfold-st-'))
    // The rename fails (the target is a non-empty directory) after the data has been written.
    const occupied = join(dir, 'occupied.safetensors')
    mkdirSync(occupied)
    writeFileSync(join(occupied, 'keep'), 'x')
    expect(leftMessage(await saveSafetensors(occupied, params))).toMatch(
      /^[^:]*occupied\.safetensors: .*write/,
    )
    expect(readdirSync(dir)).toEqual(['occupied.safetensors'])
    expect(readdirSync(occupied)).toEqual(['keep'])
    // The directory does not exist: nothing can be written.
    expect(leftMessage(await saveSafetensors(join(dir, 'no', 'such', 'p.safetensors'), params))).toMatch(
      /p\.safetensors: .*write/,
    )
  })

  it('load returns Left naming the file when it is missing or corrupt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backfold-st-'))
    expect(leftMessage(await loadSafetensors(join(dir, 'missing.safetensors')))).toMatch(
      /missing\.safetensors: could not read the file/,
    )
    const corrupt = join(dir, 'corrupt.safetensors')
    writeFileSync(corrupt, encodeSafetensors(params).subarray(0, 30))
    expect(leftMessage(await loadSafetensors(corrupt))).toMatch(
      /corrupt\.safetensors: header length \d+ runs past the end/,
    )
  })
})

// -------------------------------------------------------------------------------------
// interoperability: an independent reader in Python (and PyTorch when installed)
// -------------------------------------------------------------------------------------

const scriptPath = join(__dirname, '../../../scripts/check_safetensors.py')
/** Debian's python3 (where apt's python3-torch lives) first, then whatever `python3` is on PATH. */
const python = ['/usr/bin/python3', 'python3'].find(
  (candidate) =>
    (candidate.startsWith('/') ? existsSync(candidate) : true) &&
    spawnSync(candidate, ['--version']).status === 0,
)

interface PyTensor {
  dtype: string
  shape: number[]
  data_offsets: [number, number]
  values: Array<number | string>
}
interface PyReference {
  version: string
  tensors_checked: number
  resave_identical: boolean
  torch_load_file: number | null
}
type PyReport =
  | {
      ok: true
      metadata: Record<string, string>
      tensors: Record<string, PyTensor>
      torch: { version: string; tensors_checked: number } | null
      reference: PyReference | null
    }
  | { ok: false; error: string; reference_error: string | null }

const runPython = (args: string[]): Record<string, PyReport> => {
  const result = spawnSync(python!, [scriptPath, ...args], { encoding: 'utf8', timeout: 120_000 })
  if (result.error !== undefined) throw result.error
  if (result.stdout === '') throw new Error(`check_safetensors.py printed nothing: ${result.stderr}`)
  return JSON.parse(result.stdout) as Record<string, PyReport>
}
const fromPython = (v: number | string): number =>
  v === 'NaN' ? Number.NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : (v as number)

describe.skipIf(python === undefined)(
  `interoperability with readers that share no code with backfold (${python ?? 'SKIPPED: python3 not found'})`,
  () => {
    it('the stdlib reader, torch and the reference implementation (each when importable) read exactly what backfold writes', () => {
      const dir = mkdtempSync(join(tmpdir(), 'backfold-st-py-'))
      const path = join(dir, 'params.safetensors')
      writeFileSync(path, encodeSafetensors(params, { metadata: { framework: 'backfold' } }))
      const report = runPython([path])[path]!
      if (!report.ok) throw new Error(`python rejected the file: ${report.error}`)
      expect(report.metadata).toEqual({ framework: 'backfold' })
      const named = new Map<string, Tensor>([
        ['layers.0.weight', params.layers[0]!.weight],
        ['layers.0.bias', params.layers[0]!.bias],
        ['layers.1.weight', params.layers[1]!.weight],
        ['layers.1.bias', params.layers[1]!.bias],
        ['steps', params.steps],
        ['special', params.special],
        ['empty', params.empty],
        ['emptyInt', params.emptyInt],
      ])
      expect(Object.keys(report.tensors).sort()).toEqual([...named.keys()].sort())
      const codes: Record<DType, string> = { float32: 'F32', float64: 'F64', int32: 'I32' }
      for (const [name, x] of named) {
        const got = report.tensors[name]!
        expect(got.dtype).toBe(codes[x.dtype])
        expect(got.shape).toEqual(x.shape)
        expect(sameValues(got.values.map(fromPython), x.data)).toBe(true)
      }
      if (report.torch !== null) expect(report.torch.tensors_checked).toBe(named.size)
      else console.info('check_safetensors.py: torch is not importable; not checked with torch')
      if (report.reference !== null) {
        expect(report.reference.tensors_checked).toBe(named.size)
        expect(report.reference.resave_identical).toBe(true)
        if (report.torch !== null) expect(report.reference.torch_load_file).toBe(named.size)
      } else
        console.info('check_safetensors.py: the safetensors package is not importable; not checked with it')
    }, 120_000)

    it('the reference writer re-saves random trees written by backfold byte for byte (when installed)', () => {
      const dir = mkdtempSync(join(tmpdir(), 'backfold-st-py-'))
      const paths = fc
        .sample(fc.tuple(treeArb, fc.dictionary(fc.string(), fc.string(), { maxKeys: 1 })), {
          numRuns: 25,
          seed: 5,
        })
        .map(([tree, metadata], i) => {
          const path = join(dir, `random${i}.safetensors`)
          writeFileSync(path, encodeSafetensors(tree, { metadata }))
          return path
        })
      const unicode = join(dir, 'unicode.safetensors')
      writeFileSync(
        unicode,
        encodeSafetensors({
          '\u{1f600}': T.zeros([1]),
          '\uff01': T.zeros([2]),
          'é"\\': T.zeros([1], 'int32'),
        }),
      )
      paths.push(unicode)
      const reports = runPython(['--no-torch', ...paths])
      for (const path of paths) {
        const report = reports[path]!
        if (!report.ok) throw new Error(`${path}: ${report.error}`)
        if (report.reference !== null) expect(report.reference.resave_identical).toBe(true)
      }
    }, 60_000)

    it('every bad file is rejected by the stdlib reader, and by the reference reader unless it is valid safetensors', () => {
      const dir = mkdtempSync(join(tmpdir(), 'backfold-st-py-'))
      const paths = cases.map(([name, bytes], i) => {
        const path = join(dir, `case${i}.safetensors`)
        writeFileSync(path, bytes)
        return [name, path] as const
      })
      const reports = runPython(['--no-torch', ...paths.map(([, path]) => path)])
      for (const [name, path] of paths) {
        const report = reports[path]!
        expect(report.ok, name).toBe(false)
        if (report.ok) continue
        if (report.reference_error !== null && !REFERENCE_ACCEPTS.has(name))
          expect(report.reference_error, `the reference reader accepted: ${name}`).not.toBe('')
      }
    }, 60_000)

    it('the script exits with status 1 on an invalid file', () => {
      const dir = mkdtempSync(join(tmpdir(), 'backfold-st-py-'))
      const path = join(dir, 'bad.safetensors')
      writeFileSync(path, new Uint8Array(3))
      expect(() => execFileSync(python!, [scriptPath, '--no-torch', path], { stdio: 'pipe' })).toThrow()
    })
  },
)
