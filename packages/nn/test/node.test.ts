import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import * as E from 'fp-ts/lib/Either.js'
import { loadCsv, loadIdx, readFileBytes, writeFileAtomic, formatFileError } from '../src/node/files'
import { terminalReporter } from '../src/node/progress'
import { writeHistoryChart } from '../src/node/chart'
import { loadSafetensors, saveSafetensors } from '../src/node/safetensors'
import * as T from '@backfold/tensor'
import { bundleWriter, startWriter } from './fixtures/writer-bundle'
import { formatDataError } from '../src/data/index'
import type { DataError } from '../src/data/index'
import type { EpochRecord, FitStartInfo } from '../src/train/index'

let dir = ''
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'backfold-node-'))
})
afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

const leftMessage = <A>(result: E.Either<DataError, A>): string => {
  if (E.isRight(result)) throw new Error('expected a Left')
  return formatDataError(result.left)
}

/** An unsigned-byte IDX file written from the specification (big-endian dims). */
const idxU8 = (shape: number[], values: number[]): Uint8Array => {
  const header = new Uint8Array(4 + 4 * shape.length)
  const view = new DataView(header.buffer)
  header[2] = 0x08
  header[3] = shape.length
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false))
  return Uint8Array.from([...header, ...values])
}

describe('loadCsv', () => {
  const text = '0,1,2,3\n4,5,6,7\n'

  it('reads plain and gzip-compressed files (detected by the magic bytes, not the name)', async () => {
    writeFileSync(join(dir, 'plain.csv'), text)
    writeFileSync(join(dir, 'packed.csv'), gzipSync(Buffer.from(text)))
    for (const name of ['plain.csv', 'packed.csv']) {
      const loaded = await loadCsv(join(dir, name), { labelColumn: 'last' })
      if (E.isLeft(loaded)) throw new Error(formatDataError(loaded.left))
      expect(Array.from(loaded.right.x.data)).toEqual([0, 1, 2, 4, 5, 6])
      expect(Array.from(loaded.right.y.data)).toEqual([3, 7])
    }
    const features = await loadCsv(join(dir, 'plain.csv'), { labelColumn: 'none' })
    expect(E.isRight(features) && features.right.x.shape).toEqual([2, 4])
  })

  it('names the file in parse errors', async () => {
    const file = join(dir, 'bad.csv')
    writeFileSync(file, '1,2,3\n4,5\n')
    expect(leftMessage(await loadCsv(file))).toBe(
      `${file}: line 2 has 2 fields; expected 3 like line 1 (a truncated row?)`,
    )
  })

  it('reports a missing file, corrupt or truncated gzip and invalid UTF-8', async () => {
    const missing = join(dir, 'nope.csv')
    expect(leftMessage(await loadCsv(missing))).toMatch(
      new RegExp(`^${missing}: cannot read the file \\(ENOENT`),
    )
    const corrupt = join(dir, 'corrupt.csv.gz')
    writeFileSync(corrupt, Uint8Array.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8]))
    expect(leftMessage(await loadCsv(corrupt))).toContain('cannot be inflated')
    const packed = gzipSync(Buffer.from(text.repeat(50)))
    const truncated = join(dir, 'truncated.csv.gz')
    writeFileSync(truncated, packed.subarray(0, packed.length - 12))
    expect(leftMessage(await loadCsv(truncated))).toContain(`${truncated}: starts like gzip`)
    const latin = join(dir, 'latin.csv')
    writeFileSync(latin, Uint8Array.from([0x31, 0x2c, 0xe9, 0x0a]))
    expect(leftMessage(await loadCsv(latin))).toContain('not valid UTF-8')
  })

  it('refuses gzip data that inflates past maxBytes', async () => {
    const file = join(dir, 'bomb.gz')
    writeFileSync(file, gzipSync(Buffer.alloc(100_000)))
    expect(leftMessage(await readFileBytes(file, { maxBytes: 1000 }))).toContain('more than 1000 bytes')
    const ok = await readFileBytes(file)
    expect(E.isRight(ok) && ok.right.length).toBe(100_000)
  })
})

