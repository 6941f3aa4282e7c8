import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, chmodSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import { decodeSafetensors, encodeSafetensors, loadParams } from '../src/checkpoint/index'
import { loadSafetensors, saveSafetensors, writeBytesAtomic } from '../src/node/safetensors'

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
  steps: T.tensor([1, -2, 2147483647], 'int32'),
  empty: T.zeros([0, 3]),
}

const right = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(`expected Right, got Left: ${e.left.message}`)
  return e.right
}
const leftMessage = (e: E.Either<{ message: string; source: string }, unknown>): string => {
  if (E.isRight(e)) throw new Error('expected Left, got Right')
  return `${e.left.source}: ${e.left.message}`
}

/** Builds a file by hand from the specification: an independent writer. */
const handBuilt = (headerJson: string, data: Uint8Array): Uint8Array => {
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
  values.forEach((v, i) =>
    kind === 'f32'
      ? view.setFloat32(i * 4, v, true)
      : kind === 'f64'
        ? view.setFloat64(i * 8, v, true)
        : view.setInt32(i * 4, v, true),
  )
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

describe('safetensors', () => {
  it('round-trips a nested tree of every dtype, with scalars, size-0 tensors and metadata', () => {
    const bytes = encodeSafetensors(params, { metadata: { framework: 'backfold' } })
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0)
    const { tensors, metadata } = right(decodeSafetensors(bytes))
    expect(metadata).toEqual({ framework: 'backfold' })
    expect(Object.keys(tensors).sort()).toEqual(
      ['empty', 'layers.0.bias', 'layers.0.weight', 'layers.1.bias', 'layers.1.weight', 'steps'].sort(),
    )
    const back = right(loadParams(params, tensors))
    expect(T.toArray(back.layers[0]!.weight)).toEqual(T.toArray(params.layers[0]!.weight))
    expect(back.layers[1]!.bias.dtype).toBe('float64')
    expect(back.layers[1]!.bias.shape).toEqual([])
    expect(T.toArray(back.steps)).toEqual([1, -2, 2147483647])
    expect(back.empty.shape).toEqual([0, 3])
  })

  it('loads a file written by hand from the specification (keys out of order, metadata present)', () => {
    const data = concatBytes(le([1, 2, 3, 4, 5, 6], 'f32'), le([-1, 2], 'i32'), le([0.25], 'f64'))
    const header =
      '{"z.bias":{"dtype":"F64","shape":[],"data_offsets":[32,40]},"__metadata__":{"format":"pt"},' +
      '"a.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"m":{"dtype":"I32","shape":[2],"data_offsets":[24,32]}}'
    const { tensors, metadata } = right(decodeSafetensors(handBuilt(header, data)))
    expect(metadata).toEqual({ format: 'pt' })
    expect(T.toNested(tensors['a.weight']!)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ])
    expect(T.toArray(tensors['m']!)).toEqual([-1, 2])
    expect(T.item(tensors['z.bias']!)).toBe(0.25)
  })

  const valid = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
  const cases: ReadonlyArray<[string, Uint8Array, RegExp]> = [
    ['truncated before the header length', new Uint8Array(5), /truncated/],
    ['header length past the end', handBuilt(valid, le([1, 2], 'f32')).slice(0, 20), /past the end/],
    [
      'absurd header length',
      (() => {
        const b = new Uint8Array(16)
        new DataView(b.buffer).setBigUint64(0, 2n ** 60n, true)
        return b
      })(),
      /limit/,
    ],
    ['invalid JSON', handBuilt('{"w": [', new Uint8Array(0)), /not valid JSON/],
    ['header not an object', handBuilt('[1,2]', new Uint8Array(0)), /must be a JSON object/],
    ['entry missing fields', handBuilt('{"w":{"dtype":"F32"}}', new Uint8Array(0)), /tensor 'w': expected/],
    [
      'unsupported dtype',
      handBuilt('{"w":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}', new Uint8Array(2)),
      /BF16 is not supported/,
    ],
    [
      'unknown dtype',
      handBuilt('{"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,2]}}', new Uint8Array(2)),
      /unknown dtype/,
    ],
    [
      'negative dimension',
      handBuilt('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', new Uint8Array(4)),
      /non-negative integers/,
    ],
    [
      'shape disagrees with byte count',
      handBuilt('{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Uint8Array(8)),
      /needs 12 bytes but data_offsets span 8/,
    ],
    [
      'offsets out of range',
      handBuilt('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', new Uint8Array(4)),
      /run past the data section/,
    ],
    [
      'overlapping offsets',
      handBuilt(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        new Uint8Array(8),
      ),
      /overlap/,
    ],
    [
      'a hole in the data',
      handBuilt('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8)),
      /hole/,
    ],
    [
      'duplicate names',
      handBuilt(
        '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        new Uint8Array(8),
      ),
      /duplicate tensor names.*w/,
    ],
    [
      'metadata not strings',
      handBuilt('{"__metadata__":{"epochs":3}}', new Uint8Array(0)),
      /__metadata__.epochs must be a string/,
    ],
    ['invalid UTF-8', handBuilt('{}', new Uint8Array(0)).map((b, i) => (i === 9 ? 0xff : b)), /UTF-8/],
  ]
  it.each(cases)('rejects %s with a message naming the source', (_name, bytes, pattern) => {
    const message = leftMessage(decodeSafetensors(bytes, { source: 'bad.safetensors' }))
    expect(message).toMatch(/^bad\.safetensors: /)
    expect(message).toMatch(pattern)
  })

  it('never throws on random bytes or on mutations of a valid file', () => {
    const good = encodeSafetensors(params)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const result = decodeSafetensors(bytes)
        expect(E.isLeft(result) || E.isRight(result)).toBe(true)
      }),
      { numRuns: 300 },
    )
    fc.assert(
      fc.property(
        fc.nat(good.length - 1),
        fc.integer({ min: 0, max: 255 }),
        fc.nat(good.length),
        (at, value, cut) => {
          const mutated = good.slice(0, Math.max(cut, 1))
          if (at < mutated.length) mutated[at] = value
          const result = decodeSafetensors(mutated)
          if (E.isRight(result))
            for (const x of Object.values(result.right.tensors)) expect(x.data.length).toBe(T.sizeOf(x.shape))
        },
      ),
      { numRuns: 500 },
    )
  })

  it('loadParams reports every mismatch at once, naming each parameter', () => {
    const { tensors } = right(decodeSafetensors(encodeSafetensors(params)))
    const wrong = { ...tensors, extra: T.zeros([1]), 'layers.0.bias': T.zeros([4]), steps: T.zeros([3]) }
    delete (wrong as Record<string, unknown>)['empty']
    const message = leftMessage(loadParams(params, wrong, { source: 'ckpt.safetensors' }))
    expect(message).toMatch(/4 mismatch/)
    expect(message).toMatch(/missing 'empty'/)
    expect(message).toMatch(/'layers.0.bias' has shape \[4\], the model expects \[3\]/)
    expect(message).toMatch(/'steps' has dtype float32, the model expects int32/)
    expect(message).toMatch(/unexpected 'extra'/)
  })

  it('saves atomically to disk and loads back; a failed write leaves the old file intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backfold-st-'))
    const path = join(dir, 'params.safetensors')
    expect(E.isRight(await saveSafetensors(path, params))).toBe(true)
    const before = readFileSync(path)
    const loaded = right(await loadSafetensors(path))
    expect(T.toArray(loaded.tensors['layers.0.bias']!)).toEqual([0.5, -0.5, 2])
    // A read-only directory makes the temporary file impossible: the save fails, the old file stays.
    if (process.getuid?.() !== 0) {
      chmodSync(dir, 0o500)
      expect(E.isLeft(await saveSafetensors(path, { other: T.zeros([2]) }))).toBe(true)
      chmodSync(dir, 0o700)
      expect(readFileSync(path).equals(before)).toBe(true)
    }
    // A crash between writing the data and the rename: the old file stays, no temporary is left behind.
    await expect(
      writeBytesAtomic(path, encodeSafetensors({ other: T.zeros([2]) }), {
        beforeRename: () => Promise.reject(new Error('simulated crash')),
      }),
    ).rejects.toThrow('simulated crash')
    expect(readFileSync(path).equals(before)).toBe(true)
    expect(readdirSync(dir)).toEqual(['params.safetensors'])
    expect(leftMessage(await loadSafetensors(join(dir, 'missing.safetensors')))).toMatch(
      /missing\.safetensors: could not read/,
    )
    const corrupt = join(dir, 'corrupt.safetensors')
    writeFileSync(corrupt, before.subarray(0, 30))
    expect(leftMessage(await loadSafetensors(corrupt))).toMatch(/corrupt\.safetensors: /)
  })

  const python = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p))
  it.skipIf(python === undefined)(
    'an independent reader written from the specification (Python, stdlib) reads what backfold writes',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'backfold-st-'))
      const path = join(dir, 'params.safetensors')
      writeFileSync(path, encodeSafetensors(params, { metadata: { framework: 'backfold' } }))
      const out = JSON.parse(
        execFileSync(python!, [join(__dirname, '../../../scripts/check_safetensors.py'), path], {
          encoding: 'utf8',
        }),
      ) as Record<string, { dtype: string; shape: number[]; sum: number }>
      expect(out['__metadata__']).toEqual({ framework: 'backfold' })
      expect(out['layers.0.weight']).toMatchObject({ dtype: 'F32', shape: [3, 2] })
      expect(out['layers.0.weight']!.sum).toBeCloseTo(6.75 + 1e-7, 6)
      expect(out['steps']).toMatchObject({ dtype: 'I32', sum: 2147483646 })
      expect(out['layers.1.bias']).toMatchObject({ dtype: 'F64', shape: [], sum: 7 })
    },
  )
})
