// XOR: the smallest problem a linear model cannot solve. A 2-8-1 tanh network learns it in a few
// hundred steps of Adam. Run: npx -y pnpm@10 run build && node examples/xor/main.mjs
import * as E from 'fp-ts/lib/Either.js'
import * as nn from '@backfold/nn'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'

const x = T.tensor([
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
])
const y = T.tensor([[0], [1], [1], [0]])

const model = nn.layers.sequential(nn.layers.dense(8), nn.layers.tanh(), nn.layers.dense(1))
const built = model.init(T.random.key(0), [2])
if (E.isLeft(built)) throw new Error(nn.formatLayerError(built.left))

const result = nn.fit({
  model,
  loss: nn.sigmoidBinaryCrossEntropy,
  optimizer: nn.adam(0.05),
  params: built.right.params,
  state: built.right.state,
  data: { x, y },
  epochs: 300,
  batchSize: 4,
  key: T.random.key(1),
})
const [logits] = model.apply(result.params, result.state, x, { training: false })
const p = T.toArray(O.sigmoid(logits))
console.log(`final loss ${result.history.at(-1).loss.toFixed(5)}`)
T.toNested(x).forEach((row, i) => console.log(`${row.join(' xor ')} -> ${p[i].toFixed(3)}`))
const ok = p.every((v, i) => (v > 0.5 ? 1 : 0) === [0, 1, 1, 0][i])
console.log(ok ? 'learned XOR' : 'did not learn XOR')
if (!ok) process.exit(1)
