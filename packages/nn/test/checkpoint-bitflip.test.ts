import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import * as L from '../src/layers/index'
import { momentum } from '../src/optim/index'
import type { Layer } from '../src/layer'
import { encodeModel } from '../src/config/index'
import {
  CHECKPOINT_FILES,
  CHECKPOINT_MANIFEST,
  decodeCheckpoint,
  encodeCheckpoint,
  sha256Hex,
  type CheckpointContents,
  type CheckpointFileName,
} from '../src/checkpoint/directory'
import type { CheckpointError } from '../src/checkpoint/safetensors'

// A checkpoint as small as a real one gets (every file present, a tensor in each safetensors
// file), so that every bit of every file can be flipped in a few seconds.
const model = L.sequential(L.dense(1), L.batchNorm())
const inShape = [1]
const optimizer = momentum(0.1)
const init = T.random.key(0)
const built = E.getOrElseW(() => {
  throw new Error('init failed')
})(model.init(init, inShape))
const configOf = encodeModel(model as unknown as Layer)
if (E.isLeft(configOf)) throw new Error('no config')
const contents: CheckpointContents = {
  config: configOf.right,
  inShape,
  params: built.params,
  state: built.state,
  optState: optimizer.init(built.params),
  step: 7,
  epoch: 1,
  key: T.random.key(3),
  history: [{ epoch: 0, loss: 0.5, seconds: 0.1, samples: 4 }],
}
const encoded = encodeCheckpoint(contents)
if (E.isLeft(encoded)) throw new Error(encoded.left.message)
const files = new Map(encoded.right)

const decodeWith = (
  replaced: CheckpointFileName,
  bytes: Uint8Array,
  allowUnverified = false,
): E.Either<CheckpointError, unknown> =>
  decodeCheckpoint((file) => E.right(file === replaced ? bytes : files.get(file)!), model, {
    optimizer,
    allowUnverified,
  })

