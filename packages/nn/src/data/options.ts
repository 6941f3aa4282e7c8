import * as E from 'fp-ts/lib/Either.js'
import { checkOptions } from '@backfold/ops'
import type { OptionSchema } from '@backfold/ops'
import { BackfoldError } from '@backfold/tensor'
import { dataError } from './error'
import type { DataError } from './error'

/**
 * The library's run-time option check (`checkOptions` of `@backfold/ops`: unknown keys and values
 * of the wrong kind refused, naming every accepted key) as a boundary function: the data loaders
 * return their problems, so the refusal is a `Left` naming the source instead of a thrown
 * `ValueError`. Callers in JavaScript, or with options read from a file, get no help from the
 * types, and a misspelt key (`labelDtype`) must not be silently ignored.
 * @internal
 */
export const checkDataOptions = (
  source: string,
  fn: string,
  opts: unknown,
  schema: OptionSchema,
): E.Either<DataError, void> => {
  try {
    checkOptions(fn, opts, schema)
    return E.right(undefined)
  } catch (error) {
    if (error instanceof BackfoldError) return E.left(dataError(source, error.message))
    throw error
  }
}
