/**
 * Typed errors. Programmer errors inside numeric code throw one of these; boundary functions
 * (parsing, decoding) return them inside an `Either` instead. Every message names the operation,
 * the offending argument and the shapes or dtypes involved, and says what was expected.
 * @since 0.1.0
 */
export type BackfoldErrorKind =
  'ShapeError' | 'DTypeError' | 'ValueError' | 'ParseError' | 'TraceError' | 'DuplicatePackageError'

/** Base class of every error backfold throws. @since 0.1.0 */
export class BackfoldError extends Error {
  /** Discriminant, so errors can be matched without `instanceof` across bundles. */
  readonly kind: BackfoldErrorKind
  /** The operation that rejected its input, e.g. `'matmul'`. */
  readonly op: string
  /** `kind` names the subclass; the message becomes `` `${op}: ${message}` ``. */
  constructor(kind: BackfoldErrorKind, op: string, message: string) {
    super(`${op}: ${message}`)
    this.kind = kind
    this.op = op
    this.name = kind
  }
}

/**
 * Shapes that do not fit the operation.
 * @example
 * throw new ShapeError('matmul', 'inner dimensions differ: a is [2,3], b is [4,5]; expected a[-1] === b[-2]')
 * @since 0.1.0
 */
export class ShapeError extends BackfoldError {
  /** `op` names the operation that rejected its input; the message becomes `` `${op}: ${message}` ``. */
  constructor(op: string, message: string) {
    super('ShapeError', op, message)
  }
}

/** A dtype the operation does not accept (e.g. int32 indices given as float32). @since 0.1.0 */
export class DTypeError extends BackfoldError {
  /** `op` names the operation that rejected its input; the message becomes `` `${op}: ${message}` ``. */
  constructor(op: string, message: string) {
    super('DTypeError', op, message)
  }
}

/** A bad non-shape argument: negative size, non-integer count, out-of-range index, bad option. @since 0.1.0 */
export class ValueError extends BackfoldError {
  /** `op` names the operation that rejected its input; the message becomes `` `${op}: ${message}` ``. */
  constructor(op: string, message: string) {
    super('ValueError', op, message)
  }
}

/** Input data from outside (nested arrays, files) that cannot be turned into a tensor. @since 0.1.0 */
export class ParseError extends BackfoldError {
  /** `op` names the operation that rejected its input; the message becomes `` `${op}: ${message}` ``. */
  constructor(op: string, message: string) {
    super('ParseError', op, message)
  }
}

/**
 * A transformation misused (an escaped traced value, a bad cotangent, an int32 argument), or a
 * kernel handed an abstract value (see `abstractValue`): a traced value has no data a kernel may
 * read, so computing on it with a kernel would silently drop it from the derivative.
 * @since 0.2.0 (thrown by `@backfold/ops`, which re-exports this class, since 0.1.0)
 */
export class TraceError extends BackfoldError {
  /** `op` names the operation that rejected its input; the message becomes `` `${op}: ${message}` ``. */
  constructor(op: string, message: string) {
    super('TraceError', op, message)
  }
}

/**
 * A second, different copy of a backfold package loaded into a process that already holds one
 * (two versions installed side by side, or two builds of one version). Copies cannot share traced
 * values or process-wide settings, so the second one refuses to load; the message names both
 * versions and locations and says how to end up with one.
 * @since 0.2.0
 */
export class DuplicatePackageError extends BackfoldError {
  /** `pkg` names the package loaded twice, e.g. `@backfold/ops`. */
  constructor(pkg: string, message: string) {
    super('DuplicatePackageError', pkg, message)
  }
}

/** Formats a shape for messages: `[2,3]`. @since 0.1.0 */
export const fmtShape = (shape: ReadonlyArray<number>): string => `[${shape.join(',')}]`
