import * as t from 'io-ts/lib/index.js'

/**
 * An io-ts codec that also checks a predicate, named by what it expects (the name is what error
 * messages show, e.g. "expected a positive integer"). Shared by the model-config and checkpoint codecs.
 * @internal
 */
export const refined = <A>(
  base: t.Type<A, A, unknown>,
  expected: string,
  ok: (a: A) => boolean,
): t.Type<A, A, unknown> =>
  new t.Type<A, A, unknown>(
    expected,
    (u): u is A => base.is(u) && ok(u),
    (u, c) => (base.is(u) && ok(u) ? t.success(u) : t.failure(u, c)),
    t.identity,
  )
