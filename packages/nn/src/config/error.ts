/** Why a config could not be decoded or encoded: the JSON path and what was expected. @since 0.1.0 */
export interface ConfigError {
  readonly kind: 'ConfigError'
  /** Dotted JSON path, e.g. `layers.2.units` (empty for the root). */
  readonly path: string
  readonly message: string
}

/** Builds a `ConfigError`. @since 0.2.0 */
export const configError = (path: string, message: string): ConfigError => ({
  kind: 'ConfigError',
  path,
  message,
})

/** Formats a `ConfigError` for people: `layers.2.units: expected a positive integer, got -3`. @since 0.1.0 */
export const formatConfigError = (e: ConfigError): string =>
  e.path === '' ? e.message : `${e.path}: ${e.message}`

/** A short rendering of a value for messages; never throws (a BigInt or a cycle make `JSON.stringify` throw). */
export const showValue = (value: unknown): string => {
  let s: string | undefined
  try {
    s = JSON.stringify(value)
  } catch {
    s = undefined
  }
  if (s === undefined) s = typeof value === 'bigint' ? `${value}n` : typeof value
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}

/** `path.key`, or `key` at the root. */
export const joinPath = (path: string, key: string | number): string =>
  path === '' ? String(key) : `${path}.${key}`
