// MLP 784-256-128-10 training step (relu, softmax cross-entropy averaged over the batch, plain SGD),
// batch 128, float32: samples per second for one configuration. node bench/cases/mlp.mjs <framework>
// Every configuration starts from the same weights and batch (common.mjs), so their first losses
// must agree; a timed step ends with the loss read back and the new parameters materialised.
import {
  frameworkArg,
  jaxSgdStep,
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

if (framework.startsWith('backfold')) {
  const { O, T, fromData, backend: name } = await loadBackfold(framework, 'mlp')
  backend = name
  // backfold's dense layout is [out, in] with a transposed matmul (as in @backfold/nn's dense).
  let params = layers.map(({ inputs, outputs, weight }) => ({
    weight: fromData(transposeData(weight, inputs, outputs), [outputs, inputs]),
    bias: T.zeros([outputs]),
  }))
  const x = fromData(xData, [batch, sizes[0]])
  const labels = fromData(labelData, [batch, sizes.at(-1)])
  const loss = (ps) => {
    let a = x
    // The fused dense op (matmul, bias and ReLU in one output pass; same values as the unfused ops).
    ps.forEach((p, l) => {
      a = O.linear(a, p.weight, p.bias, l < ps.length - 1 ? 'relu' : 'none')
    })
    return O.mean(O.softmaxCrossEntropy(a, labels))
  }
  const valueAndGrad = O.valueAndGrad(loss)
  // θ ← θ − lr·g in one pass per tensor (an elementwise program, as jit fuses jax-js's `p.sub(g.mul(lr))`).
  const update = {
    arity: 2,
    instructions: [
      { kind: 'constant', value: lr },
      { kind: 'binary', op: 'mul', a: 1, b: 2 },
      { kind: 'binary', op: 'sub', a: 0, b: 3 },
    ],
  }
  const sgd = (p, g) => T.elementwiseProgram(update, [p, g])
  step = () => {
    const [value, grads] = valueAndGrad(params)
    params = params.map((p, l) => ({
      weight: sgd(p.weight, grads[l].weight),
      bias: sgd(p.bias, grads[l].bias),
    }))
    return value.data[0]
  }
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

await timeTrainingStep('mlp', framework, backend, batch, step)
