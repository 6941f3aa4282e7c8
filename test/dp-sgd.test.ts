/**
 * The core of examples/dp-sgd (DP-SGD): per-example gradients by vmap(grad), clipped, summed,
 * noised, averaged. Checked against a loop over the examples, each with its own grad and clip.
 */
import { describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import * as O from '@backfold/ops'
import { layers, tree } from '@backfold/nn'
import {
  clipAndSum,
  dpSgdStep,
  exampleLoss,
  noisyMean,
  perExampleGradients,
} from '../examples/dp-sgd/dpsgd.mjs'

const model = layers.sequential(layers.dense(5), layers.relu(), layers.dense(3))
const built = model.init(T.random.key(0), [4])
if (built._tag === 'Left') throw new Error('init failed')
const { params, state } = built.right
const batch = 8
const xs = T.random.normal(T.random.key(1), [batch, 4])
const labels = T.tensor([0, 2, 1, 1, 0, 2, 2, 1], 'int32')
const ys = T.oneHot(labels, 3, 'float32')
const loss = exampleLoss(model, state)
type Params = typeof params

const row = (x: T.Tensor, i: number): T.Tensor => T.slice(x, [{ start: i, stop: i + 1 }])
const exampleAt = (x: T.Tensor, i: number): T.Tensor => T.reshape(row(x, i), x.shape.slice(1))
const norm = (g: Params): number =>
  Math.sqrt(tree.leaves(g).reduce((s, l) => s + T.toArray(l).reduce((a, v) => a + v * v, 0), 0))

/** The loop DP-SGD replaces: one grad per example, clipped by hand, summed. */
const loopClippedSum = (clipNorm: number): { readonly sum: Params; readonly norms: number[] } => {
  let sum = tree.zerosLike(params)
  const norms: number[] = []
  for (let i = 0; i < batch; i++) {
    const g = O.grad(loss)(params, exampleAt(xs, i), exampleAt(ys, i))
    const n = norm(g)
    norms.push(n)
    const factor = Math.min(1, clipNorm / n)
    sum = tree.map2(sum, g, (s, gi) => O.add(s, O.mul(gi, factor)))
  }
  return { sum, norms }
}

const expectTreesClose = (a: Params, b: Params, digits: number): void => {
  const la = tree.leaves(a)
  const lb = tree.leaves(b)
  expect(la.length).toBe(lb.length)
  la.forEach((leaf, i) => {
    expect(leaf.shape).toEqual(lb[i]!.shape)
    const other = T.toArray(lb[i]!)
    T.toArray(leaf).forEach((v, j) => expect(v).toBeCloseTo(other[j]!, digits))
  })
}

describe('DP-SGD core (examples/dp-sgd/dpsgd.mjs)', () => {
  it('per-example gradients by vmap(grad) equal one grad per example', () => {
    const perExample = perExampleGradients(loss)(params, xs, ys)
    for (let i = 0; i < batch; i++) {
      const g = O.grad(loss)(params, exampleAt(xs, i), exampleAt(ys, i))
      expectTreesClose(
        tree.map(perExample, (leaf) => exampleAt(leaf, i)),
        g,
        5,
      )
    }
  })

  it('the clipped sum equals a loop of per-example gradients, each clipped, summed', () => {
    const unclipped = loopClippedSum(Infinity)
    const sorted = [...unclipped.norms].sort((a, b) => a - b)
    // A bound between the smallest and largest norms: some examples are clipped, some are not.
    const clipNorm = (sorted[2]! + sorted[3]!) / 2
    const reference = loopClippedSum(clipNorm)
    const result = clipAndSum(perExampleGradients(loss)(params, xs, ys), clipNorm)
    expectTreesClose(result.sum, reference.sum, 5)
    T.toArray(result.norms).forEach((n, i) => expect(n).toBeCloseTo(reference.norms[i]!, 5))
    expect(result.clippedFraction).toBe(reference.norms.filter((n) => n > clipNorm).length / batch)
    expect(result.clippedFraction).toBeGreaterThan(0)
    expect(result.clippedFraction).toBeLessThan(1)
  })

  it('a step without noise is SGD on the mean clipped gradient; the noise depends on the key only', () => {
    const clipNorm = 0.5
    const reference = loopClippedSum(clipNorm)
    const step = (noiseMultiplier: number, key: T.Key) =>
      dpSgdStep(params, { x: xs, y: ys }, { loss, learningRate: 0.1, clipNorm, noiseMultiplier, key })
    const plain = step(0, T.random.key(7))
    expectTreesClose(
      plain.params,
      tree.map2(params, reference.sum, (p, s) => O.sub(p, O.mul(s, 0.1 / batch))),
      5,
    )
    expectTreesClose(step(1, T.random.key(7)).params, step(1, T.random.key(7)).params, 7)
    const noisy = noisyMean(reference.sum, {
      clipNorm,
      noiseMultiplier: 1,
      batchSize: batch,
      key: T.random.key(8),
    })
    const other = noisyMean(reference.sum, {
      clipNorm,
      noiseMultiplier: 1,
      batchSize: batch,
      key: T.random.key(9),
    })
    expect(T.toArray(tree.leaves(noisy)[0]!)).not.toEqual(T.toArray(tree.leaves(other)[0]!))
  })
})
