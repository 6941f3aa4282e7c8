// MLP 784-256-128-10 training step (relu, softmax cross-entropy, SGD), batch 128, float32:
// samples per second for one framework. node bench/cases/mlp.mjs <framework>
import { emit, loadTfjs, medianMs } from './common.mjs'

const framework = process.argv[2] ?? 'backfold'
const batch = 128
const sizes = [784, 256, 128, 10]
const lr = 0.01
let msPerStep

if (framework === 'backfold') {
  const O = await import('@backfold/ops')
  const T = await import('@backfold/tensor')
  const keys = T.random.split(T.random.key(0), 4)
  let params = sizes.slice(1).map((out, l) => ({
    weight: T.mul(T.random.normal(keys[l], [out, sizes[l]]), Math.sqrt(2 / sizes[l])),
    bias: T.zeros([out]),
  }))
  const x = T.random.uniform(keys[3], [batch, 784])
  const labels = T.oneHot(T.random.randint(T.random.key(9), [batch], 0, 10), 10)
  const loss = (ps) => {
    let a = x
    ps.forEach((p, l) => {
      const z = O.add(O.matmul(a, p.weight, { transposeB: true }), p.bias)
      a = l < ps.length - 1 ? O.relu(z) : z
    })
    return O.mean(O.softmaxCrossEntropy(a, labels))
  }
  const step = () => {
    const [, grads] = O.valueAndGrad(loss)(params)
    params = params.map((p, l) => ({
      weight: O.sub(p.weight, O.mul(grads[l].weight, lr)),
      bias: O.sub(p.bias, O.mul(grads[l].bias, lr)),
    }))
  }
  msPerStep = await medianMs(step, { warmup: 3, runs: 9 })
} else if (framework.startsWith('tfjs')) {
  const tf = await loadTfjs(framework)
  const vars = sizes
    .slice(1)
    .flatMap((out, l) => [
      tf.variable(tf.mul(tf.randomNormal([sizes[l], out]), Math.sqrt(2 / sizes[l]))),
      tf.variable(tf.zeros([out])),
    ])
  const x = tf.randomUniform([batch, 784])
  const labels = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10)
  const optimizer = tf.train.sgd(lr)
  const loss = () =>
    tf.tidy(() => {
      let a = x
      for (let l = 0; l < 3; l++) {
        const z = tf.add(tf.matMul(a, vars[2 * l]), vars[2 * l + 1])
        a = l < 2 ? tf.relu(z) : z
      }
      return tf.losses.softmaxCrossEntropy(labels, a)
    })
  const step = async () => {
    const cost = optimizer.minimize(loss, true)
    await cost.data()
    cost.dispose()
  }
  msPerStep = await medianMs(step, { warmup: 3, runs: 9 })
}
emit({ bench: 'mlp', framework, batch, msPerStep, samplesPerSecond: (batch * 1000) / msPerStep })
