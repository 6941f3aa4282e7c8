import * as buffer from 'node:buffer'
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import * as path from 'node:path'
import { promisify } from 'node:util'
import * as zlib from 'node:zlib'
import * as E from 'fp-ts/lib/Either.js'
import type { Tensor } from '@backfold/tensor'
import { CSV_OPTIONS, parseCsvBytes } from '../data/csv'
import type { CsvDataset, CsvFeatures, CsvOptions } from '../data/csv'
import { dataError } from '../data/error'
import type { DataError } from '../data/error'
import { parseIdx } from '../data/idx'
import { checkDataOptions } from '../data/options'
import { optionSchema } from '@backfold/ops'
import type { OptionSchema, OptionSpec } from '@backfold/ops'

/**
 * Why a file could not be written: the path and the operating system's reason.
 * @since 0.1.0
 */
export interface FileError {
  readonly kind: 'FileError'
  readonly path: string
  readonly message: string
}

/** Formats a `FileError` for people: `path: message`. @since 0.1.0 */
export const formatFileError = (e: FileError): string => `${e.path}: ${e.message}`

/** Options of the loaders. @since 0.1.0 */
export interface ReadOptions {
  /**
   * Refuse to inflate gzip data beyond this many bytes (default 1 GiB), so a corrupt or hostile
   * file cannot exhaust memory.
   */
  readonly maxBytes?: number
}

const gunzip = promisify(zlib.gunzip)
const DEFAULT_MAX_BYTES = 2 ** 30

const MAX_BYTES: OptionSpec = {
  expected: `a positive integer of bytes, at most ${buffer.constants.MAX_LENGTH}`,
  check: (value) =>
    Number.isSafeInteger(value) && Number(value) > 0 && Number(value) <= buffer.constants.MAX_LENGTH,
}
const READ_OPTIONS: OptionSchema = optionSchema({ maxBytes: MAX_BYTES })

/**
 * The operating system's reason for a failed file operation, once: Node's messages already start
 * with the code and end with the call and the path (`ENOENT: no such file or directory, open
 * 'x.csv'`), and the path is what the error is reported under, so neither is repeated.
 */
const reason = (error: unknown): string => {
  if (typeof error !== 'object' || error === null) return String(error)
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined
  let message = 'message' in error && typeof error.message === 'string' ? error.message : String(error)
  if (code === undefined) return message
  if (message.startsWith(`${code}: `)) message = message.slice(code.length + 2)
  const syscall = 'syscall' in error && typeof error.syscall === 'string' ? error.syscall : undefined
  if (syscall !== undefined) {
    const call = message.lastIndexOf(`, ${syscall}`)
    if (call > 0) message = message.slice(0, call)
  }
  return `${code}: ${message}`
}

/**
 * The bytes of a file, gzip-inflated when the file starts with the gzip magic bytes `1f 8b`
 * (whatever its name). Read failures and corrupt gzip data are `Left`s naming the file.
 * @example
 * const bytes = await readFileBytes('data/train-images-idx3-ubyte.gz') // Right(Uint8Array) or Left(DataError)
 * @since 0.1.0
 */
export const readFileBytes = async (
  file: string,
  opts: ReadOptions = {},
): Promise<E.Either<DataError, Uint8Array>> => {
  const checked = checkDataOptions(file, 'readFileBytes', opts, READ_OPTIONS)
  if (E.isLeft(checked)) return checked
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES
  let raw: Buffer
  try {
    raw = await fs.readFile(file)
  } catch (error) {
    return E.left(dataError(file, `cannot read the file (${reason(error)})`))
  }
  if (raw.length < 2 || raw[0] !== 0x1f || raw[1] !== 0x8b)
    return E.right(new Uint8Array(raw.buffer, raw.byteOffset, raw.length))
  try {
    const inflated = await gunzip(raw, { maxOutputLength: maxBytes })
    return E.right(new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.length))
  } catch (error) {
    const tooLarge =
      typeof error === 'object' && error !== null && 'code' in error && error.code === 'ERR_BUFFER_TOO_LARGE'
    return E.left(
      dataError(
        file,
        tooLarge
          ? `gzip data inflates to more than ${maxBytes} bytes (maxBytes); refusing to load it`
          : `starts like gzip (1f 8b) but cannot be inflated (${reason(error)}); the file may be truncated or corrupt`,
      ),
    )
  }
}

