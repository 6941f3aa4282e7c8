// Inference latency of the digits MLP (64-128-64-10, relu, softmax) for one example, in µs.
// node bench/cases/inference.mjs <framework>
import { emit, loadTfjs, medianMs } from './common.mjs'

const framework = process.argv[2] ?? 'backfold'
const sizes = [64, 128, 64, 10]
const calls = 2000
let micros

if (framework === 'backfold') {
  const O = await import('@backfold/ops')
  const T = await import('@backfold/tensor')
  const keys = T.random.split(T.random.key(0), 4)
  const params = sizes
    .slice(1)
    .map((out, l) => ({ weight: T.random.normal(keys[l], [out, sizes[l]]), bias: T.zeros([out]) }))
  const x = T.random.uniform(keys[3], [1, 64])
  const predict = () => {
    let a = x
    params.forEach((p, l) => {
      const z = O.add(O.matmul(a, p.weight, { transposeB: true }), p.bias)
      a = l < params.length - 1 ? O.relu(z) : O.softmax(z)
    })
    return a.data[0]
  }
  micros =
    ((await medianMs(
      () => {
        for (let i = 0; i < calls; i++) predict()
      },
      { warmup: 2, runs: 7 },
    )) *
      1000) /
    calls
} else if (framework.startsWith('tfjs')) {
  const tf = await loadTfjs(framework)
  const ws = sizes.slice(1).map((out, l) => [tf.randomNormal([sizes[l], out]), tf.zeros([out])])
  const x = tf.randomUniform([1, 64])
  const predict = () => {
    const y = tf.tidy(() => {
      let a = x
      ws.forEach(([w, b], l) => {
        const z = tf.add(tf.matMul(a, w), b)
        a = l < ws.length - 1 ? tf.relu(z) : tf.softmax(z)
      })
      return a
    })
    const v = y.dataSync()[0]
    y.dispose()
    return v
  }
  micros =
    ((await medianMs(
      () => {
        for (let i = 0; i < calls; i++) predict()
      },
      { warmup: 2, runs: 7 },
    )) *
      1000) /
    calls
}
emit({ bench: 'inference', framework, microsPerExample: micros })
