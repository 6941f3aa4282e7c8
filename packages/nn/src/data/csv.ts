import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import type { Dataset } from './dataset'
import { dataError } from './error'
import type { DataError } from './error'
import { option, optionSchema } from '@backfold/ops'
import type { OptionSchema, OptionSpec } from '@backfold/ops'
import { checkDataOptions } from './options'

/** Options of `parseCsv` and `parseCsvBytes`. @since 0.1.0 */
export interface CsvOptions {
  /** Named in every error message: a file name, a URL, `'<pasted text>'`. */
  readonly source: string
  /**
   * Which column holds the target: `'last'` (default), a 0-based column index (negative counts from
   * the end, `-1` is the last), or `'none'` for unlabelled data (the result then has no `y`).
   */
  readonly labelColumn?: 'last' | 'none' | number
  /** The first non-empty line holds column names (default false). */
  readonly hasHeader?: boolean
  /** Field separator, one character that cannot occur in a number, e.g. `';'` or `'\t'` (default `','`). */
  readonly delimiter?: string
  /** dtype of `x` (default float32). */
  readonly dtype?: 'float32' | 'float64'
  /**
   * dtype of `y` (default int32: class indices, which must then be integers). Use a float dtype for
   * regression targets.
   */
  readonly labelDType?: T.DType
}

/** What `parseCsv` returns for `labelColumn: 'none'`. @since 0.1.0 */
export interface CsvFeatures {
  /** `[rows, columns]`. */
  readonly x: Tensor
  /** Column names of `x` from the header line; empty without a header. */
  readonly header: ReadonlyArray<string>
}

/** What `parseCsv` returns with a label column: a `Dataset` plus the header. @since 0.1.0 */
export interface CsvDataset extends Dataset {
  /** `[rows, columns - 1]`. */
  readonly x: Tensor
  /** `[rows]`, dtype `labelDType` (int32 by default). */
  readonly y: Tensor
  /** Column names of `x` from the header line (label column removed); empty without a header. */
  readonly header: ReadonlyArray<string>
}

// -------------------------------------------------------------------------------------
// options
// -------------------------------------------------------------------------------------

/**
 * The options of the CSV readers other than `source`, checked at run time (`loadCsv` adds its own).
 * @internal
 */
export const CSV_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  labelColumn: {
    expected: "'last', 'none' or a column index (an integer, negative counting from the end)",
    check: (value) => value === 'last' || value === 'none' || Number.isSafeInteger(value),
  },
  hasHeader: option.boolean,
  delimiter: {
    expected: "one character that cannot occur in a number or end a line (e.g. ',', ';' or '\\t')",
    check: (value) => typeof value === 'string' && value.length === 1 && !/[\d+\-.eE\r\n]/.test(value),
  },
  dtype: option.oneOf('float32', 'float64'),
  labelDType: option.oneOf('int32', 'float32', 'float64'),
}

const PARSE_OPTIONS: OptionSchema = optionSchema({ source: option.required(option.string), ...CSV_OPTIONS })

/** Checks the options of `fn` (`parseCsv` or `parseCsvBytes`), naming the source when there is one. */
const checkCsvOptions = (fn: string, opts: unknown): E.Either<DataError, CsvOptions> => {
  const source =
    typeof opts === 'object' && opts !== null && 'source' in opts && typeof opts.source === 'string'
      ? opts.source
      : `<${fn}>`
  const checked = checkDataOptions(source, fn, opts, PARSE_OPTIONS)
  // checkDataOptions accepted every key present and its value, and the required source: a CsvOptions.
  return E.map(() => opts as CsvOptions)(checked)
}

// -------------------------------------------------------------------------------------
// lines
// -------------------------------------------------------------------------------------

/**
 * Text as numbered lines (1-based, without their `'\n'`), fed to `visit` in order until it returns
 * false. The result is the problem that stopped the reading (bytes that are not UTF-8, a line too
 * long to decode), or `undefined`. Reading may happen more than once.
 * @internal
 */
export type LineSource = (visit: (line: string, lineNumber: number) => boolean) => string | undefined

/** The lines of a string. @internal */
export const textLines =
  (text: string): LineSource =>
  (visit) => {
    let lineNumber = 1
    for (let start = 0; start <= text.length; lineNumber++) {
      const newline = text.indexOf('\n', start)
      const end = newline === -1 ? text.length : newline
      if (!visit(text.slice(start, end), lineNumber)) return undefined
      start = end + 1
    }
    return undefined
  }

