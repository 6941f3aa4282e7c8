/**
 * Typed errors. Programmer errors inside numeric code throw one of these; boundary functions
 * (parsing, decoding) return them inside an `Either` instead. Every message names the operation,
 * the offending argument and the shapes or dtypes involved, and says what was expected.
 * @since 0.1.0
 */
export type BackfoldErrorKind = 'ShapeError' | 'DTypeError' | 'ValueError' | 'ParseError' | 'TraceError'

/** Base class of every error backfold throws. @since 0.1.0 */
export class BackfoldError extends Error {
  /** Discriminant, so errors can be matched without `instanceof` across bundles. */
  readonly kind: BackfoldErrorKind
  /** The operation that rejected its input, e.g. `'matmul'`. */
  readonly op: string
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
  constructor(op: string, message: string) {
    super('ShapeError', op, message)
  }
}

/** A dtype the operation does not accept (e.g. int32 indices given as float32). @since 0.1.0 */
export class DTypeError extends BackfoldError {
  constructor(op: string, message: string) {
    super('DTypeError', op, message)
  }
}

/** A bad non-shape argument: negative size, non-integer count, out-of-range index, bad option. @since 0.1.0 */
export class ValueError extends BackfoldError {
  constructor(op: string, message: string) {
    super('ValueError', op, message)
  }
}

/** Input data from outside (nested arrays, files) that cannot be turned into a tensor. @since 0.1.0 */
export class ParseError extends BackfoldError {
  constructor(op: string, message: string) {
    super('ParseError', op, message)
  }
}

/** Formats a shape for messages: `[2,3]`. @since 0.1.0 */
export const fmtShape = (shape: ReadonlyArray<number>): string => `[${shape.join(',')}]`
