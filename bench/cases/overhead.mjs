// Per-op overhead on tiny tensors (4 elements, float32): a chain of 64 elementwise ops (mul, sin, add,
// tanh), eagerly and under grad. µs per forward op. node bench/cases/overhead.mjs <framework>
import { emit, loadTfjs, medianMs } from './common.mjs'

const framework = process.argv[2] ?? 'backfold'
const OPS = 64
const calls = 300
let eager
let withGrad

if (framework === 'backfold') {
  const O = await import('@backfold/ops')
  const T = await import('@backfold/tensor')
  const x = T.tensor([1, 2, 3, 4])
  const chain = (v) => {
    let y = v
    for (let i = 0; i < OPS / 4; i++) y = O.tanh(O.add(O.mul(y, 0.5), O.sin(y)))
    return y
  }
  const g = O.grad((v) => O.sum(chain(v)))
  eager = await medianMs(() => {
    for (let i = 0; i < calls; i++) chain(x)
  })
  withGrad = await medianMs(() => {
    for (let i = 0; i < calls; i++) g(x)
  })
} else if (framework.startsWith('tfjs')) {
  const tf = await loadTfjs(framework)
  const x = tf.tensor([1, 2, 3, 4])
  const chain = (v) => {
    let y = v
    for (let i = 0; i < OPS / 4; i++) y = tf.tanh(tf.add(tf.mul(y, 0.5), tf.sin(y)))
    return y
  }
  const g = tf.grad((v) => tf.sum(chain(v)))
  eager = await medianMs(() => {
    for (let i = 0; i < calls; i++) tf.tidy(() => chain(x).dataSync())
  })
  withGrad = await medianMs(() => {
    for (let i = 0; i < calls; i++) tf.tidy(() => g(x).dataSync())
  })
}
const perOp = (ms) => (ms * 1000) / (calls * OPS)
emit({
  bench: 'overhead',
  framework,
  eagerMicrosPerOp: perOp(eager),
  gradMicrosPerForwardOp: perOp(withGrad),
})