/**
 * The longest string V8 (Node, Chrome) can build, in UTF-16 units: 2^29 - 24 on 64-bit platforms,
 * about 512 MiB of ASCII. Text longer than this cannot be decoded into one string.
 * @internal
 */
export const MAX_STRING_LENGTH = 2 ** 29 - 24

/** Limits of `byteLines`, adjustable so that tests can exercise them with small inputs. @internal */
export interface ByteLineLimits {
  /** Bytes decoded at a time (rounded up to the next line end; default 16 MiB). */
  readonly chunkBytes?: number
  /** The longest line decoded (default `MAX_STRING_LENGTH`); a longer line is an error. */
  readonly maxLineBytes?: number
}

const NEWLINE = 0x0a

/**
 * The lines of UTF-8 bytes, decoded a chunk at a time, so that a file of any size is read without
 * ever building one string of it (V8 refuses strings over ~512 MiB, and the error it throws names no
 * cause). A chunk ends just after a `'\n'` byte, which never occurs inside a multi-byte UTF-8
 * sequence, so every chunk of valid UTF-8 decodes on its own.
 * @internal
 */
export const byteLines =
  (bytes: Uint8Array, limits: ByteLineLimits = {}): LineSource =>
  (visit) => {
    const maxLine = limits.maxLineBytes ?? MAX_STRING_LENGTH
    const chunkBytes = Math.max(1, Math.min(limits.chunkBytes ?? 2 ** 24, maxLine))
    const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
    let lineNumber = 1
    for (let start = 0; ; ) {
      let end = bytes.length
      if (start + chunkBytes < bytes.length) {
        const newline = bytes.indexOf(NEWLINE, start + chunkBytes - 1)
        if (newline !== -1) end = newline + 1
      }
      if (end - start > maxLine) {
        // Decode the lines before the long one first; a line that alone is too long is refused.
        const before = bytes.lastIndexOf(NEWLINE, start + chunkBytes - 1)
        if (before < start)
          return (
            `line ${lineNumber} is longer than ${maxLine} bytes, more than a JavaScript string can hold ` +
            "(about 512 MiB in V8); no row of a numeric CSV is that long: is the file corrupt, or are its lines ended by '\\r' alone?"
          )
        end = before + 1
      }
      let text: string
      try {
        text = decoder.decode(bytes.subarray(start, end))
      } catch {
        return `line ${lineNumber + firstUndecodableLine(bytes.subarray(start, end))} is not valid UTF-8 text; expected a numeric CSV file`
      }
      const last = end === bytes.length
      for (let at = 0; ; ) {
        const newline = text.indexOf('\n', at)
        if (newline === -1) {
          // Every chunk but the last ends with '\n'; what follows the last one is the last line.
          if (last && !visit(text.slice(at), lineNumber)) return undefined
          break
        }
        if (!visit(text.slice(at, newline), lineNumber++)) return undefined
        at = newline + 1
      }
      if (last) return undefined
      start = end
    }
  }

/** The 0-based index of the first line of `bytes` that is not valid UTF-8 (0 if none is found). */
const firstUndecodableLine = (bytes: Uint8Array): number => {
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let index = 0
  for (let start = 0; start < bytes.length; index++) {
    const newline = bytes.indexOf(NEWLINE, start)
    const end = newline === -1 ? bytes.length : newline
    try {
      decoder.decode(bytes.subarray(start, end))
    } catch {
      return index
    }
    start = end + 1
  }
  return 0
}

// -------------------------------------------------------------------------------------
// parsing
// -------------------------------------------------------------------------------------

// A plain decimal or scientific number. `Number()` alone also accepts '', '0x1F', 'Infinity' and
// whitespace, which in a numeric CSV are always mistakes.
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/

/** Where a field is, for a message (built only when one is needed, never per field). */
const position = (lineNumber: number, c: number): string => `line ${lineNumber}, column ${c + 1}`

const describeField = (field: string): string => (field === '' ? 'an empty field' : JSON.stringify(field))

/** Number of fields of a line, without splitting it. */
const countFields = (line: string, delimiter: string): number => {
  let count = 1
  for (let at = line.indexOf(delimiter); at !== -1; at = line.indexOf(delimiter, at + 1)) count++
  return count
}

