/**
 * One copy of each backfold package per process. A package that holds process-wide state (the
 * tensor backend and its thread pool, the trace levels of `@backfold/ops`) claims its name when it
 * loads; a second, different copy (another version nested by the package manager, another build
 * of the same version) refuses to load instead of silently running beside the first, where values
 * and settings of one would mean nothing to the other.
 * @since 0.2.0
 */
import { DuplicatePackageError } from './errors'

/** What a loaded copy recorded about itself. @since 0.2.0 */
export interface LoadedCopy {
  readonly version: string
  /** The URL of the module that claimed the name, or `'unknown'` where the bundler hides it. */
  readonly location: string
}

const isLoadedCopy = (value: unknown): value is LoadedCopy =>
  typeof value === 'object' &&
  value !== null &&
  typeof Reflect.get(value, 'version') === 'string' &&
  typeof Reflect.get(value, 'location') === 'string'

/**
 * Records that `pkg` (version `version`, loaded from `location`, normally `import.meta.url`) is
 * loaded, under `globalThis[Symbol.for(pkg)]`. Evaluating the same module again (same version and
 * location: a test runner re-running a module) is allowed; any other copy throws a
 * `DuplicatePackageError` naming both. An unknown location (a bundle that hides `import.meta.url`)
 * never matches: a bundle evaluates each module once, so a second claim there is a second copy.
 * @example
 * claimSingleCopy('@my/package', '1.2.0', import.meta.url)
 * @since 0.2.0
 */
export const claimSingleCopy = (pkg: string, version: string, location: string | undefined): void => {
  const key = Symbol.for(pkg)
  const here: LoadedCopy = { version, location: location === undefined ? 'unknown' : withoutQuery(location) }
  const first: unknown = Reflect.get(globalThis, key)
  if (first === undefined) {
    Object.defineProperty(globalThis, key, { value: Object.freeze(here), enumerable: false })
    return
  }
  const sameModule =
    isLoadedCopy(first) &&
    first.version === here.version &&
    first.location === here.location &&
    here.location !== 'unknown'
  if (sameModule) return
  const described = isLoadedCopy(first) ? `${first.version} from ${first.location}` : 'an unrecognised copy'
  const remedy =
    isLoadedCopy(first) && first.version !== here.version
      ? `Install one version: list them with \`npm ls ${pkg}\`, let every dependent accept one version ` +
        `(the backfold packages take each other as peer dependencies with ranges), then \`npm dedupe\``
      : `The same version is installed or bundled twice: \`npm ls ${pkg}\` shows where; dedupe it, and ` +
        `make the bundler resolve ${pkg} to one path`
  throw new DuplicatePackageError(
    pkg,
    `two copies loaded in one process: ${described} is already loaded, and now ${here.version} from ` +
      `${here.location}. Copies cannot share values or process-wide settings (a gradient could silently come out zero, a backend choice be ignored). ` +
      `${remedy}.`,
  )
}

// A dev server may add a cache-busting query to a module URL; the module is still the same copy.
const withoutQuery = (url: string): string => url.replace(/[?#].*$/, '')
