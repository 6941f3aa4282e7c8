/**
 * io-ts codecs of the fields of the built-in layers' configs, named by what they expect (the name
 * is what a `ConfigError` shows: "expected a positive integer, got -3").
 */
import * as t from 'io-ts/lib/index.js'
import { refined } from '../codecs'

export const positiveInt = refined(t.number, 'a positive integer', (n) => Number.isInteger(n) && n > 0)
export const nonNegativeInt = refined(
  t.number,
  'a non-negative integer',
  (n) => Number.isInteger(n) && n >= 0,
)
export const finite = refined(t.number, 'a finite number', Number.isFinite)
const pair = <A>(c: t.Type<A, A, unknown>): t.Type<readonly [A, A], readonly [A, A], unknown> =>
  t.readonly(t.tuple([c, c]))
export const positiveOrPair = t.union([positiveInt, pair(positiveInt)], 'a positive integer or [h, w]')
export const padding = t.union(
  [
    nonNegativeInt,
    pair(nonNegativeInt),
    t.readonly(t.tuple([nonNegativeInt, nonNegativeInt, nonNegativeInt, nonNegativeInt])),
    t.literal('same'),
    t.literal('valid'),
  ],
  "'same', 'valid', a non-negative integer, [h, w] or [top, bottom, left, right]",
)
export const dtype = t.union(
  [t.literal('float32'), t.literal('float64'), t.literal('int32')],
  "'float32', 'float64' or 'int32'",
)
export const rate = refined(t.number, 'a rate with 0 <= rate < 1', (r) => r >= 0 && r < 1)
export const unitInterval = refined(t.number, 'a number in (0, 1]', (r) => r > 0 && r <= 1)
export const positive = refined(t.number, 'a positive number', (r) => r > 0 && Number.isFinite(r))
export const integer = refined(t.number, 'an integer', Number.isInteger)
