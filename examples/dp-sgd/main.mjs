// DP-SGD on the 8x8 digits shipped in data/digits: differentially private training of a small MLP
// (Abadi et al., "Deep Learning with Differential Privacy", 2016). Each step takes the gradient of
// every example separately (vmap of grad: one batched computation, no loop), clips each to an L2
// norm bound C, sums them, adds Gaussian noise of standard deviation σC (from an explicit random
// key) and averages. No example can move the parameters by more than C/B, and the noise hides it.
// This example does not compute the privacy budget ε: that needs an accountant (RDP, say) run over
// the sampling rate, σ and the number of steps.
//
// Run from the repository root: npx -y pnpm@10 run build && node examples/dp-sgd/main.mjs
// Exits with code 1 if the final test accuracy is below 85%.
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import * as nn from '@backfold/nn'
import * as nnNode from '@backfold/nn/node'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import { dpSgdStep, exampleLoss } from './dpsgd.mjs'

const REQUIRED_ACCURACY = 0.85
const dataFile = fileURLToPath(new URL('../../data/digits/digits.csv.gz', import.meta.url))
const orDie = (either, format) => {
  if (E.isLeft(either)) {
    console.error(format(either.left))
    process.exit(1)
  }
  return either.right
}
const started = performance.now()

// Data: pixels scaled to [0, 1], labels one-hot (the per-example loss reads no label data), a fixed 80/20 split.
const csv = orDie(await nnNode.loadCsv(dataFile, { labelColumn: 'last' }), nn.formatDataError)
const labels = orDie(nn.validateLabels(csv.y, 10, { source: dataFile }), nn.formatDataError)
const { train, test } = nn.stratifiedSplit(
  { x: O.div(csv.x, 16), y: labels },
  { testFraction: 0.2, key: T.random.key(0) },
)
const oneHot = (dataset) => ({ x: dataset.x, y: T.oneHot(dataset.y, 10, 'float32') })

// Model: 64-32-10 with ReLU.
const model = nn.layers.sequential(nn.layers.dense(32), nn.layers.relu(), nn.layers.dense(10))
const [initKey, shuffleKey, noiseKey] = T.random.split(T.random.key(1), 3)
const initial = orDie(model.init(initKey, [64]), nn.formatLayerError)
const loss = exampleLoss(model, initial.state)

// Privacy hyperparameters: clip norm C, noise multiplier σ, batch (lot) size B.
const clipNorm = 1
const noiseMultiplier = 1.1
const batchSize = 64
const learningRate = 0.5
const epochs = 12
console.log(
  `DP-SGD on digits: ${nn.numExamples(train)} training images, 64-32-10 MLP (${nn.tree.size(initial.params)} parameters); ` +
    `clip norm ${clipNorm}, noise multiplier ${noiseMultiplier}, batch ${batchSize}, learning rate ${learningRate}`,
)

const evaluate = (params, dataset) =>
  nn.evaluate(model, params, initial.state, dataset, { loss: nn.crossEntropy })

let params = initial.params
let step = 0
for (let epoch = 1; epoch <= epochs; epoch++) {
  let clipped = 0
  let steps = 0
  for (const batch of nn.batches(train, batchSize, { key: T.random.foldIn(shuffleKey, epoch) })) {
    const result = dpSgdStep(params, oneHot(batch), {
      loss,
      learningRate,
      clipNorm,
      noiseMultiplier,
      key: T.random.foldIn(noiseKey, step++),
    })
    params = result.params
    clipped += result.clippedFraction
    steps++
  }
  const trainEval = evaluate(params, train)
  const testEval = evaluate(params, test)
  console.log(
    `epoch ${String(epoch).padStart(2)}: train loss ${trainEval.loss.toFixed(4)}, ` +
      `train accuracy ${(100 * trainEval.accuracy).toFixed(1)}%, test accuracy ${(100 * testEval.accuracy).toFixed(1)}%, ` +
      `examples clipped ${(100 * (clipped / steps)).toFixed(0)}%`,
  )
}

const final = evaluate(params, test).accuracy
console.log(
  `final test accuracy ${(100 * final).toFixed(2)}% in ${((performance.now() - started) / 1000).toFixed(1)} s`,
)
if (final < REQUIRED_ACCURACY) {
  console.error(`below the required ${100 * REQUIRED_ACCURACY}%`)
  process.exit(1)
}
