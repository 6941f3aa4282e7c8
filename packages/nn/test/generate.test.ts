// generate: greedy, temperature and top-k decoding against hand-built logits.
import { describe, expect, it } from 'vitest'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { generate, incrementalDecodingProblem } from '../src/generate'
import * as L from '../src/layers/index'
import type { ApplyContext, Layer, NoParams, NoState } from '../src/layer'
import { key, unwrap } from './helpers'

const VOCAB = 5

/** A model whose logits at each position depend only on that position's token: table[token]. */
const lookup = (table: ReadonlyArray<ReadonlyArray<number>>): Layer<NoParams, NoState> => ({
  kind: 'lookup',
  init: () => {
    throw new Error('not used')
  },
  apply: (_p, s, x) => {
    const w = T.unsafeTensor('float32', [table.length, VOCAB], Float32Array.from(table.flat()))
    return [O.gather(w, x), s]
  },
})

const ints = (rows: number[][]): Tensor =>
  T.unsafeTensor('int32', [rows.length, rows[0]!.length], Int32Array.from(rows.flat()))

/** Token t prefers (t + 1) mod 5 strongly; logits also rank (t + 2) second. */
const successor: number[][] = Array.from({ length: VOCAB }, (_, t) =>
  Array.from({ length: VOCAB }, (_, j) => (j === (t + 1) % VOCAB ? 3 : j === (t + 2) % VOCAB ? 2 : 0)),
)

