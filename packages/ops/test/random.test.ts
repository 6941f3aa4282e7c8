import { describe, expect, expectTypeOf, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Key, Tensor } from '@backfold/tensor'
import {
  grad,
  makeGraph,
  mul,
  randomBernoulli,
  randomBits,
  randomCategorical,
  randomFoldIn,
  randomNormal,
  randomSplit,
  randomTruncatedNormal,
  randomUniform,
  sum,
  splitKeys,
  TraceError,
  vmap,
} from '@backfold/ops'
import { eagerOutcome, stagedOutcome } from './abstractOutcome'

// The random ops against the single-key samplers of @backfold/tensor, under vmap with distinct keys
// (the table in vmap.test.ts maps copies of one key, since it leaves int32 arguments unchanged).

const E = 5
const members: Key[] = T.random.split(T.random.key(11), E)
const keys = T.random.keysData(members)

/** Example `i` along axis 0, as plain numbers. */
const example = (t: Tensor, i: number): number[] => {
  const per = t.data.length / t.shape[0]!
  return Array.from(t.data.subarray(i * per, (i + 1) * per))
}

describe('random ops draw per key exactly as the single-key samplers', () => {
  it('outside any transformation: a Key, or a key batch of any rank', () => {
    expect(Array.from(randomUniform(members[0]!, [3, 2]).data)).toEqual(
      Array.from(T.random.uniform(members[0]!, [3, 2]).data),
    )
    const grid = T.reshape(T.slice(keys, [{ start: 0, stop: 4 }]), [2, 2, 2])
    const drawn = randomNormal(grid, [3], { std: 2 })
    expect(drawn.shape).toEqual([2, 2, 3])
    expect(example(T.reshape(drawn, [4, 3]), 3)).toEqual(
      Array.from(T.random.normal(members[3]!, [3], { std: 2 }).data),
    )
  })

  it('vmap over distinct keys, mapped along any axis, equals the per-key draws stacked', () => {
    const cases: ReadonlyArray<readonly [string, (k: Tensor) => Tensor, (k: Key) => number[]]> = [
      [
        'uniform',
        (k) => randomUniform(k, [2, 3], { min: -1, max: 4 }),
        (k) => Array.from(T.random.uniform(k, [2, 3], { min: -1, max: 4 }).data),
      ],
      [
        'normal',
        (k) => randomNormal(k, [4], { dtype: 'float64' }),
        (k) => Array.from(T.random.normal(k, [4], { dtype: 'float64' }).data),
      ],
      [
        'truncatedNormal',
        (k) => randomTruncatedNormal(k, [3], { std: 0.1 }),
        (k) => Array.from(T.random.truncatedNormal(k, [3], { std: 0.1 }).data),
      ],
      [
        'bernoulli',
        (k) => randomBernoulli(k, 0.4, [7]),
        (k) => Array.from(T.random.bernoulli(k, 0.4, [7]).data),
      ],
      ['bits', (k) => randomBits(k, 3), (k) => Array.from(T.random.randomBits(k, 3), (w) => w | 0)],
      ['split', (k) => randomSplit(k, 3), (k) => Array.from(T.random.keysData(T.random.split(k, 3)).data)],
      [
        'foldIn',
        (k) => randomFoldIn(k, 42),
        (k) => Array.from(T.random.keyData(T.random.foldIn(k, 42)).data),
      ],
    ]
    for (const [name, f, single] of cases) {
      // keys [E, 2] mapped along 0, and the same keys laid out [2, E] mapped along the last axis.
      for (const [batch, inAxis] of [
        [keys, 0],
        [T.transpose(keys, [1, 0]), -1],
      ] as const) {
        const out = vmap(f, { inAxes: [inAxis] })(batch)
        expect(out.shape[0], name).toBe(E)
        members.forEach((k, i) => expect(example(out, i), `${name} member ${i}`).toEqual(single(k)))
      }
    }
  })

  it('nested vmap over a grid of keys', () => {
    const grid = T.reshape(T.random.keysData(T.random.split(T.random.key(3), 6)), [2, 3, 2])
    const out = vmap((row: Tensor) => vmap((k: Tensor) => randomUniform(k, [2]))(row))(grid)
    expect(out.shape).toEqual([2, 3, 2])
    const flat = T.random.split(T.random.key(3), 6)
    flat.forEach((k, i) =>
      expect(example(T.reshape(out, [6, 2]), i)).toEqual(Array.from(T.random.uniform(k, [2]).data)),
    )
  })

  it('splitKeys on a wrapped mapped key gives the mapped split, usable as Keys', () => {
    const out = vmap((k: Tensor) => {
      const [a, b] = splitKeys(T.random.wrapKey(k), 2)
      return [randomNormal(a, [2]), randomUniform(b, [3])] as const
    })(keys)
    members.forEach((k, i) => {
      const [a, b] = T.random.split(k, 2)
      expect(example(out[0], i)).toEqual(Array.from(T.random.normal(a, [2]).data))
      expect(example(out[1], i)).toEqual(Array.from(T.random.uniform(b, [3]).data))
    })
    expect(splitKeys(members[0]!, 3)).toEqual(T.random.split(members[0]!, 3))
    // Typed like random.split: a tuple for a literal count up to 8, Key[] otherwise.
    expectTypeOf(splitKeys(members[0]!, 3)).toEqualTypeOf<[Key, Key, Key]>()
    const count: number = 2
    expectTypeOf(splitKeys(members[0]!, count)).toEqualTypeOf<Key[]>()
  })

  it('the samplers of @backfold/tensor refuse a mapped key with advice, not a silent draw', () => {
    expect(() => vmap((k: Tensor) => T.random.uniform(T.random.wrapKey(k), [2]))(keys)).toThrow(TraceError)
    expect(() => vmap((k: Tensor) => T.random.uniform(T.random.wrapKey(k), [2]))(keys)).toThrow(
      /random ops of @backfold\/ops/,
    )
  })

  it('keys have no derivative: the gradient flows to x only, also under vmap over keys', () => {
    const loss = (x: Tensor, k: Tensor): Tensor => sum(mul(x, randomUniform(k, [3], { dtype: 'float64' })))
    const x = T.tensor([1, 2, 3], 'float64')
    const perExample = vmap(grad(loss), { inAxes: [null, 0] })(x, keys)
    members.forEach((k, i) =>
      expect(example(perExample, i)).toEqual(Array.from(T.random.uniform(k, [3], { dtype: 'float64' }).data)),
    )
    const byKey = grad(loss, { argnums: 1 })
    expect(() => byKey(x, T.random.keyData(members[0]!))).toThrow(/int32/)
  })

  it('checks options and keys under the op name', () => {
    expect(() => randomUniform(members[0]!, [2], { mn: 0 } as never)).toThrow(/randomUniform.*mn/)
    expect(() => randomNormal(T.tensor([1, 2, 3], 'int32'), [2])).toThrow(/\[\.\.\., 2\]/)
    expect(() => randomUniform(T.tensor([1, 2]), [2])).toThrow(/int32/)
  })
})

