// Regression of a noisy sine: y = sin(x) + ε, ε ~ N(0, 0.1²), x ∈ [-π, π]. A 1-32-32-1 tanh network
// trained with mean squared error; reports the error against the noiseless curve on a fresh grid.
// Run: npx -y pnpm@10 run build && node examples/sine/main.mjs
import * as E from 'fp-ts/lib/Either.js'
import * as nn from '@backfold/nn'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'

const [kx, kn, kInit, kFit] = T.random.split(T.random.key(0), 4)
const n = 512
const x = T.random.uniform(kx, [n, 1], { min: -Math.PI, max: Math.PI })
const y = O.add(O.sin(x), O.mul(T.random.normal(kn, [n, 1]), 0.1))

const model = nn.layers.sequential(
  nn.layers.dense(32),
  nn.layers.tanh(),
  nn.layers.dense(32),
  nn.layers.tanh(),
  nn.layers.dense(1),
)
const built = model.init(kInit, [1])
if (E.isLeft(built)) throw new Error(nn.formatLayerError(built.left))

const result = nn.fit({
  model,
  loss: nn.meanSquaredError,
  optimizer: nn.adam(1e-2),
  params: built.right.params,
  state: built.right.state,
  data: { x, y },
  epochs: 400,
  batchSize: 64,
  key: kFit,
})
const grid = T.reshape(T.linspace(-Math.PI, Math.PI, 101), [101, 1])
const [prediction] = model.apply(result.params, result.state, grid, { training: false })
const rmse = Math.sqrt(T.item(T.mean(T.square(T.sub(prediction, T.sin(grid))))))
console.log(
  `training loss (MSE, noisy targets): ${result.history.at(-1).loss.toFixed(5)} (noise variance 0.01)`,
)
console.log(`RMSE against the noiseless sine on a fresh grid: ${rmse.toFixed(4)}`)
for (const v of [-3, -1.5, 0, 1.5, 3]) {
  const [p] = model.apply(result.params, result.state, T.tensor([[v]]), { training: false })
  console.log(
    `x = ${v.toFixed(1).padStart(4)}: model ${T.item(p).toFixed(3).padStart(6)}, sin x ${Math.sin(v).toFixed(3).padStart(6)}`,
  )
}
if (rmse > 0.1) process.exit(1)
