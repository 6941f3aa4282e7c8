// Incremental decoding (ApplyContext.cache): cached logits against the full recompute of every
// prefix, for one attention layer and for 2-block models with each positional encoding kind.
import { describe, expect, it } from 'vitest'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import * as L from '../src/layers/index'
import type { Layer } from '../src/layer'
import { evalCtx, key, randn, unwrap } from './helpers'

const maxDiff = (a: Tensor, b: Tensor): number => {
  expect(a.shape).toEqual(b.shape)
  let m = 0
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!))
  return m
}

/** Positions `start..stop−1` of axis 1. */
const cols = (x: Tensor, start: number, stop: number): Tensor => O.slice(x, [undefined, { start, stop }])

/**
 * Feeds `x` in the given chunks with the cache and checks each chunk's output against the full
 * recompute of the prefix that ends with it (the same positions of `model.apply` on x[:, :stop]).
 */
const checkAgainstRecompute = <P, S>(
  model: Layer<P, S>,
  params: P,
  initial: S,
  x: Tensor,
  chunks: ReadonlyArray<number>,
  capacity: number,
): number => {
  const ctx = { training: false, cache: { capacity } }
  let state = initial
  let start = 0
  let worst = 0
  for (const length of chunks) {
    const [y, next] = model.apply(params, state, cols(x, start, start + length), ctx)
    state = next
    const [full] = model.apply(params, initial, cols(x, 0, start + length), evalCtx)
    worst = Math.max(worst, maxDiff(y, cols(full, start, start + length)))
    start += length
  }
  return worst
}

describe('multiHeadAttention with a key/value cache', () => {
  it('equals the full recompute of every prefix (causal or not, rotary or not; a prompt, then one token at a time)', () => {
    for (const causal of [true, false])
      for (const rotary of [false, true]) {
        const layer = L.multiHeadAttention({ heads: 2, causal, rotary, dtype: 'float64' })
        const { params, state } = unwrap(layer.init(key(1), [7, 8]))
        const x = randn(2, [3, 7, 8])
        expect(checkAgainstRecompute(layer, params, state, x, [3, 1, 1, 1, 1], 8)).toBeLessThan(1e-12)
        // float32 parameters and input, as a model trains: within 1e-5.
        const l32 = L.multiHeadAttention({ heads: 2, causal, rotary })
        const b32 = unwrap(l32.init(key(1), [7, 8]))
        const x32 = T.astype(x, 'float32')
        expect(checkAgainstRecompute(l32, b32.params, b32.state, x32, [1, 1, 2, 1, 1, 1], 7)).toBeLessThan(
          1e-5,
        )
      }
  })

  it('keeps its cache as explicit state: [batch, heads, capacity, dim/heads] buffers and an int32 position', () => {
    const layer = L.multiHeadAttention({ heads: 2, causal: true })
    const { params, state } = unwrap(layer.init(key(0), [4, 6]))
    expect(state).toEqual({})
    const [, s1] = layer.apply(params, state, randn(1, [2, 3, 6]), {
      training: false,
      cache: { capacity: 5 },
    })
    expect(s1.cache!.key.shape).toEqual([2, 2, 5, 3])
    expect(s1.cache!.value.shape).toEqual([2, 2, 5, 3])
    expect(s1.cache!.position.dtype).toBe('int32')
    expect([...s1.cache!.position.data]).toEqual([3])
    // Unfilled positions are zeros; the input's state is not changed.
    expect(
      [...O.slice(s1.cache!.key, [undefined, undefined, { start: 3, stop: 5 }]).data].every((v) => v === 0),
    ).toBe(true)
    expect(state).toEqual({})
    // Without ctx.cache (training and evaluation) the state passes through untouched.
    const x = randn(2, [2, 4, 6])
    expect(layer.apply(params, state, x, evalCtx)[1]).toBe(state)
  })

  it('exceeding the capacity, a cache without ctx.cache, training mode and another batch are errors naming the layer', () => {
    const layer = L.multiHeadAttention({ heads: 2, causal: true })
    const { params, state } = unwrap(layer.init(key(0), [4, 6]))
    const ctx = { training: false, cache: { capacity: 4 } }
    const [, s3] = layer.apply(params, state, randn(1, [1, 3, 6]), ctx)
    const [, s4] = layer.apply(params, s3, randn(2, [1, 1, 6]), ctx)
    expect(() => layer.apply(params, s4, randn(3, [1, 1, 6]), ctx)).toThrow(
      /multiHeadAttention: the decoding cache holds 4 positions; 4 are filled and 1 more were given/,
    )
    expect(() => layer.apply(params, s3, randn(3, [1, 2, 6]), ctx)).toThrow(/holds 4 positions/)
    expect(() => layer.apply(params, s3, randn(3, [1, 1, 6]), evalCtx)).toThrow(
      /multiHeadAttention: the state holds a decoding cache but ctx.cache is absent/,
    )
    expect(() =>
      layer.apply(params, state, randn(3, [1, 1, 6]), {
        training: true,
        key: key(0),
        cache: { capacity: 4 },
      }),
    ).toThrow(/for evaluation/)
    expect(() => layer.apply(params, s3, randn(3, [2, 1, 6]), ctx)).toThrow(
      /batch and capacity the cache began with/,
    )
    expect(() =>
      layer.apply(params, s3, randn(3, [1, 1, 6]), { training: false, cache: { capacity: 6 } }),
    ).toThrow(/batch and capacity/)
    expect(() =>
      layer.apply(params, state, randn(3, [1, 1, 6]), { training: false, cache: { capacity: 0 } }),
    ).toThrow(/capacity must be a positive integer/)
  })
})

