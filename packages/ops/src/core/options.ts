// Run-time checking of options records: the check TypeScript cannot make for plain-JS callers.
import { ValueError } from '@backfold/tensor'

/**
 * What one option accepts: a predicate and its description for messages (`'a boolean'`).
 * A value of `undefined` always passes (it means "the default").
 * @since 0.2.0
 */
export interface OptionSpec {
  /** What the value must be, for the error message: `'a boolean'`, `'an integer axis'`. */
  readonly expected: string
  /** Whether `value` is acceptable. */
  readonly check: (value: unknown) => boolean
  /** The option must be present (and not undefined). */
  readonly required?: boolean
}

/**
 * The accepted options of one function, built once (a module constant) with `optionSchema`, so a
 * check allocates nothing when the options are good.
 * @since 0.2.0
 */
export interface OptionSchema {
  readonly specs: Readonly<Record<string, OptionSpec>>
  /** Keys that must be present. */
  readonly required: ReadonlyArray<string>
  /** The accepted keys, for messages. */
  readonly names: string
  /** Old or common misspellings and the key to write instead (e.g. `axes` → `axis`). */
  readonly renamed: Readonly<Record<string, string>>
}

const isInteger = (value: unknown): boolean => typeof value === 'number' && Number.isInteger(value)

/**
 * Ready-made option specs. `anything` leaves the value to the function's own, more specific
 * validation (a conv padding, a dtype), so only the key is checked here.
 * @since 0.2.0
 */
export const option = {
  anything: { expected: 'any value', check: () => true },
  boolean: { expected: 'a boolean', check: (v: unknown) => typeof v === 'boolean' },
  number: { expected: 'a number', check: (v: unknown) => typeof v === 'number' },
  string: { expected: 'a string', check: (v: unknown) => typeof v === 'string' },
  /** A plain record (not an array): `{ valAccuracy: 'test accuracy' }`. */
  record: {
    expected: 'a record',
    check: (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v),
  },
  integer: { expected: 'an integer', check: isInteger },
  function: { expected: 'a function', check: (v: unknown) => typeof v === 'function' },
  /** One axis: an integer (negative counts from the end). */
  axis: { expected: 'an integer axis', check: isInteger },
  /** One axis or several: an integer or an array of integers. */
  axes: {
    expected: 'an integer axis or an array of integer axes',
    check: (v: unknown) => isInteger(v) || (Array.isArray(v) && v.every(isInteger)),
  },
  /** One of a few string values. */
  oneOf: (...values: ReadonlyArray<string>): OptionSpec => ({
    expected: `one of ${values.map((s) => `'${s}'`).join(', ')}`,
    check: (v: unknown) => typeof v === 'string' && values.includes(v),
  }),
  /** The same spec, but the option must be given. */
  required: (spec: OptionSpec): OptionSpec => ({ ...spec, required: true }),
} as const

// Spellings that existed before the axis convention was settled, and common slips.
const RENAMED: Readonly<Record<string, string>> = {
  axes: 'axis',
  dim: 'axis',
  keepdims: 'keepDims',
  keepdim: 'keepDims',
  keep_dims: 'keepDims',
}

/**
 * Builds the schema of a function's options once, at module load.
 * @example
 * const REDUCE = optionSchema({ axis: option.axes, keepDims: option.boolean })
 * @since 0.2.0
 */
// Free of side effects (a function declaration: see defineOp), so a bundler drops unused schemas.
/* @__NO_SIDE_EFFECTS__ */
export function optionSchema(
  specs: Readonly<Record<string, OptionSpec>>,
  renamed: Readonly<Record<string, string>> = {},
): OptionSchema {
  const keys = Object.keys(specs)
  return Object.freeze({
    specs,
    required: keys.filter((k) => specs[k]!.required === true),
    names: keys.length === 0 ? '(none)' : keys.join(', '),
    renamed: { ...RENAMED, ...renamed },
  })
}

const show = (value: unknown): string => {
  if (typeof value === 'string') return `'${value}'`
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`
  if (typeof value === 'object' && value !== null) {
    if ('shape' in value && 'dtype' in value) return 'a tensor'
    return `{ ${Object.keys(value).join(', ')} }`
  }
  return String(value)
}

const hasOwn = (record: object, key: string): boolean => Object.prototype.hasOwnProperty.call(record, key)

/**
 * Rejects what a type checker would have rejected: `options` must be `undefined` or a plain
 * record whose keys are all in `schema` and whose values pass their spec. Throws a `ValueError`
 * naming `op`, the offending key and every accepted key; an old spelling (`axes`, a positional
 * axis number) is answered with the new one. Costs one loop over the given keys, no allocation.
 * `name` is how the message calls the record (`'options'`, `'ranges[0]'`).
 * @example
 * const REDUCE = optionSchema({ axis: option.axes, keepDims: option.boolean }, { axes: 'axis' })
 * checkOptions('sum', { axes: 1 }, REDUCE)
 * // ValueError: sum: unknown option 'axes' (write 'axis' instead); accepted options: axis, keepDims
 * @since 0.2.0
 */
export const checkOptions = (op: string, options: unknown, schema: OptionSchema, name = 'options'): void => {
  if (options === undefined) {
    if (schema.required.length > 0)
      throw new ValueError(
        op,
        `no ${name} given: expected a record with ${schema.required.join(', ')} (accepted: ${schema.names})`,
      )
    return
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    const positionalAxis = typeof options === 'number' && hasOwn(schema.specs, 'axis')
    throw new ValueError(
      op,
      `${name} must be a record with the keys ${schema.names}, got ${show(options)}` +
        (positionalAxis ? `; axes are passed by name: write { axis: ${String(options)} }` : ''),
    )
  }
  const specs = schema.specs
  for (const key in options) {
    if (!hasOwn(options, key)) continue
    const spec = specs[key]
    if (spec === undefined || !hasOwn(specs, key)) {
      const instead = schema.renamed[key]
      const hint = instead !== undefined && hasOwn(specs, instead) ? ` (write '${instead}' instead)` : ''
      throw new ValueError(op, `unknown option '${key}'${hint} in ${name}; accepted options: ${schema.names}`)
    }
    const value: unknown = (options as Record<string, unknown>)[key]
    if (value !== undefined && !spec.check(value))
      throw new ValueError(op, `option '${key}' must be ${spec.expected}, got ${show(value)}`)
  }
  const required = schema.required
  for (let i = 0; i < required.length; i++) {
    const key = required[i]!
    if ((options as Record<string, unknown>)[key] === undefined)
      throw new ValueError(
        op,
        `option '${key}' is required (${specs[key]!.expected}); accepted options: ${schema.names}`,
      )
  }
}

/**
 * Options of the ops that work along one axis (softmax, concat, gather, ...): `axis`, negative
 * counting from the end.
 * @since 0.2.0
 */
export interface AxisOptions {
  readonly axis?: number | undefined
}

/** The schema of `AxisOptions`. @since 0.2.0 */
export const AXIS_OPTIONS: OptionSchema = optionSchema({ axis: option.axis })

/** The schema of `AxisOptions` when the axis must be given. @since 0.2.0 */
export const REQUIRED_AXIS_OPTIONS: OptionSchema = optionSchema({ axis: option.required(option.axis) })
