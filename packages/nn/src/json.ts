import * as E from 'fp-ts/lib/Either.js'

/**
 * JSON from outside (checkpoint files, safetensors headers, model configs) is bounded in nesting
 * depth before anything recursive touches it: io-ts decoders, layer builders and error formatters
 * recurse once per level, so 10,000 nested arrays would otherwise end in a `RangeError` from an API
 * documented to return `Either`. 256 levels keeps every recursion far from the stack limit (each
 * level costs a handful of frames) and is far deeper than any file backfold writes: a model config
 * nests two levels per `sequential` or `parallel` (the object and its `layers`) and one per
 * `residual`, so it allows about 127 combinators inside each other.
 * @since 0.2.0
 */
export const MAX_JSON_DEPTH = 256

/**
 * True when a value nests deeper than `limit`: a scalar has depth 0, `[]` and `{}` 1, `[[1]]` 2.
 * Counted without recursion and stopping as soon as the limit is passed, so any value is safe to
 * ask about: a cyclic one nests without end and so exceeds every limit, and a value that shares
 * sub-objects is visited again only when reached at a greater depth (at most `limit` times per
 * object), never once per path. Only own enumerable properties count, as for `JSON.stringify`.
 * @example
 * jsonDepthExceeds([[1]], 1) // true
 * jsonDepthExceeds(JSON.parse('{"a": [1, 2]}')) // false
 * @internal Not exported from the package (used by its decoders).
 * @since 0.2.0
 */
export const jsonDepthExceeds = (value: unknown, limit: number = MAX_JSON_DEPTH): boolean => {
  // The greatest depth at which each object has been queued: reaching it again no deeper adds nothing.
  const deepest = new Map<object, number>()
  const stack: Array<readonly [object, number]> = []
  const visit = (v: unknown, depth: number): boolean => {
    if (typeof v !== 'object' || v === null) return false
    if (depth > limit) return true
    const seen = deepest.get(v)
    if (seen === undefined || seen < depth) {
      deepest.set(v, depth)
      stack.push([v, depth])
    }
    return false
  }
  if (visit(value, 1)) return true
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [node, depth] = top
    // A node queued at a shallower depth than it was later reached at is covered by the deeper visit.
    if (deepest.get(node) !== depth) continue
    const children: ReadonlyArray<unknown> = Array.isArray(node) ? node : Object.values(node)
    for (const child of children) if (visit(child, depth + 1)) return true
  }
  return false
}

/**
 * The deepest bracket nesting of JSON text, scanned once without parsing (strings skipped), so
 * depth is refused before `JSON.parse` builds the value.
 */
const textDepthExceeds = (text: string, limit: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c /* \ */) i++
      else if (c === 0x22 /* " */) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return true
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--
  }
  return false
}

/**
 * Why a value was refused for its depth, as a phrase that follows its subject ("the model config is
 * ..."), naming the limit so that a user knows what is allowed.
 * @internal
 */
export const nestedTooDeep = (limit: number = MAX_JSON_DEPTH): string =>
  `nested deeper than ${limit} levels of arrays and objects, the most backfold reads ` +
  `(it refuses deeper values rather than recurse without bound)`

/**
 * Parses JSON text from outside into a `Left` with a readable reason (syntax error, or nesting
 * deeper than `maxDepth` levels of arrays and objects, default `MAX_JSON_DEPTH`) or a `Right` value.
 * Never throws: depth is checked on the text before `JSON.parse` runs, so the value returned is safe
 * to hand to recursive code (io-ts decoders, `decodeModel`). Keys such as `__proto__` stay ordinary
 * own keys, as `JSON.parse` makes them.
 * @example
 * parseJson('{"units": 3}') // Right({ units: 3 })
 * parseJson('['.repeat(10_000)) // Left('JSON nested deeper than 256 levels ...')
 * @internal Not exported from the package (used by its decoders).
 * @since 0.2.0
 */
export const parseJson = (text: string, maxDepth: number = MAX_JSON_DEPTH): E.Either<string, unknown> => {
  if (textDepthExceeds(text, maxDepth)) return E.left(`JSON ${nestedTooDeep(maxDepth)}`)
  try {
    return E.right(JSON.parse(text) as unknown)
  } catch (error) {
    return E.left(`not valid JSON (${error instanceof Error ? error.message : String(error)})`)
  }
}
