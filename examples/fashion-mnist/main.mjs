// Fashion-MNIST (Zalando, MIT): 60,000 training and 10,000 test images of 28x28 clothing items.
// The data is not shipped; get it from Debian's package (it installs nothing when unpacked by hand):
//
//   apt-get download dataset-fashion-mnist && dpkg -x dataset-fashion-mnist_*.deb /tmp/fmnist
//   npx -y pnpm@10 run build
//   node examples/fashion-mnist/main.mjs /tmp/fmnist/usr/share/datasets/fashion-mnist [epochs]
//
// Reads the IDX files (gzip or raw) with loadIdx, trains an MLP 784-256-128-10 and writes
// docs/fashion-mnist.md with the test accuracy.
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import * as nn from '@backfold/nn'
import * as nnNode from '@backfold/nn/node'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'

const dir = process.argv[2]
const epochs = Number(process.argv[3] ?? 10)
if (dir === undefined) {
  console.error('usage: node examples/fashion-mnist/main.mjs <directory with the IDX files> [epochs]')
  process.exit(2)
}
const find = (prefix) => {
  const name = readdirSync(dir).find((f) => f.startsWith(prefix))
  if (name === undefined) {
    console.error(`${dir}: no file starting with ${prefix}`)
    process.exit(1)
  }
  return join(dir, name)
}
const load = async (prefix) => {
  const result = await nnNode.loadIdx(find(prefix))
  if (E.isLeft(result)) {
    console.error(nn.formatDataError(result.left))
    process.exit(1)
  }
  return result.right
}
const started = performance.now()
const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
  load('train-images'),
  load('train-labels'),
  load('t10k-images'),
  load('t10k-labels'),
])
const prepare = (images, labels) => ({
  x: O.div(O.reshape(T.astype(images, 'float32'), [images.shape[0], 784]), 255),
  y: T.astype(labels, 'int32'),
})
const train = prepare(trainImages, trainLabels)
const test = prepare(testImages, testLabels)
console.log(`Fashion-MNIST: ${train.x.shape[0]} training and ${test.x.shape[0]} test images`)

const model = nn.layers.sequential(
  nn.layers.dense(256),
  nn.layers.relu(),
  nn.layers.dense(128),
  nn.layers.relu(),
  nn.layers.dense(10),
)
const [initKey, fitKey] = T.random.split(T.random.key(0), 2)
const built = model.init(initKey, [784])
if (E.isLeft(built)) throw new Error(nn.formatLayerError(built.left))
const result = nn.fit({
  model,
  loss: nn.crossEntropy,
  optimizer: nn.adam(1e-3),
  params: built.right.params,
  state: built.right.state,
  data: train,
  validationData: test,
  epochs,
  batchSize: 128,
  key: fitKey,
  reporter: nnNode.terminalReporter({ validationName: 'test' }),
})
const { accuracy, loss } = nn.evaluate(model, result.params, result.state, test, {
  loss: nn.crossEntropy,
})
const minutes = (performance.now() - started) / 60000
console.log(
  `test accuracy ${(100 * accuracy).toFixed(2)}%, test loss ${loss.toFixed(4)}, ${minutes.toFixed(1)} min`,
)
const report = `# Fashion-MNIST

Produced by \`node examples/fashion-mnist/main.mjs <dir> ${epochs}\` on ${new Date().toISOString().slice(0, 10)}
(data: Debian's \`dataset-fashion-mnist\`, Zalando SE 2017, MIT).

| model | epochs | batch | optimizer | test accuracy | test loss | wall time |
| --- | --- | --- | --- | --- | --- | --- |
| MLP 784-256-128-10 (relu) | ${epochs} | 128 | Adam 1e-3 | ${(100 * accuracy).toFixed(2)}% | ${loss.toFixed(4)} | ${minutes.toFixed(1)} min |

Per epoch (train loss / train accuracy / test accuracy):

${result.history.map((r, i) => `- epoch ${i + 1}: ${r.loss.toFixed(4)} / ${(100 * (r.accuracy ?? 0)).toFixed(2)}% / ${(100 * (r.valAccuracy ?? 0)).toFixed(2)}%`).join('\n')}
`
writeFileSync(fileURLToPath(new URL('../../docs/fashion-mnist.md', import.meta.url)), report)
console.log('wrote docs/fashion-mnist.md')