describe('sha256Hex', () => {
  it('agrees with node:crypto on every length across the padding boundaries, and on FIPS 180-2 vectors', () => {
    for (let n = 0; n <= 200; n++) {
      const bytes = randomBytes(n)
      expect(sha256Hex(bytes), `length ${n}`).toBe(createHash('sha256').update(bytes).digest('hex'))
    }
    const ascii = (s: string): Uint8Array => new TextEncoder().encode(s)
    expect(sha256Hex(ascii('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(sha256Hex(ascii('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    )
    // A view into a larger buffer hashes only its own bytes.
    const big = randomBytes(300)
    const view = big.subarray(17, 17 + 130)
    expect(sha256Hex(view)).toBe(createHash('sha256').update(view).digest('hex'))
  })
})

describe('the manifest with another SHA-256', () => {
  it('files sealed with sha256Hex verify with node:crypto, and the other way round', () => {
    const nodeHash = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
    const read = (source: ReadonlyMap<CheckpointFileName, Uint8Array>) => (file: CheckpointFileName) =>
      E.right(source.get(file)!)
    expect(E.isRight(decodeCheckpoint(read(files), model, { optimizer, sha256: nodeHash }))).toBe(true)
    const sealedByNode = encodeCheckpoint(contents, { sha256: nodeHash })
    if (E.isLeft(sealedByNode)) throw new Error(sealedByNode.left.message)
    expect(new Map(sealedByNode.right)).toEqual(files)
    // A hash that disagrees is caught: the manifest's own line fails first.
    const wrong = decodeCheckpoint(read(files), model, { sha256: () => '0'.repeat(64) })
    expect(E.isLeft(wrong) && wrong.left.message).toMatch(/own checksum does not match/)
  })
})

describe('every single-bit flip of every file is detected', () => {
  it('the untouched checkpoint loads', () => {
    expect(E.isRight(decodeCheckpoint((file) => E.right(files.get(file)!), model, { optimizer }))).toBe(true)
    expect([...files.keys()]).toEqual([...CHECKPOINT_FILES])
  })

  it.each([...CHECKPOINT_FILES])('%s: a Left naming the file for each of its bits', (file) => {
    const original = files.get(file)!
    const silent: string[] = []
    const misnamed: string[] = []
    const flipped = new Uint8Array(original)
    for (let byte = 0; byte < original.length; byte++)
      for (let bit = 0; bit < 8; bit++) {
        flipped[byte] = original[byte]! ^ (1 << bit)
        const result = decodeWith(file, flipped)
        if (E.isRight(result)) silent.push(`byte ${byte} bit ${bit}`)
        // The damaged file is the one named (a damaged manifest names the manifest).
        else if (result.left.source !== file) misnamed.push(`byte ${byte} bit ${bit}: ${result.left.source}`)
        flipped[byte] = original[byte]!
      }
    expect(silent).toEqual([])
    expect(misnamed).toEqual([])
  })

  it('without the manifest (the 0.1 layout, loaded unverified) flips do load silently: the test above can fail', () => {
    // The same files as format 1: meta.json and optimizer.json say version 1, no manifest.
    const v1 = (bytes: Uint8Array): Uint8Array =>
      new TextEncoder().encode(
        new TextDecoder().decode(bytes).replace('"formatVersion": 2', '"formatVersion": 1'),
      )
    const legacy = new Map<CheckpointFileName, Uint8Array>([
      ...[...files].filter(([file]) => file !== CHECKPOINT_MANIFEST),
      ['meta.json', v1(files.get('meta.json')!)],
      ['optimizer.json', v1(files.get('optimizer.json')!)],
    ])
    const read = (replaced: CheckpointFileName, bytes: Uint8Array) => (file: CheckpointFileName) => {
      const found = file === replaced ? bytes : legacy.get(file)
      return found === undefined
        ? E.left({ kind: 'CheckpointError' as const, source: file, message: 'missing' })
        : E.right(found)
    }
    expect(
      E.isRight(
        decodeCheckpoint(read('meta.json', legacy.get('meta.json')!), model, { allowUnverified: true }),
      ),
    ).toBe(true)
    const params = legacy.get('params.safetensors')!
    let silent = 0
    for (let byte = params.length - 8; byte < params.length; byte++) {
      const flipped = new Uint8Array(params)
      flipped[byte] = params[byte]! ^ 1
      if (E.isRight(decodeCheckpoint(read('params.safetensors', flipped), model, { allowUnverified: true })))
        silent++
    }
    expect(silent).toBe(8)
  })
})

describe('the manifest', () => {
  const text = new TextDecoder().decode(files.get(CHECKPOINT_MANIFEST)!)

  it('is sha256sum format between a header line and a trailer with its own checksum', () => {
    const lines = text.split('\n')
    expect(lines[0]).toBe('# backfold checkpoint manifest, format 2')
    for (const [i, file] of CHECKPOINT_FILES.slice(0, -1).entries())
      expect(lines[i + 1]).toBe(`${createHash('sha256').update(files.get(file)!).digest('hex')}  ${file}`)
    const body = lines.slice(0, 7).join('\n') + '\n'
    expect(lines[7]).toBe(`# sha256 of the lines above: ${createHash('sha256').update(body).digest('hex')}`)
    expect(lines[8]).toBe('')
  })

  it.each<[string, (s: string) => string, RegExp]>([
    [
      'a digest in upper case, resealed',
      (s) => reseal(s.replace(/^[0-9a-f]{64}/m, (hex) => hex.toUpperCase())),
      /^is damaged \(line 2 should be '<sha256> {2}config\.json'/,
    ],
    ['one character changed', (s) => s.replace('config', 'Config'), /own checksum does not match/],
    [
      'a file line dropped and resealed',
      (s) => reseal(s.replace(/^.*config\.json\n/m, '')),
      /expected 6 file lines, found 5/,
    ],
    [
      'files reordered and resealed',
      (s) => reseal(swapLines(s, 1, 2)),
      /line 2 should be '<sha256> {2}config\.json'/,
    ],
    [
      'a newer format, resealed',
      (s) => reseal(s.replace('format 2', 'format 3')),
      /format 3 is not supported/,
    ],
    ['no trailer', (s) => s.slice(0, s.indexOf('# sha256')), /no checksum line/],
  ])('%s is a Left', (_what, edit, pattern) => {
    const result = decodeWith(CHECKPOINT_MANIFEST, new TextEncoder().encode(edit(text)))
    expect(E.isLeft(result) && result.left.message).toMatch(pattern)
  })
})

/** A manifest text with its trailer recomputed for its (edited) lines. */
const reseal = (manifest: string): string => {
  const body = manifest.slice(0, manifest.indexOf('# sha256 of the lines above: '))
  return `${body}# sha256 of the lines above: ${createHash('sha256').update(body).digest('hex')}\n`
}
const swapLines = (s: string, i: number, j: number): string => {
  const lines = s.split('\n')
  ;[lines[i], lines[j]] = [lines[j]!, lines[i]!]
  return lines.join('\n')
}
