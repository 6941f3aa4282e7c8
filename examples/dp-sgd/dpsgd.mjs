// The core of DP-SGD (Abadi et al. 2016), as small pure functions over parameter trees: per-example
// gradients by vmap(grad), each clipped to an L2 norm bound, summed, Gaussian noise added with an
// explicit key, averaged. main.mjs trains with it; test/dp-sgd.test.ts checks it against a loop.
import * as nn from '@backfold/nn'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'

/**
 * The loss of ONE example for a model of @backfold/nn, whose layers take batches: the example
 * becomes a batch of one. `y` is a one-hot (float) label, so no step reads label data (under vmap
 * the labels are batches, not numbers).
 */
export const exampleLoss = (model, state) => (params, x, y) => {
  const [logits] = model.apply(params, state, O.reshape(x, [1, ...x.shape]), { training: false })
  return O.sum(O.softmaxCrossEntropy(logits, O.reshape(y, [1, ...y.shape])))
}

/** Per-example gradients: the parameters shared (null), examples and labels mapped along axis 0. */
export const perExampleGradients = (loss) => O.vmap(O.grad(loss), { inAxes: [null, 0, 0] })

/** ‖g‖₂ over every leaf of one example's gradient tree. */
const globalNorm = (g) =>
  O.sqrt(
    nn.tree
      .leaves(g)
      .map((leaf) => O.sum(O.square(leaf)))
      .reduce((total, term) => O.add(total, term)),
  )

/**
 * Clips each example's gradient to norm `clipNorm` (g · min(1, C / ‖g‖)), written for one example
 * and mapped with vmap, then sums over the examples. Returns the sum, each example's norm before
 * clipping, and the fraction of examples that were clipped.
 */
export const clipAndSum = (perExample, clipNorm) => {
  const clipOne = (g) => {
    const norm = globalNorm(g)
    const factor = O.minimum(O.div(clipNorm, O.maximum(norm, 1e-12)), 1)
    return [nn.tree.map(g, (leaf) => O.mul(leaf, factor)), norm]
  }
  const [clipped, norms] = O.vmap(clipOne)(perExample)
  const normValues = T.toArray(norms)
  return {
    sum: nn.tree.map(clipped, (leaf) => O.sum(leaf, { axis: 0 })),
    norms,
    clippedFraction: normValues.filter((n) => n > clipNorm).length / normValues.length,
  }
}

/** (sum + N(0, (σC)²)) / batchSize, leaf by leaf, with one key split per leaf. */
export const noisyMean = (sum, { clipNorm, noiseMultiplier, batchSize, key }) => {
  const leaves = nn.tree.leaves(sum)
  const keys = T.random.split(key, leaves.length)
  let i = 0
  return nn.tree.map(sum, (leaf) => {
    const noise = T.random.normal(keys[i++], leaf.shape, { dtype: leaf.dtype })
    return O.div(O.add(leaf, O.mul(noise, noiseMultiplier * clipNorm)), batchSize)
  })
}

/**
 * One DP-SGD step on a batch: returns the new parameters and the clipping fraction.
 * opts: { loss, learningRate, clipNorm, noiseMultiplier, key }.
 */
export const dpSgdStep = (params, batch, opts) => {
  const grads = perExampleGradients(opts.loss)(params, batch.x, batch.y)
  const { sum, clippedFraction } = clipAndSum(grads, opts.clipNorm)
  const update = noisyMean(sum, {
    clipNorm: opts.clipNorm,
    noiseMultiplier: opts.noiseMultiplier,
    batchSize: batch.x.shape[0],
    key: opts.key,
  })
  return {
    params: nn.tree.map2(params, update, (p, g) => O.sub(p, O.mul(g, opts.learningRate))),
    clippedFraction,
  }
}
