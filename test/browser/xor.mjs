// Trains XOR in the browser with the built packages (bundled by scripts/browser.mjs), and writes the
// outcome into the page for the harness to read. Any Node built-in reaching the core would fail the bundle.
import { adam, dense, makeTrainStep, sequential, sigmoidBinaryCrossEntropy, tanh } from '@backfold/nn'
import { sigmoid } from '@backfold/ops'
import { random, tensor, toArray } from '@backfold/tensor'

const report = (result) => {
  const pre = document.createElement('pre')
  pre.id = 'result'
  pre.textContent = JSON.stringify(result)
  document.body.appendChild(pre)
}

try {
  const x = tensor([
    [0, 0],
    [0, 1],
    [1, 0],
    [1, 1],
  ])
  const y = tensor([[0], [1], [1], [0]])
  const model = sequential(dense(8), tanh(), dense(1))
  const init = model.init(random.key(0), [2])
  if (init._tag === 'Left') throw new Error(init.left.message)
  const optimizer = adam(0.05)
  const step = makeTrainStep({ model, loss: sigmoidBinaryCrossEntropy, optimizer })
  let params = init.right.params
  let state = init.right.state
  let optState = optimizer.init(params)
  let loss = Infinity
  let key = random.key(1)
  for (let i = 0; i < 300; i++) {
    const [k, sub] = random.split(key)
    key = k
    const out = step(params, state, optState, { x, y }, sub)
    params = out.params
    state = out.state
    optState = out.optState
    loss = out.metrics.loss
  }
  const [logits] = model.apply(params, state, x, { training: false })
  const probabilities = toArray(sigmoid(logits))
  const correct = probabilities.filter((p, i) => (p > 0.5 ? 1 : 0) === [0, 1, 1, 0][i]).length
  report({ ok: true, loss, probabilities, accuracy: correct / 4, userAgent: navigator.userAgent })
} catch (error) {
  report({ ok: false, error: String(error && error.stack ? error.stack : error) })
}
