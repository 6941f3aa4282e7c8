import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import * as E from 'fp-ts/lib/Either.js'
import { formatFileError, loadCsv, loadIdx, readFileBytes, writeFileAtomic } from '../src/node/files'
import { formatDataError } from '../src/data/index'
import type { DataError } from '../src/data/index'

let dir = ''
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'backfold-files-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const leftMessage = (result: E.Either<DataError, unknown>): string => {
  if (E.isRight(result)) throw new Error('expected a Left, got a Right')
  return formatDataError(result.left)
}

/** Options as a JavaScript caller might pass them, unchecked by the compiler. */
const untyped = <A>(opts: object): A => opts as A

describe('file errors', () => {
  it('give the operating system reason once: the code, the description, no repeated path', async () => {
    const missing = join(dir, 'nope.csv')
    expect(leftMessage(await loadCsv(missing))).toBe(
      `${missing}: cannot read the file (ENOENT: no such file or directory)`,
    )
    expect(leftMessage(await loadIdx(missing))).toBe(
      `${missing}: cannot read the file (ENOENT: no such file or directory)`,
    )
    mkdirSync(join(dir, 'folder'))
    expect(leftMessage(await readFileBytes(join(dir, 'folder')))).toBe(
      `${join(dir, 'folder')}: cannot read the file (EISDIR: illegal operation on a directory)`,
    )
    const unwritable = join(dir, 'missing', 'out.json')
    const written = await writeFileAtomic(unwritable, '{}')
    if (E.isRight(written)) throw new Error('expected a Left')
    expect(formatFileError(written.left)).toBe(
      `${unwritable}: cannot write the file (ENOENT: no such file or directory)`,
    )
  })

  it('name corrupt gzip data by zlib code and message', async () => {
    const corrupt = join(dir, 'corrupt.gz')
    writeFileSync(corrupt, Uint8Array.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8]))
    expect(leftMessage(await readFileBytes(corrupt))).toMatch(
      /: starts like gzip \(1f 8b\) but cannot be inflated \(Z_DATA_ERROR: [a-z ]+\); the file may be truncated or corrupt$/,
    )
  })
})

describe('loader options', () => {
  it('are checked at run time before the file is read: unknown keys and bad values are a Left', async () => {
    const missing = join(dir, 'never-read.csv')
    expect(leftMessage(await loadCsv(missing, untyped({ labelDType: 'float16' })))).toBe(
      `${missing}: loadCsv: option 'labelDType' must be one of 'int32', 'float32', 'float64', got 'float16'`,
    )
    expect(leftMessage(await loadCsv(missing, untyped({ labelDtype: 'float32' })))).toBe(
      `${missing}: loadCsv: unknown option 'labelDtype' in options; accepted options: labelColumn, hasHeader, delimiter, dtype, labelDType, maxBytes`,
    )
    // The file path is the source: loadCsv takes no `source`.
    expect(leftMessage(await loadCsv(missing, untyped({ source: 'x' })))).toContain("unknown option 'source'")
    expect(leftMessage(await loadIdx(missing, untyped({ maxBytes: -1 })))).toContain(
      `${missing}: loadIdx: option 'maxBytes' must be a positive integer of bytes`,
    )
    expect(leftMessage(await loadIdx(missing, untyped({ maxbytes: 10 })))).toBe(
      `${missing}: loadIdx: unknown option 'maxbytes' in options; accepted options: maxBytes`,
    )
    expect(leftMessage(await readFileBytes(missing, untyped({ maxBytes: 2 ** 60 })))).toContain(
      "readFileBytes: option 'maxBytes' must be a positive integer of bytes, at most",
    )
  })

  it('pass maxBytes to the reader and the rest to the parser', async () => {
    const file = join(dir, 'data.csv.gz')
    writeFileSync(file, gzipSync(Buffer.from('1;2;0\n3;4;1\n'.repeat(100))))
    expect(leftMessage(await loadCsv(file, { delimiter: ';', maxBytes: 100 }))).toContain(
      'more than 100 bytes',
    )
    const loaded = await loadCsv(file, {
      delimiter: ';',
      labelColumn: 0,
      labelDType: 'float64',
      dtype: 'float64',
    })
    if (E.isLeft(loaded)) throw new Error(formatDataError(loaded.left))
    expect(loaded.right.x.shape).toEqual([200, 2])
    expect(loaded.right.y.dtype).toBe('float64')
    expect(Array.from(loaded.right.y.data.subarray(0, 2))).toEqual([1, 3])
  })

  it('name the line of a file that is not UTF-8', async () => {
    const file = join(dir, 'latin.csv')
    writeFileSync(file, Uint8Array.from([...Buffer.from('1,2\n3,4\n'), 0x35, 0xe9, 0x2c, 0x36, 0x0a]))
    expect(leftMessage(await loadCsv(file))).toBe(
      `${file}: line 3 is not valid UTF-8 text; expected a numeric CSV file`,
    )
  })
})