/**
 * Why a value cannot be stored in `dtype` without becoming infinite, or undefined. A literal such as
 * `1e39` is a finite decimal but overflows float32 (and `1e309` float64): stored, it would become
 * `Infinity`, which the parser refuses when it is spelt out, so it is refused here too.
 */
const overflow = (value: number, dtype: T.DType, option: string): string | undefined => {
  if (!Number.isFinite(value))
    return 'is beyond the range of float64 (about ±1.8e308) and would become Infinity'
  if (dtype === 'float32' && !Number.isFinite(Math.fround(value)))
    return `is beyond the range of float32 (about ±3.4e38) and would become Infinity; pass ${option}: 'float64'`
  return undefined
}

/**
 * Parses numeric CSV from lines: the engine of `parseCsv` and `parseCsvBytes`, whose options must
 * already be checked. Two passes over the lines: the first fixes the column count, checks every
 * line's field count and counts the rows, so the buffers are sized by the rows there are (never by
 * the number of lines times the first row's width) and nothing is allocated for text whose rows
 * disagree; the second reads the numbers.
 * @internal
 */
export const parseCsvLines = (
  lines: LineSource,
  opts: CsvOptions,
): E.Either<DataError, CsvFeatures | CsvDataset> => {
  const { source } = opts
  const fail = (message: string): E.Either<DataError, never> => E.left(dataError(source, message))
  const delimiter = opts.delimiter ?? ','
  const dtype = opts.dtype ?? 'float32'
  const labelDType = opts.labelDType ?? 'int32'
  const labelSpec = opts.labelColumn ?? 'last'
  const hasHeader = opts.hasHeader === true
  /** The line without a byte-order mark or '\r', or undefined when it is blank (skipped). */
  const clean = (raw: string, lineNumber: number): string | undefined => {
    let line = lineNumber === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw
    if (line.endsWith('\r')) line = line.slice(0, -1)
    return line.trim() === '' ? undefined : line
  }

  let problem: string | undefined
  let header: string[] = []
  let columns = -1
  let columnsLine = 0
  let labelAt = -1
  let rows = 0
  const shapeProblem = lines((raw, lineNumber) => {
    const line = clean(raw, lineNumber)
    if (line === undefined) return true
    if (columns === -1) {
      const fields = line.split(delimiter)
      columns = fields.length
      columnsLine = lineNumber
      if (labelSpec !== 'none') {
        const requested = labelSpec === 'last' ? -1 : labelSpec
        if (requested < -columns || requested >= columns) {
          problem =
            `labelColumn ${requested} does not exist: line ${lineNumber} has ${columns} columns; ` +
            `expected an index in [${-columns}, ${columns - 1}], 'last' or 'none'`
          return false
        }
        labelAt = requested < 0 ? requested + columns : requested
      }
      if (hasHeader) header = fields.map((f) => f.trim()).filter((_, c) => c !== labelAt)
      else rows++
      return true
    }
    const count = countFields(line, delimiter)
    if (count !== columns) {
      problem =
        `line ${lineNumber} has ${count} fields; expected ${columns} like line ${columnsLine}` +
        (count < columns ? ' (a truncated row?)' : '')
      return false
    }
    rows++
    return true
  })
  if (shapeProblem !== undefined) return fail(shapeProblem)
  if (problem !== undefined) return fail(problem)
  if (rows === 0) return fail(columns === -1 ? 'no data: the text is empty' : 'no data rows after the header')

  const featureCount = labelAt === -1 ? columns : columns - 1
  let features: T.TypedArray
  let labels: T.TypedArray
  try {
    features = T.allocate(dtype, rows * featureCount)
    labels = T.allocate(labelDType, labelAt === -1 ? 0 : rows)
  } catch {
    return fail(
      `${rows} rows of ${featureCount} features need more memory than can be allocated at once; split the file`,
    )
  }

  let row = 0
  let featureIndex = 0
  const valueProblem = lines((raw, lineNumber) => {
    const line = clean(raw, lineNumber)
    if (line === undefined || (hasHeader && lineNumber === columnsLine)) return true
    const fields = line.split(delimiter)
    for (let c = 0; c < columns; c++) {
      const field = fields[c]!.trim()
      if (!NUMBER.test(field)) {
        problem = `${position(lineNumber, c)}: ${describeField(field)} is not a number`
        return false
      }
      const value = Number(field)
      if (c === labelAt) {
        if (labelDType === 'int32' && !(Number.isInteger(value) && value >= -2147483648 && value <= 2147483647)) {
          problem =
            `${position(lineNumber, c)}: label ${field} is not an integer class index ` +
            "(pass labelDType: 'float32' for real-valued targets)"
          return false
        }
        const tooLarge = overflow(value, labelDType, 'labelDType')
        if (tooLarge !== undefined) {
          problem = `${position(lineNumber, c)}: label ${field} ${tooLarge}`
          return false
        }
        labels[row] = value
      } else {
        const tooLarge = overflow(value, dtype, 'dtype')
        if (tooLarge !== undefined) {
          problem = `${position(lineNumber, c)}: ${field} ${tooLarge}`
          return false
        }
        features[featureIndex++] = value
      }
    }
    row++
    return true
  })
  if (valueProblem !== undefined) return fail(valueProblem)
  if (problem !== undefined) return fail(problem)
  const x = T.unsafeTensor(dtype, [rows, featureCount], features)
  if (labelAt === -1) return E.right({ x, header })
  return E.right({ x, y: T.unsafeTensor(labelDType, [rows], labels), header })
}

