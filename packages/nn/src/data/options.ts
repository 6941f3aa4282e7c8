import * as E from 'fp-ts/lib/Either.js'
import { dataError } from './error'
import type { DataError } from './error'

/**
 * What one option of a data loader accepts: `expected` is what error messages show ("one of
 * 'int32', 'float32' or 'float64'"), `ok` checks a value that is present (`undefined` counts as
 * absent, as it does for the loaders' defaults).
 * @internal
 */
export interface OptionSpec {
  readonly expected: string
  readonly ok: (value: unknown) => boolean
}

/** The options of one function, by name; the order is the order messages list them in. @internal */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>

const show = (value: unknown): string => {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch {
    text = undefined
  }
  if (text === undefined) text = typeof value === 'bigint' ? `${value}n` : typeof value
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/**
 * Checks the options a loader was called with at run time (callers in JavaScript, or with options
 * read from a config file, get no help from the types): every key must be one the loader knows,
 * and every value one it accepts. A `Left` names the function and either lists the accepted keys
 * or says what the value must be, so a misspelt key (`labelDtype`) is never silently ignored.
 * @internal
 */
export const checkOptions = (
  source: string,
  fn: string,
  opts: unknown,
  specs: OptionSpecs,
): E.Either<DataError, void> => {
  // The function is named unless it already is the source (when the caller gave no usable name).
  const where = source === fn ? '' : `${fn}: `
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts))
    return E.left(dataError(source, `${where}the options must be an object, got ${show(opts)}`))
  for (const [key, value] of Object.entries(opts)) {
    const spec = Object.prototype.hasOwnProperty.call(specs, key) ? specs[key] : undefined
    if (spec === undefined)
      return E.left(
        dataError(
          source,
          `${where}unknown option ${show(key)}; the options are ${Object.keys(specs).join(', ')}`,
        ),
      )
    if (value !== undefined && !spec.ok(value))
      return E.left(dataError(source, `${where}option ${key} must be ${spec.expected}, got ${show(value)}`))
  }
  return E.right(undefined)
}

/** An option that is one of a few strings. @internal */
export const oneOf = (...values: ReadonlyArray<string>): OptionSpec => ({
  expected:
    values.length === 1
      ? `'${values[0]}'`
      : `${values
          .slice(0, -1)
          .map((v) => `'${v}'`)
          .join(', ')} or '${values[values.length - 1]}'`,
  ok: (value) => typeof value === 'string' && values.includes(value),
})

/** A boolean option. @internal */
export const aBoolean: OptionSpec = { expected: 'true or false', ok: (value) => typeof value === 'boolean' }

/** A string option (a source name). @internal */
export const aString: OptionSpec = { expected: 'a string', ok: (value) => typeof value === 'string' }