describe('loadIdx', () => {
  it('reads plain and gzip-compressed IDX files', async () => {
    const bytes = idxU8([2, 2], [1, 2, 250, 4])
    writeFileSync(join(dir, 'a.idx'), bytes)
    writeFileSync(join(dir, 'a.idx.gz'), gzipSync(bytes))
    for (const name of ['a.idx', 'a.idx.gz']) {
      const loaded = await loadIdx(join(dir, name))
      if (E.isLeft(loaded)) throw new Error(formatDataError(loaded.left))
      expect(loaded.right.shape).toEqual([2, 2])
      expect(Array.from(loaded.right.data)).toEqual([1, 2, 250, 4])
    }
  })

  it('names the file when the content is bad', async () => {
    const file = join(dir, 'labels.idx')
    writeFileSync(file, idxU8([5], [1, 2, 3]))
    expect(leftMessage(await loadIdx(file))).toBe(
      `${file}: declares shape [5] of unsigned byte (5 data bytes) but holds 3 data bytes (the file is truncated)`,
    )
  })
})

describe('writeFileAtomic', () => {
  const leftovers = (): string[] => readdirSync(dir).filter((f) => f.endsWith('.tmp'))

  it('writes and replaces a file, leaving no temporary file behind', async () => {
    const file = join(dir, 'out.bin')
    expect(E.isRight(await writeFileAtomic(file, Uint8Array.from([1, 2, 3])))).toBe(true)
    expect(Array.from(readFileSync(file))).toEqual([1, 2, 3])
    expect(E.isRight(await writeFileAtomic(file, 'hello'))).toBe(true)
    expect(readFileSync(file, 'utf8')).toBe('hello')
    expect(leftovers()).toEqual([])
  })

  it('returns a Left naming the path when the directory is missing', async () => {
    const file = join(dir, 'missing', 'out.json')
    const written = await writeFileAtomic(file, '{}')
    if (E.isRight(written)) throw new Error('expected a Left')
    expect(formatFileError(written.left)).toMatch(new RegExp(`^${file}: cannot write the file \\(ENOENT`))
  })

  it('leaves the old content intact when the final rename fails', async () => {
    // A non-empty directory cannot be replaced by a file: the write succeeds, the rename fails.
    const target = join(dir, 'taken')
    mkdirSync(target)
    writeFileSync(join(target, 'keep.txt'), 'old')
    const written = await writeFileAtomic(target, 'new')
    expect(E.isLeft(written)).toBe(true)
    expect(readFileSync(join(target, 'keep.txt'), 'utf8')).toBe('old')
    expect(leftovers()).toEqual([])
  })
})

describe('saveSafetensors after a save was killed', () => {
  it('removes the temporary a kill -9 left of the same file, and nothing a live or other save owns', async () => {
    const file = join(dir, 'params.safetensors')
    const bundle = await bundleWriter(dir)
    // A real writer killed mid-write: wait until its temporary exists, then SIGKILL it.
    let killed: string | undefined
    for (let attempt = 0; attempt < 5 && killed === undefined; attempt++) {
      const writer = startWriter(bundle, ['safetensors', file])
      const pid = writer.child.pid!
      const pattern = new RegExp(`^\\.params\\.safetensors\\.${pid}\\.[0-9a-f]{12}\\.tmp$`)
      const deadline = Date.now() + 20_000
      while (Date.now() < deadline && !readdirSync(dir).some((f) => pattern.test(f)))
        await new Promise((resolve) => setTimeout(resolve, 1))
      writer.child.kill('SIGKILL')
      await writer.exited
      killed = readdirSync(dir).find((f) => pattern.test(f))
    }
    if (killed === undefined) throw new Error('could not kill a writer mid-write in 5 attempts')

    const dead = Number(
      spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
        .stdout,
    )
    const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
    try {
      const keep = [
        `.params.safetensors.${sleeper.pid!}.aaaaaaaaaaaa.tmp`, // a live process is saving this file
        `.state.safetensors.${dead}.bbbbbbbbbbbb.tmp`, // another file's
        `.params.safetensors.${dead}.cccccccccccc.tmp`, // dead, but written to within the minute
        `.params.safetensors.${process.pid}.dddddddddddd.tmp`, // this process's own, maybe in flight
      ]
      for (const name of keep) writeFileSync(join(dir, name), 'partial')
      // Old enough: a minute past, as after a real crash some time ago.
      const past = new Date(Date.now() - 120_000)
      for (const name of [killed, keep[0]!, keep[1]!, keep[3]!]) utimesSync(join(dir, name), past, past)

      expect(E.isRight(await saveSafetensors(file, { weight: T.ones([3]) }))).toBe(true)
      expect(existsSync(join(dir, killed))).toBe(false)
      for (const name of keep) expect(existsSync(join(dir, name)), name).toBe(true)
      const loaded = await loadSafetensors(file)
      expect(E.isRight(loaded) && [...loaded.right.tensors['weight']!.shape]).toEqual([3])
    } finally {
      sleeper.kill('SIGKILL')
    }
  }, 60_000)
})

