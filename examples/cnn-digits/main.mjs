// A small CNN on the 8x8 digits: conv 16@3x3 (same) → relu → maxpool 2 → conv 32@3x3 (same) → relu →
// flatten → dense 10. Run: npx -y pnpm@10 run build && node examples/cnn-digits/main.mjs
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import * as nn from '@backfold/nn'
import * as nnNode from '@backfold/nn/node'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'

const orDie = (either, format) => {
  if (E.isLeft(either)) {
    console.error(format(either.left))
    process.exit(1)
  }
  return either.right
}
const file = fileURLToPath(new URL('../../data/digits/digits.csv.gz', import.meta.url))
const csv = orDie(await nnNode.loadCsv(file, { labelColumn: 'last' }), nn.formatDataError)
const labels = orDie(nn.validateLabels(csv.y, 10, { source: file }), nn.formatDataError)
const images = O.reshape(O.div(csv.x, 16), [-1, 1, 8, 8]) // NCHW
const { train, test } = nn.stratifiedSplit(
  { x: images, y: labels },
  { testFraction: 0.2, key: T.random.key(0) },
)

const model = nn.layers.sequential(
  nn.layers.conv2d(16, 3, { padding: 'same' }),
  nn.layers.relu(),
  nn.layers.maxPool2d({ kernelSize: 2 }),
  nn.layers.conv2d(32, 3, { padding: 'same' }),
  nn.layers.relu(),
  nn.layers.flatten(),
  nn.layers.dense(10),
)
const [initKey, fitKey] = T.random.split(T.random.key(1), 2)
const built = orDie(model.init(initKey, [1, 8, 8]), nn.formatLayerError)
console.log(`CNN with ${nn.tree.size(built.params)} parameters`)
const result = nn.fit({
  model,
  loss: nn.crossEntropy,
  optimizer: nn.adam(3e-3),
  params: built.params,
  state: built.state,
  data: train,
  validationData: test,
  epochs: 12,
  batchSize: 32,
  key: fitKey,
  reporter: nnNode.terminalReporter({ validationName: 'test' }),
})
const { accuracy } = nn.evaluate(model, result.params, result.state, test)
console.log(`CNN test accuracy: ${(100 * accuracy).toFixed(2)}%`)
if (accuracy < 0.95) process.exit(1)