describe('generate', () => {
  it('greedy appends the argmax of the last position each step, per row', () => {
    const out = generate(
      lookup(successor),
      {},
      {},
      ints([
        [0, 3],
        [2, 4],
      ]),
      { steps: 4 },
    )
    expect(out.shape).toEqual([2, 6])
    expect([...out.data]).toEqual([0, 3, 4, 0, 1, 2, 2, 4, 0, 1, 2, 3])
  })

  it('temperature sampling follows softmax(logits / temperature) (frequencies over 4000 rows)', () => {
    const rows = 4000
    const temperature = 2
    const out = generate(lookup(successor), {}, {}, ints(Array.from({ length: rows }, () => [0])), {
      steps: 1,
      temperature,
      key: key(3),
    })
    const counts = new Array<number>(VOCAB).fill(0)
    for (let r = 0; r < rows; r++) counts[out.data[r * 2 + 1]!]!++
    const z = successor[0]!.reduce((a, l) => a + Math.exp(l / temperature), 0)
    successor[0]!.forEach((l, j) => {
      const p = Math.exp(l / temperature) / z
      // 4 standard deviations of a binomial proportion.
      expect(Math.abs(counts[j]! / rows - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / rows))
    })
  })

  it('top-k keeps only the k largest logits: k = 1 is greedy, k = 2 draws both of the top two and nothing else', () => {
    const prompt = ints(Array.from({ length: 2000 }, () => [0]))
    const one = generate(lookup(successor), {}, {}, prompt, {
      steps: 1,
      temperature: 5,
      topK: 1,
      key: key(1),
    })
    for (let r = 0; r < 2000; r++) expect(one.data[r * 2 + 1]).toBe(1)
    const two = generate(lookup(successor), {}, {}, prompt, {
      steps: 1,
      temperature: 5,
      topK: 2,
      key: key(2),
    })
    const seen = new Set<number>()
    for (let r = 0; r < 2000; r++) seen.add(two.data[r * 2 + 1]!)
    expect([...seen].sort()).toEqual([1, 2])
    // Without top-k, a temperature of 5 draws all five tokens.
    const all = generate(lookup(successor), {}, {}, prompt, { steps: 1, temperature: 5, key: key(2) })
    expect(new Set(Array.from({ length: 2000 }, (_, r) => all.data[r * 2 + 1])).size).toBe(5)
  })

  it('the same key gives the same tokens; context crops the window to a model with a maximum length', () => {
    const opts = { steps: 6, temperature: 1, key: key(9) }
    const a = generate(lookup(successor), {}, {}, ints([[0]]), opts)
    const b = generate(lookup(successor), {}, {}, ints([[0]]), opts)
    expect([...a.data]).toEqual([...b.data])
    const small = L.sequential(
      L.embedding(VOCAB, 4),
      L.positionalEmbedding({ maxLen: 3 }),
      L.transformerBlock({ heads: 2, causal: true }),
    )
    const { params, state } = unwrap(small.init(key(0), [3]))
    const cropped = generate(small, params, state, ints([[1, 2]]), { steps: 3, context: 3 })
    expect(cropped.shape).toEqual([1, 5])
    expect(() => generate(small, params, state, ints([[1, 2]]), { steps: 3 })).toThrow(/logits|maxLen/)
  })

  it('bad options are errors that say what to do', () => {
    const m = lookup(successor)
    expect(() => generate(m, {}, {}, ints([[0]]), { steps: 1, temperature: 1 })).toThrow(/needs a key/)
    expect(() => generate(m, {}, {}, ints([[0]]), { steps: 1, topK: 2 })).toThrow(/topK applies to sampling/)
    expect(() => generate(m, {}, {}, ints([[0]]), { steps: -1 })).toThrow(/steps/)
    expect(() => generate(m, {}, {}, T.zeros([1, 2]), { steps: 1 })).toThrow(/int32 tokens/)
    expect(() => generate(m, {}, {}, ints([[0]]), { steps: 1, topk: 2 } as never)).toThrow(/topk/)
  })

  describe('with key/value caches', () => {
    const V = 7
    const lm = (positions: 'learned' | 'sinusoidal' | 'rotary'): Layer<unknown, unknown> =>
      L.sequential(
        L.embedding(V, 8),
        ...(positions === 'learned'
          ? [L.positionalEmbedding({ maxLen: 6 })]
          : positions === 'sinusoidal'
            ? [L.sinusoidal()]
            : []),
        L.transformerBlock({ heads: 2, causal: true, rotary: positions === 'rotary' }),
        L.transformerBlock({ heads: 2, causal: true, rotary: positions === 'rotary' }),
        L.layerNorm(),
        L.dense(V),
      ) as Layer<unknown, unknown>
    /** The model, recording the length of every input and whether it ran with a cache. */
    const recording = (
      model: Layer<unknown, unknown>,
      calls: Array<[number, boolean]>,
    ): Layer<unknown, unknown> => ({
      ...model,
      apply: (p, s, x, ctx: ApplyContext) => {
        calls.push([x.shape[1]!, ctx.cache !== undefined])
        return model.apply(p, s, x, ctx)
      },
    })
    const prompt = ints([
      [1, 2],
      [3, 0],
    ])

    it('cached and uncached generation give the same tokens for the same key; the cached one feeds one token per step', () => {
      for (const positions of ['learned', 'sinusoidal', 'rotary'] as const) {
        const model = lm(positions)
        const { params, state } = unwrap(model.init(key(5), [6]))
        for (const sampling of [
          {},
          { temperature: 1.5, key: key(8) },
          { temperature: 1, topK: 3, key: key(9) },
        ]) {
          const calls: Array<[number, boolean]> = []
          const opts = { steps: 4, ...sampling }
          const cached = generate(recording(model, calls), params, state, prompt, opts)
          const plain = generate(model, params, state, prompt, { ...opts, cache: false })
          expect([...cached.data]).toEqual([...plain.data])
          expect(calls).toEqual([
            [2, true],
            [1, true],
            [1, true],
            [1, true],
          ])
        }
        // A sliding window (context 4 < 2 + 7 tokens): once full, each step recomputes the window
        // from empty caches, as without the cache.
        const calls: Array<[number, boolean]> = []
        const opts = { steps: 7, context: 4, temperature: 1, key: key(3) }
        const cached = generate(recording(model, calls), params, state, prompt, opts)
        const plain = generate(model, params, state, prompt, { ...opts, cache: false })
        expect([...cached.data]).toEqual([...plain.data])
        expect(calls.map(([l]) => l)).toEqual([2, 1, 1, 4, 4, 4, 4])
      }
    })

    it('a model that cannot decode incrementally recomputes by default, and cache: true says why it cannot', () => {
      const calls: Array<[number, boolean]> = []
      const bidirectional = L.sequential(L.embedding(V, 4), L.multiHeadAttention({ heads: 2 }), L.dense(V))
      const { params, state } = unwrap(bidirectional.init(key(0), [4]))
      generate(recording(bidirectional as Layer<unknown, unknown>, calls), params, state, prompt, {
        steps: 2,
      })
      expect(calls).toEqual([
        [2, false],
        [3, false],
      ])
      expect(() => generate(bidirectional, params, state, prompt, { steps: 1, cache: true })).toThrow(
        /generate: cache: true, but the model cannot decode incrementally: 1 \(multiHeadAttention\) is not causal/,
      )
      expect(incrementalDecodingProblem(lookup(successor))).toMatch(/has no config/)
      expect(
        incrementalDecodingProblem(
          L.sequential(L.embedding(V, 4), L.residual(L.sequential(L.lstm(4, { returnSequences: true })))),
        ),
      ).toMatch(/^1\.0 \(lstm\) is not known to decode incrementally/)
      expect(incrementalDecodingProblem(L.sequential(L.embedding(V, 4), L.layerNorm({ axes: 2 })))).toMatch(
        /1 \(layerNorm\) normalises over more than the last axis/,
      )
      expect(incrementalDecodingProblem(lm('learned'))).toBeUndefined()
    })
  })
})