describe('random shape rules (staging)', () => {
  // Every random op with good and bad parameters: each staged draw has the eager draw's shape and
  // dtype ([...key batch shape, ...sample shape]), or staging throws the eager error.
  const draws: ReadonlyArray<readonly [string, (k: Tensor) => Tensor]> = [
    ['randomBits', (k) => randomBits(k, 3)],
    ['randomBits, a bad count', (k) => randomBits(k, -1)],
    ['randomSplit', (k) => randomSplit(k, 4)],
    ['randomSplit, a bad n', (k) => randomSplit(k, 1.5)],
    ['randomFoldIn', (k) => randomFoldIn(k, 7)],
    ['randomFoldIn, bad data', (k) => randomFoldIn(k, -7)],
    ['randomUniform', (k) => randomUniform(k, [2, 3], { dtype: 'float64' })],
    ['randomUniform, an int32 dtype', (k) => randomUniform(k, [2], { dtype: 'int32' })],
    ['randomUniform, a bad shape', (k) => randomUniform(k, [2, -1])],
    ['randomNormal', (k) => randomNormal(k, [4], { std: 2 })],
    ['randomNormal, a negative std', (k) => randomNormal(k, [4], { std: -1 })],
    ['randomTruncatedNormal', (k) => randomTruncatedNormal(k, [], { dtype: 'float64' })],
    ['randomTruncatedNormal, empty bounds', (k) => randomTruncatedNormal(k, [2], { lower: 1, upper: 1 })],
    ['randomBernoulli', (k) => randomBernoulli(k, 0.3, [2, 2])],
    ['randomBernoulli, p out of range', (k) => randomBernoulli(k, 2, [2])],
  ]
  const keyBatches: ReadonlyArray<readonly [string, Tensor]> = [
    ['one key [2]', T.random.keyData(members[0]!)],
    ['a key batch [5, 2]', keys],
    ['a key grid [0, 3, 2]', T.zeros([0, 3, 2], 'int32')],
    ['float32 keys', T.zeros([2], 'float32')],
    ['keys of shape [3]', T.zeros([3], 'int32')],
    ['a scalar', T.zeros([], 'int32')],
  ]
  const cases = draws.flatMap(([draw, f]) =>
    keyBatches.map(([batch, k]) => [`${draw} from ${batch}`, f, k] as const),
  )

  it.each(cases)('%s', (_name, f, k) => {
    expect(stagedOutcome(f, [k])).toEqual(eagerOutcome(f, [k]))
  })

  it('the output holds the key batch axes, then the sample axes', () => {
    const grid = T.zeros([2, 3, 2], 'int32')
    expect(stagedOutcome((k: Tensor) => randomNormal(k, [4, 5]), [grid])).toEqual({
      shape: [2, 3, 4, 5],
      dtype: 'float32',
    })
    expect(stagedOutcome((k: Tensor) => randomSplit(k, 4), [grid])).toEqual({
      shape: [2, 3, 4, 2],
      dtype: 'int32',
    })
    expect(stagedOutcome((k: Tensor) => randomBernoulli(k, 0.5, [7]), [grid])).toEqual({
      shape: [2, 3, 7],
      dtype: 'int32',
    })
  })

  it('too many elements: staging refuses a draw the sampler would refuse', () => {
    const many = T.zeros([70000, 2], 'int32')
    const f = (k: Tensor): Tensor => randomBits(k, 40000)
    expect(() => makeGraph(f)(many)).toThrow(/randomBitsEach: 70000 keys .* at most 2147483647/)
  })
})

