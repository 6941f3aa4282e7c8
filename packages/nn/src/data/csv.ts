import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import type { Dataset } from './dataset'
import { dataError } from './error'
import type { DataError } from './error'

/** Options of `parseCsv`. @since 0.1.0 */
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
  /** Field separator, one character (default `','`). */
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

// A plain decimal or scientific number. `Number()` alone also accepts '', '0x1F', 'Infinity' and
// whitespace, which in a numeric CSV are always mistakes.
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/

const describeField = (field: string): string => (field === '' ? 'an empty field' : JSON.stringify(field))

/**
 * Parses numeric CSV text (no quoting; one example per line; blank lines skipped; `\r\n` accepted)
 * into features and, unless `labelColumn` is `'none'`, labels. Every row must have the same number
 * of fields and every field must be a plain decimal number; otherwise the result is a `Left` whose
 * message names the source, the line and the column (both 1-based), e.g.
 * `digits.csv: line 12, column 65: "x" is not a number`. Nothing is returned half-parsed.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
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
  const { source } = opts
  const delimiter = opts.delimiter ?? ','
  const labelDType = opts.labelDType ?? 'int32'
  const labelSpec = opts.labelColumn ?? 'last'
  if (delimiter.length !== 1)
    return E.left(dataError(source, `delimiter must be one character, got ${JSON.stringify(delimiter)}`))
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text

  let lineCount = 1
  for (let at = body.indexOf('\n'); at !== -1; at = body.indexOf('\n', at + 1)) lineCount++

  let header: string[] = []
  let columns = -1
  let columnsLine = 0
  let labelAt = -1
  let features: Float32Array | Float64Array = new Float32Array(0)
  let labels = new Float64Array(0)
  let rows = 0

  let lineStart = 0
  for (let lineNumber = 1; lineStart <= body.length; lineNumber++) {
    const newline = body.indexOf('\n', lineStart)
    const lineEnd = newline === -1 ? body.length : newline
    const rawLine = body.slice(lineStart, lineEnd)
    lineStart = lineEnd + 1
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine
    if (line.trim() === '') continue
    const fields = line.split(delimiter)
    if (columns === -1) {
      columns = fields.length
      columnsLine = lineNumber
      if (labelSpec === 'none') labelAt = -1
      else {
        const requested = labelSpec === 'last' ? -1 : labelSpec
        if (!Number.isInteger(requested) || requested < -columns || requested >= columns)
          return E.left(
            dataError(
              source,
              `labelColumn ${requested} does not exist: line ${lineNumber} has ${columns} columns; ` +
                `expected an index in [${-columns}, ${columns - 1}], 'last' or 'none'`,
            ),
          )
        labelAt = requested < 0 ? requested + columns : requested
      }
      const featureCount = labelAt === -1 ? columns : columns - 1
      features =
        opts.dtype === 'float64'
          ? new Float64Array(lineCount * featureCount)
          : new Float32Array(lineCount * featureCount)
      labels = new Float64Array(labelAt === -1 ? 0 : lineCount)
      if (opts.hasHeader === true) {
        header = fields.map((f) => f.trim()).filter((_, c) => c !== labelAt)
        continue
      }
    } else if (fields.length !== columns)
      return E.left(
        dataError(
          source,
          `line ${lineNumber} has ${fields.length} fields; expected ${columns} like line ${columnsLine}` +
            (fields.length < columns ? ' (a truncated row?)' : ''),
        ),
      )
    let featureIndex = rows * (labelAt === -1 ? columns : columns - 1)
    for (let c = 0; c < columns; c++) {
      const field = fields[c]!.trim()
      if (!NUMBER.test(field))
        return E.left(
          dataError(source, `line ${lineNumber}, column ${c + 1}: ${describeField(field)} is not a number`),
        )
      const value = Number(field)
      if (c === labelAt) {
        if (
          labelDType === 'int32' &&
          !(Number.isInteger(value) && value >= -2147483648 && value <= 2147483647)
        )
          return E.left(
            dataError(
              source,
              `line ${lineNumber}, column ${c + 1}: label ${field} is not an integer class index ` +
                "(pass labelDType: 'float32' for real-valued targets)",
            ),
          )
        labels[rows] = value
      } else features[featureIndex++] = value
    }
    rows++
  }
  if (rows === 0)
    return E.left(
      dataError(source, columns === -1 ? 'no data: the text is empty' : 'no data rows after the header'),
    )
  const featureCount = labelAt === -1 ? columns : columns - 1
  const x = T.unsafeTensor(
    features instanceof Float64Array ? 'float64' : 'float32',
    [rows, featureCount],
    features.slice(0, rows * featureCount),
  )
  if (labelAt === -1) return E.right({ x, header })
  const labelData = T.allocate(labelDType, rows)
  for (let i = 0; i < rows; i++) labelData[i] = labels[i]!
  return E.right({ x, y: T.unsafeTensor(labelDType, [rows], labelData), header })
}
