// Small CNN training step on 1×28×28 inputs, batch 32: conv 8@3×3 → relu → maxpool 2 → conv 16@3×3 →
// relu → maxpool 2 → dense 10, softmax cross-entropy, SGD. node bench/cases/cnn.mjs <framework>
import { emit, loadTfjs, medianMs } from './common.mjs'

const framework = process.argv[2] ?? 'backfold'
const batch = 32
const lr = 0.01
let msPerStep

if (framework === 'backfold') {
  const O = await import('@backfold/ops')
  const T = await import('@backfold/tensor')
  const k = T.random.split(T.random.key(0), 4)
  let params = {
    c1: T.mul(T.random.normal(k[0], [8, 1, 3, 3]), 0.3),
    b1: T.zeros([8]),
    c2: T.mul(T.random.normal(k[1], [16, 8, 3, 3]), 0.1),
    b2: T.zeros([16]),
    w: T.mul(T.random.normal(k[2], [10, 16 * 5 * 5]), 0.05),
    b: T.zeros([10]),
  }
  const x = T.random.uniform(k[3], [batch, 1, 28, 28])
  const labels = T.oneHot(T.random.randint(T.random.key(9), [batch], 0, 10), 10)
  const loss = (p) => {
    let a = O.relu(O.add(O.conv2d(x, p.c1), O.reshape(p.b1, [8, 1, 1])))
    a = O.maxPool2d(a, { kernelSize: 2 })
    a = O.relu(O.add(O.conv2d(a, p.c2), O.reshape(p.b2, [16, 1, 1])))
    a = O.maxPool2d(a, { kernelSize: 2 })
    const logits = O.add(O.matmul(O.reshape(a, [batch, -1]), p.w, { transposeB: true }), p.b)
    return O.mean(O.softmaxCrossEntropy(logits, labels))
  }
  const step = () => {
    const [, g] = O.valueAndGrad(loss)(params)
    params = Object.fromEntries(
      Object.entries(params).map(([name, v]) => [name, O.sub(v, O.mul(g[name], lr))]),
    )
  }
  msPerStep = await medianMs(step, { warmup: 2, runs: 7 })
} else if (framework.startsWith('tfjs')) {
  const tf = await loadTfjs(framework)
  const c1 = tf.variable(tf.mul(tf.randomNormal([3, 3, 1, 8]), 0.3))
  const b1 = tf.variable(tf.zeros([8]))
  const c2 = tf.variable(tf.mul(tf.randomNormal([3, 3, 8, 16]), 0.1))
  const b2 = tf.variable(tf.zeros([16]))
  const w = tf.variable(tf.mul(tf.randomNormal([16 * 5 * 5, 10]), 0.05))
  const b = tf.variable(tf.zeros([10]))
  const x = tf.randomUniform([batch, 28, 28, 1])
  const labels = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10)
  const optimizer = tf.train.sgd(lr)
  const loss = () =>
    tf.tidy(() => {
      let a = tf.relu(tf.add(tf.conv2d(x, c1, 1, 'valid'), b1))
      a = tf.maxPool(a, 2, 2, 'valid')
      a = tf.relu(tf.add(tf.conv2d(a, c2, 1, 'valid'), b2))
      a = tf.maxPool(a, 2, 2, 'valid')
      const logits = tf.add(tf.matMul(tf.reshape(a, [batch, -1]), w), b)
      return tf.losses.softmaxCrossEntropy(labels, logits)
    })
  try {
    msPerStep = await medianMs(
      async () => {
        const cost = optimizer.minimize(loss, true)
        await cost.data()
        cost.dispose()
      },
      { warmup: 2, runs: 7 },
    )
  } catch (error) {
    // e.g. tfjs-wasm has no Conv2DBackpropFilter kernel: training a CNN is not possible there.
    emit({ bench: 'cnn', framework, batch, error: String(error.message ?? error) })
    process.exit(0)
  }
}
emit({ bench: 'cnn', framework, batch, msPerStep, samplesPerSecond: (batch * 1000) / msPerStep })