describe('2-block language models with a key/value cache', () => {
  const VOCAB = 11
  const DIM = 8
  const models: ReadonlyArray<readonly [string, Layer<unknown, unknown>]> = [
    [
      'learned positions',
      L.sequential(
        L.embedding(VOCAB, DIM),
        L.positionalEmbedding({ maxLen: 9 }),
        L.transformerBlock({ heads: 2, causal: true }),
        L.transformerBlock({ heads: 2, causal: true }),
        L.layerNorm(),
        L.dense(VOCAB),
      ) as Layer<unknown, unknown>,
    ],
    [
      'sinusoidal positions',
      L.sequential(
        L.embedding(VOCAB, DIM),
        L.sinusoidal(),
        L.transformerBlock({ heads: 2, causal: true }),
        L.transformerBlock({ heads: 2, causal: true }),
        L.layerNorm(),
        L.dense(VOCAB),
      ) as Layer<unknown, unknown>,
    ],
    [
      'rotary positions',
      L.sequential(
        L.embedding(VOCAB, DIM),
        L.transformerBlock({ heads: 2, causal: true, rotary: true }),
        L.transformerBlock({ heads: 2, causal: true, rotary: true }),
        L.layerNorm(),
        L.dense(VOCAB),
      ) as Layer<unknown, unknown>,
    ],
  ]
  const tokens = T.unsafeTensor(
    'int32',
    [2, 9],
    Int32Array.from([3, 1, 4, 1, 5, 9, 2, 6, 5, 2, 7, 1, 8, 2, 8, 1, 8, 2]),
  )

  for (const [name, model] of models)
    it(`${name}: the logits at every step equal the full recompute within 1e-5`, () => {
      const { params, state } = unwrap(model.init(key(4), [9]))
      // A 3-token prompt, then one token at a time up to the capacity (9 positions).
      expect(checkAgainstRecompute(model, params, state, tokens, [3, 1, 1, 1, 1, 1, 1], 9)).toBeLessThan(1e-5)
      // Token by token from the start.
      expect(checkAgainstRecompute(model, params, state, tokens, Array(9).fill(1), 9)).toBeLessThan(1e-5)
      // A cache that is too small is refused at the step that overflows it, naming the layer.
      const ctx = { training: false, cache: { capacity: 4 } }
      const [, s4] = model.apply(params, state, cols(tokens, 0, 4), ctx)
      expect(() => model.apply(params, s4, cols(tokens, 4, 5), ctx)).toThrow(/cache holds 4 positions/)
    })

  it('the state of init is unchanged by whole-sequence evaluation and training (no cache appears)', () => {
    const model = models[0]![1]
    const { params, state } = unwrap(model.init(key(4), [9]))
    expect(model.apply(params, state, tokens, evalCtx)[1]).toEqual(state)
    expect(model.apply(params, state, tokens, { training: true, key: key(1) })[1]).toEqual(state)
  })

  it('positional layers count positions in decoding mode and refuse positions past maxLen', () => {
    const layer = L.positionalEmbedding({ maxLen: 3 })
    const { params } = unwrap(layer.init(key(0), [3, 2]))
    const ctx = { training: false, cache: { capacity: 5 } }
    const [y0, s2] = layer.apply(params, {}, T.zeros([1, 2, 2]), ctx)
    expect([...s2.position!.data]).toEqual([2])
    const [y1, s3] = layer.apply(params, s2, T.zeros([1, 1, 2]), ctx)
    // Row 2 of the table at the third position.
    expect([...y1.data]).toEqual([...O.slice(params.weight, [{ start: 2, stop: 3 }]).data])
    expect([...y0.data]).toEqual([...O.slice(params.weight, [{ start: 0, stop: 2 }]).data])
    expect(() => layer.apply(params, s3, T.zeros([1, 1, 2]), ctx)).toThrow(/positions 3\.\.3 exceed maxLen 3/)
    const sin = L.sinusoidal()
    const [z, p1] = sin.apply({}, { position: T.scalar(5, 'int32') }, T.zeros([1, 1, 4]), {
      training: false,
      cache: { capacity: 8 },
    })
    // PE[5] = [sin 5, cos 5, sin(5/100), cos(5/100)] for dim 4, base 10000.
    expect(Array.from(z.data, (v) => Number(v.toFixed(5)))).toEqual(
      [Math.sin(5), Math.cos(5), Math.sin(5 / 100), Math.cos(5 / 100)].map((v) => Number(v.toFixed(5))),
    )
    expect([...p1.position!.data]).toEqual([6])
  })
})
