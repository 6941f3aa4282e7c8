/**
 * End to end on real data: the shipped 8x8 digits (data/digits/digits.csv.gz) are read with the
 * Node loader, split, and a small MLP is trained with `fit` from a fixed key. It must reach a set
 * test accuracy, and two runs must give bitwise identical parameters.
 */
import { describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import * as T from '@backfold/tensor'
import * as O from '@backfold/ops'
import {
  layers,
  adam,
  evaluate,
  fit,
  formatDataError,
  numExamples,
  crossEntropy,
  stratifiedSplit,
  tree,
  validateLabels,
} from '@backfold/nn'
import { loadCsv } from '@backfold/nn/node'

// fp-ts is not a dependency of the repository root, so Eithers are read through their tags here.
const isLeft = <L, R>(
  e: { readonly _tag: 'Left'; readonly left: L } | { readonly _tag: 'Right'; readonly right: R },
): e is { readonly _tag: 'Left'; readonly left: L } => e._tag === 'Left'

const dataFile = fileURLToPath(new URL('../data/digits/digits.csv.gz', import.meta.url))

const loadDigits = async () => {
  const loaded = await loadCsv(dataFile, { labelColumn: 'last' })
  if (isLeft(loaded)) throw new Error(formatDataError(loaded.left))
  const labels = validateLabels(loaded.right.y, 10, { source: dataFile })
  if (isLeft(labels)) throw new Error(formatDataError(labels.left))
  return { x: O.div(loaded.right.x, 16), y: labels.right }
}

const train = (data: { x: T.Tensor; y: T.Tensor }, test: { x: T.Tensor; y: T.Tensor }) => {
  const model = layers.sequential(layers.dense(32), layers.relu(), layers.dense(10))
  const [initKey, fitKey] = T.random.split(T.random.key(42), 2)
  const built = model.init(initKey, [64])
  if (isLeft(built)) throw new Error(built.left.message)
  const result = fit({
    model,
    loss: crossEntropy,
    optimizer: adam(3e-3),
    params: built.right.params,
    state: built.right.state,
    data,
    validationData: test,
    epochs: 12,
    batchSize: 32,
    key: fitKey,
  })
  return { model, result }
}

describe('digits end to end', () => {
  it('a small MLP trained on a subset reaches 90% test accuracy, deterministically', async () => {
    const digits = await loadDigits()
    expect(digits.x.shape).toEqual([1797, 64])
    const { train: pool, test } = stratifiedSplit(digits, { testFraction: 0.2, key: T.random.key(0) })
    // Train on half of the training pool (a stratified subset of ~720 images) to keep the test fast.
    const subset = stratifiedSplit(pool, { testFraction: 0.5, key: T.random.key(1) }).train
    expect(numExamples(subset)).toBe(719)
    expect(numExamples(test)).toBe(359)

    const first = train(subset, test)
    const accuracy = evaluate(first.model, first.result.params, first.result.state, test)['accuracy']!
    expect(accuracy).toBeGreaterThanOrEqual(0.9)
    expect(first.result.history[first.result.history.length - 1]!.valAccuracy).toBe(accuracy)
    expect(first.result.history[0]!.loss).toBeGreaterThan(first.result.history[11]!.loss)

    const second = train(subset, test)
    const bits = (params: unknown) => tree.flattenNamed(params).map(([name, t]) => [name, Array.from(t.data)])
    expect(bits(second.result.params)).toEqual(bits(first.result.params))
  })
})
