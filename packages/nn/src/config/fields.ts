/**
 * io-ts codecs of the fields of the built-in layers' configs, named by what they expect (the name
 * is what a `ConfigError` shows: "expected a positive integer, got -3").
 */
import * as t from 'io-ts/lib/index.js'
import { refined } from '../codecs'

export const positiveInt = /* @__PURE__ */ refined(
  t.number,
  'a positive integer',
  (n) => Number.isInteger(n) && n > 0,
)
export const nonNegativeInt = /* @__PURE__ */ refined(
  t.number,
  'a non-negative integer',
  (n) => Number.isInteger(n) && n >= 0,
)
export const finite = /* @__PURE__ */ refined(t.number, 'a finite number', Number.isFinite)
const pair = <A>(c: t.Type<A, A, unknown>): t.Type<readonly [A, A], readonly [A, A], unknown> =>
  t.readonly(t.tuple([c, c]))
export const positiveOrPair = /* @__PURE__ */ t.union(
  [positiveInt, /* @__PURE__ */ pair(positiveInt)],
  'a positive integer or [h, w]',
)
export const padding = /* @__PURE__ */ t.union(
  [
    nonNegativeInt,
    /* @__PURE__ */ pair(nonNegativeInt),
    /* @__PURE__ */ t.readonly(t.tuple([nonNegativeInt, nonNegativeInt, nonNegativeInt, nonNegativeInt])),
    /* @__PURE__ */ t.literal('same'),
    /* @__PURE__ */ t.literal('valid'),
  ],
  "'same', 'valid', a non-negative integer, [h, w] or [top, bottom, left, right]",
)
export const dtype = /* @__PURE__ */ t.union(
  [
    /* @__PURE__ */ t.literal('float32'),
    /* @__PURE__ */ t.literal('float64'),
    /* @__PURE__ */ t.literal('int32'),
  ],
  "'float32', 'float64' or 'int32'",
)
export const rate = /* @__PURE__ */ refined(t.number, 'a rate with 0 <= rate < 1', (r) => r >= 0 && r < 1)
export const unitInterval = /* @__PURE__ */ refined(t.number, 'a number in (0, 1]', (r) => r > 0 && r <= 1)
export const positive = /* @__PURE__ */ refined(
  t.number,
  'a positive number',
  (r) => r > 0 && Number.isFinite(r),
)
export const integer = /* @__PURE__ */ refined(t.number, 'an integer', Number.isInteger)
