/**
 * Why data from outside could not be used: the source (a file name, or whatever the caller named
 * the in-memory text) and the problem, e.g. `digits.csv: line 12, column 65: "x" is not a number`.
 * Returned (never thrown) by the parsers and loaders, so a bad file is a value the caller handles.
 * @since 0.1.0
 */
export interface DataError {
  readonly kind: 'DataError'
  /** Where the data came from: a path, a URL, or a caller-chosen name such as `'<upload>'`. */
  readonly source: string
  readonly message: string
}

/** Builds a `DataError`. @since 0.1.0 */
export const dataError = (source: string, message: string): DataError => ({
  kind: 'DataError',
  source,
  message,
})

/**
 * Formats a `DataError` for people: `source: message`.
 * @example
 * formatDataError(dataError('train.csv', 'line 3 has 4 columns; expected 5')) // 'train.csv: line 3 has 4 columns; expected 5'
 * @since 0.1.0
 */
export const formatDataError = (e: DataError): string => `${e.source}: ${e.message}`
