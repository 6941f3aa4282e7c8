// The computation every browser page runs and the runner repeats in Node (both from the BUILT
// packages): a 256² float32 matmul, the gradient of an MLP's loss, and one epoch of `fit` at batch
// 256. Inputs come from a seeded generator, so both sides start from the same bits.
import { layers, fit, sgd, crossEntropy, tree } from '@backfold/nn'
import { grad } from '@backfold/ops'
import { fromFlat, matmul, random, unsafeTensor } from '@backfold/tensor'

const FEATURES = 32
const CLASSES = 10
const EXAMPLES = 512
const BATCH = 256

/** mulberry32: uniform in [-1, 1). */
const generator = (seed) => {
  let state = seed
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1
  }
}

const float32 = (draw, shape) => {
  const result = fromFlat(new Float32Array(shape.reduce((a, b) => a * b, 1)).map(draw), shape)
  if (result._tag === 'Left') throw new Error(result.left.message)
  return result.right
}

/** One Float32Array of every leaf of a parameter tree, in the tree's order. */
const flat = (params) => {
  const leaves = tree.leaves(params)
  const out = new Float32Array(leaves.reduce((sum, leaf) => sum + leaf.data.length, 0))
  let at = 0
  for (const leaf of leaves) {
    out.set(leaf.data, at)
    at += leaf.data.length
  }
  return out
}

/**
 * Runs the three computations; returns their float32 results (and the epoch's mean loss).
 * @returns {{ matmul: Float32Array, gradient: Float32Array, fitted: Float32Array, loss: number }}
 */
export const compute = () => {
  const draw = generator(20260101)
  const a = float32(draw, [256, 256])
  const b = float32(draw, [256, 256])
  const product = matmul(a, b)

  const model = layers.sequential(layers.dense(128, { activation: 'relu' }), layers.dense(CLASSES))
  const init = model.init(random.key(7), [FEATURES])
  if (init._tag === 'Left') throw new Error(init.left.message)
  const { params, state } = init.right
  const x = float32(draw, [EXAMPLES, FEATURES])
  const labels = Int32Array.from({ length: EXAMPLES }, () => Math.floor(((draw() + 1) / 2) * CLASSES))
  const y = unsafeTensor('int32', [EXAMPLES], labels)

  const lossOf = (p) => crossEntropy(model.apply(p, state, x, { training: true })[0], y)
  const gradient = grad(lossOf)(params)

  const trained = fit({
    model,
    loss: crossEntropy,
    optimizer: sgd(0.1),
    params,
    state,
    data: { x, y },
    epochs: 1,
    batchSize: BATCH,
    key: random.key(11),
  })
  return {
    matmul: product.data,
    gradient: flat(gradient),
    fitted: flat(trained.params),
    loss: trained.history[0].loss,
  }
}
