// An ensemble of small MLPs trained at once on the 8x8 digits shipped in data/digits.
//
// Each member is the same 64-32-10 network with its own initialisation key. `vmap` over the keys
// builds all members in one call (stacked parameters: every leaf gets a leading member axis, and
// member i is exactly `model.init(key_i, [64])`); `vmap` of the loss gradient over the stacked
// parameters (inAxes [0, null, null]: the minibatch is shared) trains them together, and Adam,
// being elementwise, steps the stacked tree as it would each member. Prints each member's test
// accuracy and the ensemble's (averaged logits). Exits with code 1 if the ensemble is below 95%.
//
// Run from the repository root: `npx -y pnpm@10 run build && node examples/ensemble/main.mjs`.
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import * as nn from '@backfold/nn'
import * as nnNode from '@backfold/nn/node'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'

const MEMBERS = 8
const EPOCHS = 30
const BATCH_SIZE = 32
const REQUIRED_ACCURACY = 0.95

const die = (message) => {
  console.error(message)
  process.exit(1)
}
const orDie = (either, format) => (E.isLeft(either) ? die(format(either.left)) : either.right)
const started = performance.now()

// Data: as examples/digits (pixels scaled to [0, 1], a fixed stratified 80/20 split).
const dataFile = fileURLToPath(new URL('../../data/digits/digits.csv.gz', import.meta.url))
const csv = orDie(await nnNode.loadCsv(dataFile, { labelColumn: 'last' }), nn.formatDataError)
const labels = orDie(nn.validateLabels(csv.y, 10, { source: dataFile }), nn.formatDataError)
const digits = { x: O.div(csv.x, 16), y: labels }
const { train, test } = nn.stratifiedSplit(digits, { testFraction: 0.2, key: T.random.key(0) })

// Members: one key each, as data (int32 [MEMBERS, 2]); the mapped init wraps each mapped key back
// into a Key, so the layer's ordinary init(key, inShape) runs for all members at once.
const model = nn.layers.sequential(nn.layers.dense(32), nn.layers.relu(), nn.layers.dense(10))
const [membersKey, shuffleKey] = T.random.split(T.random.key(1), 2)
const memberKeys = O.randomSplit(membersKey, MEMBERS)
const { state } = orDie(model.init(membersKey, [64]), nn.formatLayerError) // no state: shared {}
let params = O.vmap((k) => orDie(model.init(T.random.wrapKey(k), [64]), nn.formatLayerError).params)(
  memberKeys,
)
console.log(
  `ensemble: ${MEMBERS} MLPs 64-32-10 (${nn.tree.size(params) / MEMBERS} parameters each), ` +
    `${nn.numExamples(train)} training and ${nn.numExamples(test)} test images`,
)

const loss = (p, x, y) => nn.crossEntropy(model.apply(p, state, x, { training: false })[0], y)
// Per-member gradients of the shared minibatch: params mapped (axis 0), x and y shared (null).
const gradients = O.vmap(O.grad(loss), { inAxes: [0, null, null] })
const optimizer = nn.adam(3e-3)
let optState = optimizer.init(params)

/** Logits of every member on x: [MEMBERS, N, 10]. */
const logitsOf = (stacked, x) => O.vmap((p) => model.apply(p, state, x, { training: false })[0])(stacked)

const steps = Math.ceil(nn.numExamples(train) / BATCH_SIZE)
for (let epoch = 0; epoch < EPOCHS; epoch++) {
  const shuffled = nn.shuffle(train, T.random.foldIn(shuffleKey, epoch))
  for (let step = 0; step < steps; step++) {
    const indices = Array.from(
      { length: Math.min(BATCH_SIZE, nn.numExamples(train) - step * BATCH_SIZE) },
      (_, i) => step * BATCH_SIZE + i,
    )
    const batch = nn.subset(shuffled, indices)
    const grads = gradients(params, batch.x, batch.y)
    ;[params, optState] = nn.applyGradients(optimizer, grads, optState, params)
  }
  const trainLoss = T.toArray(O.vmap((p) => loss(p, train.x, train.y))(params))
  const mean = trainLoss.reduce((a, b) => a + b, 0) / MEMBERS
  if ((epoch + 1) % 5 === 0)
    console.log(`epoch ${String(epoch + 1).padStart(2)}: mean member training loss ${mean.toFixed(4)}`)
}

// Evaluation: each member alone, then the ensemble (logits averaged over the members).
const logits = logitsOf(params, test.x)
const memberAccuracies = Array.from({ length: MEMBERS }, (_, i) => {
  const own = O.reshape(O.slice(logits, [{ start: i, stop: i + 1 }]), logits.shape.slice(1))
  return nn.accuracy(own, test.y)
})
memberAccuracies.forEach((a, i) => console.log(`member ${i}: test accuracy ${(100 * a).toFixed(2)}%`))
const ensembleAccuracy = nn.accuracy(O.mean(logits, { axis: 0 }), test.y)
const meanMember = memberAccuracies.reduce((a, b) => a + b, 0) / MEMBERS
console.log(
  `ensemble (averaged logits): test accuracy ${(100 * ensembleAccuracy).toFixed(2)}% ` +
    `(members: mean ${(100 * meanMember).toFixed(2)}%, best ${(100 * Math.max(...memberAccuracies)).toFixed(2)}%), ` +
    `${((performance.now() - started) / 1000).toFixed(1)} s`,
)
if (ensembleAccuracy < REQUIRED_ACCURACY)
  die(`ensemble accuracy ${(100 * ensembleAccuracy).toFixed(2)}% is below ${100 * REQUIRED_ACCURACY}%`)
