// A tiny causal language model built from the attention layers trains end to end (eager and jit).
import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import * as L from '../src/layers/index'
import type { Layer, NoState } from '../src/layer'
import { adam } from '../src/optim/index'
import { makeTrainStep } from '../src/train/index'
import { generate } from '../src/generate'
import { key, unwrap } from './helpers'

const VOCAB = 7
const SEQ = 6

/** A vocabulary head on every position: [N, L, dim] → [N, L, vocab] (dense takes rank-1 examples). */
const head = (vocab: number): Layer<{ readonly weight: Tensor }, NoState> => ({
  kind: 'head',
  init: (k, inShape) =>
    E.right({
      params: { weight: T.random.normal(k, [vocab, inShape[1]!], { std: 0.1 }) },
      state: {},
      outShape: [inShape[0]!, vocab],
    }),
  apply: (p, s, x) => [O.matmul(x, p.weight, { transposeB: true }), s],
})

/** Sequences counting up mod VOCAB from a random start: the next token is always (t + 1) mod VOCAB. */
const batch = (seed: number, n: number): { x: Tensor; y: Tensor } => {
  const starts = T.random.randint(T.random.key(seed), [n], 0, VOCAB).data
  const x = new Int32Array(n * SEQ)
  const y = new Int32Array(n * SEQ)
  for (let i = 0; i < n; i++)
    for (let p = 0; p < SEQ; p++) {
      x[i * SEQ + p] = (starts[i]! + p) % VOCAB
      y[i * SEQ + p] = (starts[i]! + p + 1) % VOCAB
    }
  return { x: T.unsafeTensor('int32', [n, SEQ], x), y: T.unsafeTensor('int32', [n, SEQ], y) }
}

/** Mean cross-entropy over every position. */
const loss = (logits: Tensor, labels: Tensor): Tensor =>
  O.mean(O.softmaxCrossEntropyWithIntegerLabels(O.reshape(logits, [-1, VOCAB]), O.reshape(labels, [-1])))

describe('a tiny transformer language model', () => {
  for (const jit of [false, true])
    it(`learns the successor task (jit: ${jit}) and generates greedily from it`, () => {
      const model = L.sequential(
        L.embedding(VOCAB, 16),
        L.positionalEmbedding({ maxLen: SEQ }),
        L.transformerBlock({ heads: 2, mlpRatio: 2, causal: true, dropout: 0.1 }),
        L.layerNorm(),
        head(VOCAB),
      )
      const init = unwrap(model.init(key(0), [SEQ]))
      const optimizer = adam(1e-2)
      const step = makeTrainStep({ model, loss, optimizer, jit })
      let params = init.params
      let state = init.state
      let optState = optimizer.init(params)
      const losses: number[] = []
      for (let i = 0; i < 60; i++) {
        const next = step(params, state, optState, batch(i, 16), key(100 + i))
        params = next.params
        state = next.state
        optState = next.optState
        losses.push(next.metrics.loss)
      }
      expect(losses[0]!).toBeGreaterThan(1.5)
      expect(losses.at(-1)!).toBeLessThan(0.3)
      const out = generate(model, params, state, T.unsafeTensor('int32', [1, 1], Int32Array.of(3)), {
        steps: 5,
        context: SEQ,
      })
      expect([...out.data]).toEqual([3, 4, 5, 6, 0, 1])
    })
})
