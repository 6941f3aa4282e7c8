// MLP 784-256-128-10 training step (relu, softmax cross-entropy averaged over the batch, plain SGD),
// batch 128, float32: samples per second for one configuration. node bench/cases/mlp.mjs <framework>
// Every configuration starts from the same weights and batch (common.mjs), so their first losses
// must agree; a timed step ends with the loss read back and the new parameters materialised.
import {
  frameworkArg,
  jaxSgdStep,
  executorReport,
  loadBackfold,
  jaxBackendName,
  loadJax,
  loadTfjs,
  normalData,
  oneHotData,
  timeTrainingStep,
  transposeData,
  uniformData,
} from './common.mjs'
import { isExternal, runExternal } from './external.mjs'
import { profileJitted } from './profile.mjs'

const framework = frameworkArg()
const batch = 128
const sizes = [784, 256, 128, 10]
const lr = 0.01
const layers = sizes.slice(1).map((out, l) => ({
  inputs: sizes[l],
  outputs: out,
  weight: normalData(10 + l, sizes[l] * out, Math.sqrt(2 / sizes[l])), // [in, out]
}))
const xData = uniformData(1, batch * sizes[0])
const labelData = oneHotData(2, batch, sizes.at(-1))

let step // () => Promise<number> | number: one SGD step, returns the loss before the update
let backend
let extras // () => fields added to the result (the profile of backfold's jitted step)

if (isExternal(framework)) {
  const inputs = {
    x: { data: xData, shape: [batch, sizes[0]] },
    labels: { data: labelData, shape: [batch, sizes.at(-1)] },
  }
  layers.forEach(({ inputs: n, outputs, weight }, l) => {
    inputs[`w${l}`] = { data: weight, shape: [n, outputs] }
    inputs[`b${l}`] = { data: new Float32Array(outputs), shape: [outputs] }
  })
  runExternal('mlp', framework, inputs, { batch, lr, sizes })
  process.exit(0)
} else if (framework.startsWith('backfold')) {
  const { O, T, fromData, stage, checkExecutor, backend: name } = await loadBackfold(framework, 'mlp')
  backend = name
  // backfold's dense layout is [out, in] with a transposed matmul (as in @backfold/nn's dense).
  let params = layers.map(({ inputs, outputs, weight }) => ({
    weight: fromData(transposeData(weight, inputs, outputs), [outputs, inputs]),
    bias: T.zeros([outputs]),
  }))
  const x = fromData(xData, [batch, sizes[0]])
  const labels = fromData(labelData, [batch, sizes.at(-1)])
  // Plain ops, as a user writes them: under jit the compiler fuses the bias and ReLU into the
  // products, the loss into row reductions and the update into elementwise programs.
  const loss = (ps, inputs, targets) => {
    let a = inputs
    ps.forEach((p, l) => {
      const z = O.add(O.matmul(a, p.weight, { transposeB: true }), p.bias)
      a = l < ps.length - 1 ? O.relu(z) : z
    })
    return O.mean(O.softmaxCrossEntropy(a, targets))
  }
  const valueAndGrad = O.valueAndGrad(loss)
  // The whole SGD step: forward, backward and θ ← θ − lr·g, staged as one function (see loadBackfold)
  // that gives up its parameters (jit's donate: the loop never reads them again), as a training loop does.
  const sgdStep = stage(
    (ps, inputs, targets) => {
      const [value, grads] = valueAndGrad(ps, inputs, targets)
      const next = ps.map((p, l) => ({
        weight: O.sub(p.weight, O.mul(grads[l].weight, lr)),
        bias: O.sub(p.bias, O.mul(grads[l].bias, lr)),
      }))
      return [value, next]
    },
    { donate: [0] },
  )
  let checked = false
  step = () => {
    const [value, next] = sgdStep(params, x, labels)
    params = next
    if (!checked) {
      checkExecutor(sgdStep)
      checked = true
    }
    return value.data[0]
  }
  extras = () => ({
    // What a steady step moves in and out of wasm memory (read before the profile replays the graph).
    executable: typeof sgdStep.stats === 'function' &&
      sgdStep.stats().lastExecutable && {
        ...sgdStep.stats().lastExecutable,
        paramBytes: 4 * params.reduce((n, p) => n + T.sizeOf(p.weight.shape) + T.sizeOf(p.bias.shape), 0),
      },
    profile: profileJitted(T, framework, sgdStep, [params, x, labels]),
    executorStatus: executorReport(O, sgdStep).status,
  })
} else if (framework.startsWith('tfjs')) {
  const tf = await loadTfjs(framework)
  backend = tf.getBackend()
  const vars = layers.flatMap(({ inputs, outputs, weight }) => [
    tf.variable(tf.tensor2d(weight, [inputs, outputs])),
    tf.variable(tf.zeros([outputs])),
  ])
  const x = tf.tensor2d(xData, [batch, sizes[0]])
  const labels = tf.tensor2d(labelData, [batch, sizes.at(-1)])
  const optimizer = tf.train.sgd(lr)
  const loss = () => {
    let a = x
    for (let l = 0; l < layers.length; l++) {
      const z = tf.add(tf.matMul(a, vars[2 * l]), vars[2 * l + 1])
      a = l < layers.length - 1 ? tf.relu(z) : z
    }
    return tf.losses.softmaxCrossEntropy(labels, a)
  }
  step = async () => {
    const cost = optimizer.minimize(loss, true)
    const [value] = await cost.data()
    cost.dispose()
    return value
  }
} else {
  const jax = await loadJax(framework)
  const { numpy: np, nn } = jax
  backend = jaxBackendName(framework)
  const params = layers.map(({ inputs, outputs, weight }) => ({
    weight: np.array(weight).reshape([inputs, outputs]),
    bias: np.zeros([outputs]),
  }))
  const x = np.array(xData).reshape([batch, sizes[0]])
  const labels = np.array(labelData).reshape([batch, sizes.at(-1)])
  const loss = (ps, inputs, targets) => {
    let a = inputs
    ps.forEach((p, l) => {
      const z = np.matmul(a, p.weight).add(p.bias)
      a = l < ps.length - 1 ? nn.relu(z) : z
    })
    return nn.logSoftmax(a).mul(targets).sum(-1).mean().neg()
  }
  step = jaxSgdStep(jax, framework, loss, params, x, labels, lr)
}

await timeTrainingStep('mlp', framework, backend, batch, step, extras)