const LOAD_CSV_OPTIONS: OptionSchema = optionSchema({ ...CSV_OPTIONS, maxBytes: MAX_BYTES })

/**
 * Reads a numeric CSV file (gzip-compressed or not) with `parseCsvBytes`; errors name the file, and
 * for bad content the line and column. The text must be UTF-8; it is decoded a chunk at a time, so
 * files larger than the longest JavaScript string (~512 MiB) load too. Options are checked at run
 * time: an unknown key or a bad value is a `Left` listing what is accepted.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import { loadCsv } from '@backfold/nn/node'
 * import { formatDataError } from '@backfold/nn'
 * const digits = await loadCsv('data/digits/digits.csv.gz', { labelColumn: 'last' })
 * if (E.isLeft(digits)) throw new Error(formatDataError(digits.left))
 * const { x, y } = digits.right // x: float32 [1797, 64], y: int32 [1797]
 * @since 0.1.0
 */
export async function loadCsv(
  file: string,
  opts: Omit<CsvOptions, 'source'> & ReadOptions & { readonly labelColumn: 'none' },
): Promise<E.Either<DataError, CsvFeatures>>
export async function loadCsv(
  file: string,
  opts?: Omit<CsvOptions, 'source'> & ReadOptions,
): Promise<E.Either<DataError, CsvDataset>>
export async function loadCsv(
  file: string,
  opts: Omit<CsvOptions, 'source'> & ReadOptions = {},
): Promise<E.Either<DataError, CsvFeatures | CsvDataset>> {
  const checked = checkDataOptions(file, 'loadCsv', opts, LOAD_CSV_OPTIONS)
  if (E.isLeft(checked)) return checked
  const { maxBytes, ...csv } = opts
  const bytes = await readFileBytes(file, maxBytes === undefined ? {} : { maxBytes })
  if (E.isLeft(bytes)) return bytes
  return parseCsvBytes(bytes.right, { ...csv, source: file })
}

/**
 * Reads an IDX file (MNIST's format; gzip-compressed or not) with `parseIdx`; errors name the file.
 * @example
 * const images = await loadIdx('train-images-idx3-ubyte.gz') // Right(int32 [60000, 28, 28])
 * @since 0.1.0
 */
export const loadIdx = async (file: string, opts: ReadOptions = {}): Promise<E.Either<DataError, Tensor>> => {
  const checked = checkDataOptions(file, 'loadIdx', opts, READ_OPTIONS)
  if (E.isLeft(checked)) return checked
  const bytes = await readFileBytes(file, opts)
  return E.isLeft(bytes) ? bytes : parseIdx(bytes.right, { source: file })
}

/**
 * Writes a file so that readers (and a crash) see either the old content or the new content, never
 * a mix: the bytes go to a temporary file in the same directory (same file system), which is
 * flushed to disk (`fsync`) and then renamed over `file`; the directory is flushed too where the
 * platform allows, so the rename itself survives a power cut. On failure the temporary file is
 * removed and `file` is untouched. The directory must exist.
 * @example
 * const written = await writeFileAtomic('out/history.json', JSON.stringify(history))
 * if (E.isLeft(written)) console.error(formatFileError(written.left))
 * @since 0.1.0
 */
export const writeFileAtomic = async (
  file: string,
  data: Uint8Array | string,
): Promise<E.Either<FileError, void>> => {
  const directory = path.dirname(path.resolve(file))
  const temporary = path.join(
    directory,
    `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  )
  try {
    const handle = await fs.open(temporary, 'wx')
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fs.rename(temporary, file)
  } catch (error) {
    await fs.rm(temporary, { force: true }).catch(() => undefined)
    return E.left({ kind: 'FileError', path: file, message: `cannot write the file (${reason(error)})` })
  }
  try {
    const dir = await fs.open(directory, 'r')
    try {
      await dir.sync()
    } finally {
      await dir.close()
    }
  } catch {
    // Some platforms (Windows) cannot open or fsync a directory; the rename is still atomic there.
  }
  return E.right(undefined)
}