/**
 * Parses numeric CSV text (no quoting; one example per line; blank lines skipped; `\r\n` accepted)
 * into features and, unless `labelColumn` is `'none'`, labels. Every row must have the same number
 * of fields and every field must be a plain decimal number that fits the target dtype (`1e39` does
 * not fit float32, and is refused like `Infinity` rather than stored as one); otherwise the result
 * is a `Left` whose message names the source, the line and the column (both 1-based), e.g.
 * `digits.csv: line 12, column 65: "x" is not a number`. Options are checked at run time too: an
 * unknown key or a value of the wrong kind is a `Left` listing what is accepted. Nothing is
 * returned half-parsed. For bytes (a file, a download) use `parseCsvBytes`, which also reads text
 * longer than a JavaScript string can hold.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import { parseCsv } from '@backfold/nn'
 * const parsed = parseCsv('1,2,0\n3,4,1\n', { source: 'inline', labelColumn: 'last' })
 * // Right({ x: [[1, 2], [3, 4]] (float32), y: [0, 1] (int32), header: [] })
 * @since 0.1.0
 */
export function parseCsv(
  text: string,
  opts: CsvOptions & { readonly labelColumn: 'none' },
): E.Either<DataError, CsvFeatures>
export function parseCsv(text: string, opts: CsvOptions): E.Either<DataError, CsvDataset>
export function parseCsv(text: string, opts: CsvOptions): E.Either<DataError, CsvFeatures | CsvDataset> {
  const checked = checkCsvOptions('parseCsv', opts)
  if (E.isLeft(checked)) return checked
  if (typeof text !== 'string')
    return E.left(dataError(checked.right.source, `parseCsv: expected the text as a string, got ${typeof text}`))
  return parseCsvLines(textLines(text), checked.right)
}

/**
 * `parseCsv` for UTF-8 bytes (a file's content, a download). The bytes are decoded a few megabytes
 * at a time, so a file larger than the longest JavaScript string (~512 MiB in V8) parses like any
 * other; bytes that are not UTF-8 are a `Left` naming the line.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import { parseCsvBytes } from '@backfold/nn'
 * const parsed = parseCsvBytes(new TextEncoder().encode('1,2,0\n3,4,1\n'), { source: 'upload.csv' })
 * // Right({ x: [[1, 2], [3, 4]] (float32), y: [0, 1] (int32), header: [] })
 * @since 0.2.0
 */
export function parseCsvBytes(
  bytes: Uint8Array,
  opts: CsvOptions & { readonly labelColumn: 'none' },
): E.Either<DataError, CsvFeatures>
export function parseCsvBytes(bytes: Uint8Array, opts: CsvOptions): E.Either<DataError, CsvDataset>
export function parseCsvBytes(
  bytes: Uint8Array,
  opts: CsvOptions,
): E.Either<DataError, CsvFeatures | CsvDataset> {
  const checked = checkCsvOptions('parseCsvBytes', opts)
  if (E.isLeft(checked)) return checked
  if (!(bytes instanceof Uint8Array))
    return E.left(dataError(checked.right.source, 'parseCsvBytes: expected the bytes as a Uint8Array'))
  return parseCsvLines(byteLines(bytes), checked.right)
}