describe('terminalReporter', () => {
  const info: FitStartInfo = {
    initialEpoch: 0,
    epochs: 2,
    samples: 100,
    batchSize: 40,
    batchesPerEpoch: 3,
    validationSamples: 20,
  }
  const record = (epoch: number): EpochRecord => ({
    epoch,
    loss: 0.5,
    accuracy: 0.75,
    valLoss: 0.6,
    valAccuracy: 0.7,
    seconds: 0.25,
    samples: 100,
  })

  const run = (isTTY: boolean): string => {
    let out = ''
    const reporter = terminalReporter({
      stream: { write: (s: string) => (out += s), isTTY },
      refreshSeconds: 0,
      validationName: 'test',
    })
    reporter.start?.(info)
    for (let epoch = 0; epoch < 2; epoch++) {
      for (let batch = 0; batch < 3; batch++)
        reporter.batch?.({
          epoch,
          batch,
          batchesPerEpoch: 3,
          loss: 0.5,
          accuracy: 0.75,
          samples: 40 * (batch + 1),
          seconds: 0.1,
        })
      reporter.epoch?.(record(epoch), info)
    }
    reporter.end?.([record(0), record(1)])
    return out
  }

  it('prints one line per epoch when not a terminal', () => {
    expect(run(false).split('\n')).toEqual([
      'training on 100 examples (3 batches of 40), evaluating on 20 test examples',
      'epoch 1/2  loss 0.5000  acc 0.7500  test_loss 0.6000  test_acc 0.7000  0.25s  400 samples/s',
      'epoch 2/2  loss 0.5000  acc 0.7500  test_loss 0.6000  test_acc 0.7000  0.25s  400 samples/s',
      '',
    ])
  })

  it('redraws a live bar in place on a terminal and keeps the epoch lines', () => {
    const out = run(true)
    expect(out).toContain(
      '\r\x1b[Kepoch 1/2  [=======>................]  1/3  loss 0.5000  acc 0.7500  400 samples/s',
    )
    expect(out).toContain('\r\x1b[Kepoch 2/2  [========================]  3/3')
    const lines = out.split('\n')
    expect(lines.length).toBe(4)
    expect(
      lines[1]!.endsWith(
        'epoch 1/2  loss 0.5000  acc 0.7500  test_loss 0.6000  test_acc 0.7000  0.25s  400 samples/s',
      ),
    ).toBe(true)
  })
})

describe('writeHistoryChart', () => {
  it('writes a standalone SVG file', async () => {
    const file = join(dir, 'chart.svg')
    const history: EpochRecord[] = [
      { epoch: 0, loss: 1, accuracy: 0.5, seconds: 1, samples: 10 },
      { epoch: 1, loss: 0.5, accuracy: 0.8, seconds: 1, samples: 10 },
    ]
    expect(E.isRight(await writeHistoryChart(file, history, { title: 'run' }))).toBe(true)
    const svg = readFileSync(file, 'utf8')
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg).toContain('training accuracy')
  })
})