describe('randomCategorical', () => {
  const logitsOf = (ps: ReadonlyArray<number>): Tensor => T.tensor(ps.map(Math.log), 'float64')

  it('draws each category with probability softmax(logits): chi-square at a fixed key', () => {
    const probs = [0.1, 0.2, 0.3, 0.4]
    const draws = 20000
    const samples = randomCategorical(T.random.key(7), logitsOf(probs), { shape: [draws] })
    expect(samples.dtype).toBe('int32')
    expect(samples.shape).toEqual([draws])
    const counts = probs.map(() => 0)
    for (const s of samples.data) counts[s]!++
    const chi2 = counts.reduce((acc, c, i) => acc + (c - draws * probs[i]!) ** 2 / (draws * probs[i]!), 0)
    expect(chi2).toBeLessThan(16.27) // 3 degrees of freedom, p = 0.001
  })

  it('never draws a category whose logit is -Infinity, and takes any axis', () => {
    const logits = T.tensor([
      [0, -Infinity, 0],
      [-Infinity, -Infinity, 5],
    ])
    const rows = randomCategorical(T.random.key(1), logits, { shape: [500, 2] })
    for (let i = 0; i < rows.data.length; i++) expect(rows.data[i]).not.toBe(i % 2 === 0 ? 1 : 0)
    for (let i = 1; i < rows.data.length; i += 2) expect(rows.data[i]).toBe(2)
    const columns = randomCategorical(T.random.key(2), T.transpose(logits), { axis: 0 })
    expect(columns.shape).toEqual([2])
    expect(columns.data[1]).toBe(2)
  })

  it('is reproducible per key and independent across keys under vmap', () => {
    const logits = T.zeros([3, 10])
    const a = randomCategorical(T.random.key(3), logits)
    expect(Array.from(randomCategorical(T.random.key(3), logits).data)).toEqual(Array.from(a.data))
    const keys = randomSplit(T.random.key(4), 4)
    const mapped = vmap((k: Tensor) => randomCategorical(k, logits))(keys)
    expect(mapped.shape).toEqual([4, 3])
    const one = randomCategorical(splitKeys(T.random.key(4), 4)[1]!, logits)
    expect(Array.from(T.slice(mapped, [{ start: 1, stop: 2 }]).data)).toEqual(Array.from(one.data))
  })

  it('refuses a key batch, an empty category axis and bad options', () => {
    expect(() => randomCategorical(T.zeros([3, 2], 'int32'), T.zeros([4]))).toThrow(/map over keys with vmap/)
    expect(() => randomCategorical(T.random.key(0), T.zeros([2, 0]))).toThrow(/empty/)
    expect(() => randomCategorical(T.random.key(0), T.zeros([]))).toThrow(/rank >= 1/)
    expect(() => randomCategorical(T.random.key(0), T.zeros([3]), { shape: [-1] })).toThrow(/shape/)
  })
})
