import * as E from 'fp-ts/lib/Either.js'

/**
 * JSON from outside (checkpoint files, safetensors headers, model configs) is bounded in nesting
 * depth before anything recursive touches it: io-ts decoders and error formatters recurse once per
 * level, so 10,000 nested arrays would otherwise end in a `RangeError` from an API documented to
 * return `Either`. 64 levels is far deeper than any file backfold writes (a model config nests one
 * level per container, and nobody stacks 60 sequentials inside each other).
 * @since 0.2.0
 */
export const MAX_JSON_DEPTH = 64

/**
 * The nesting depth of a parsed JSON value, counted without recursion, stopping as soon as it
 * passes `limit` (so a hostile value costs at most its size). A scalar has depth 0, `[]` and `{}` 1.
 * @internal
 */
export const jsonDepthExceeds = (value: unknown, limit: number = MAX_JSON_DEPTH): boolean => {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }]
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!
    if (typeof v !== 'object' || v === null) continue
    const inner = depth + 1
    if (inner > limit) return true
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push({ v: child, depth: inner })
    }
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
 * Parses JSON text from outside into a `Left` with a readable reason (syntax error or nesting
 * deeper than `maxDepth`) or a `Right` value. Never throws.
 * @since 0.2.0
 */
export const parseJson = (text: string, maxDepth: number = MAX_JSON_DEPTH): E.Either<string, unknown> => {
  if (textDepthExceeds(text, maxDepth))
    return E.left(
      `JSON nested deeper than ${maxDepth} levels; backfold refuses it rather than recurse without bound`,
    )
  try {
    return E.right(JSON.parse(text) as unknown)
  } catch (error) {
    return E.left(`not valid JSON (${error instanceof Error ? error.message : String(error)})`)
  }
}
