import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { MAX_JSON_DEPTH, jsonDepthExceeds, parseJson } from '../src/json'

/** The nesting depth of a JSON value, by plain recursion (fine for the small values the tests make). */
const depthOf = (value: unknown): number =>
  typeof value !== 'object' || value === null
    ? 0
    : 1 + Math.max(0, ...(Array.isArray(value) ? value : Object.values(value)).map(depthOf))

const nestedArrays = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`

describe('jsonDepthExceeds', () => {
  it('counts a scalar as depth 0 and each array or object as one level', () => {
    expect(jsonDepthExceeds(3, 0)).toBe(false)
    expect(jsonDepthExceeds([], 0)).toBe(true)
    expect(jsonDepthExceeds([], 1)).toBe(false)
    expect(jsonDepthExceeds({ a: [1] }, 1)).toBe(true)
    expect(jsonDepthExceeds({ a: [1] }, 2)).toBe(false)
    expect(jsonDepthExceeds({ a: [{ b: {} }] }, 3)).toBe(true)
  })

  it('agrees with a recursive depth on random JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 0, max: 8 }), (value, limit) => {
        expect(jsonDepthExceeds(value, limit)).toBe(depthOf(value) > limit)
      }),
    )
  })

  it('answers for values far deeper than the stack allows, and for cyclic values', () => {
    let deep: unknown = 0
    for (let i = 0; i < 1_000_000; i++) deep = [deep]
    expect(jsonDepthExceeds(deep)).toBe(true)
    const cyclic: { self?: unknown } = {}
    cyclic.self = [cyclic]
    expect(jsonDepthExceeds(cyclic)).toBe(true)
  })

  it('visits a shared sub-object once per depth, not once per path (no exponential blow-up)', () => {
    // 60 levels, each holding the level below twice: 2^60 paths, 60 objects.
    let shared: unknown = 0
    for (let i = 0; i < 60; i++) shared = { left: shared, right: shared }
    const started = performance.now()
    expect(jsonDepthExceeds(shared, 60)).toBe(false)
    expect(jsonDepthExceeds(shared, 59)).toBe(true)
    // Reached first shallow then deep: the deeper path still counts.
    const leaf = { a: [[]] }
    expect(jsonDepthExceeds([leaf, [[leaf]]], 5)).toBe(true)
    expect(jsonDepthExceeds([leaf, [[leaf]]], 6)).toBe(false)
    expect(performance.now() - started).toBeLessThan(5_000)
  })
})

describe('parseJson', () => {
  it('parses JSON within the depth bound, keeping __proto__ an ordinary key', () => {
    expect(parseJson('{"a": [1, {"b": null}]}')).toEqual(E.right({ a: [1, { b: null }] }))
    const parsed = parseJson('{"__proto__": {"x": 1}}')
    if (E.isLeft(parsed)) throw new Error(parsed.left)
    expect(Object.getPrototypeOf(parsed.right)).toBe(Object.prototype)
    expect(Object.keys(parsed.right as object)).toEqual(['__proto__'])
  })

  it('accepts exactly MAX_JSON_DEPTH levels and refuses one more, naming the limit', () => {
    expect(E.isRight(parseJson(nestedArrays(MAX_JSON_DEPTH)))).toBe(true)
    expect(parseJson(nestedArrays(MAX_JSON_DEPTH + 1))).toEqual(
      E.left(
        `JSON nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects, the most backfold reads ` +
          '(it refuses deeper values rather than recurse without bound)',
      ),
    )
    expect(parseJson('[[[1]]]', 2)).toEqual(E.left(expect.stringContaining('deeper than 2 levels')))
  })

  it('never throws, for deep, unbalanced or malformed text', () => {
    for (const text of [
      nestedArrays(1_000_000),
      '['.repeat(100_000),
      ']]]',
      '{"a":',
      '',
      '"\\',
      '{"[[[[": 1}',
    ])
      expect(() => parseJson(text)).not.toThrow()
    expect(parseJson('{"a":')).toEqual(E.left(expect.stringMatching(/^not valid JSON \(/)))
    // Brackets inside strings are not nesting.
    expect(parseJson(`["${'['.repeat(1000)}"]`)).toEqual(E.right(['['.repeat(1000)]))
    expect(parseJson(`["\\"${'{'.repeat(1000)}"]`)).toEqual(E.right([`"${'{'.repeat(1000)}`]))
  })

  it('never throws on random text, and agrees with JSON.parse when it accepts', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json({ maxDepth: 5 })), (text) => {
        const parsed = parseJson(text)
        if (E.isRight(parsed)) expect(parsed.right).toEqual(JSON.parse(text))
      }),
    )
  })
})
