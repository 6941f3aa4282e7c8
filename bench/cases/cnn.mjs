// Small CNN training step on 1×28×28 inputs, batch 32: conv 8@3×3 → relu → maxpool 2 → conv 16@3×3
// → relu → maxpool 2 → dense 10, softmax cross-entropy averaged over the batch, plain SGD.
// node bench/cases/cnn.mjs <framework>
// Same weights and batch for every configuration (backfold and jax-js in NCHW/OIHW, TensorFlow.js in
// its NHWC/HWIO layout with the weights permuted to match), so the first losses must agree.
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
const batch = 32
const classes = 10
const lr = 0.01
const flat = 16 * 5 * 5
const init = {
  c1: normalData(20, 8 * 1 * 3 * 3, 0.3), // [8, 1, 3, 3] OIHW
  c2: normalData(21, 16 * 8 * 3 * 3, 0.1), // [16, 8, 3, 3] OIHW
  w: normalData(22, flat * classes, 0.05), // [400, 10], rows in NCHW flatten order (c, h, w)
}
const xData = uniformData(3, batch * 28 * 28) // [32, 1, 28, 28]
const labelData = oneHotData(4, batch, classes)

let step // one SGD step, returns the loss before the update
let backend
let extras // () => fields added to the result (the profile of backfold's jitted step)

if (isExternal(framework)) {
  // The jax-js layouts: NCHW input, OIHW kernels, the dense weight [400, 10].
  runExternal(
    'cnn',
    framework,
    {
      x: { data: xData, shape: [batch, 1, 28, 28] },
      labels: { data: labelData, shape: [batch, classes] },
      c1: { data: init.c1, shape: [8, 1, 3, 3] },
      b1: { data: new Float32Array(8), shape: [8] },
      c2: { data: init.c2, shape: [16, 8, 3, 3] },
      b2: { data: new Float32Array(16), shape: [16] },
      w: { data: init.w, shape: [flat, classes] },
      b: { data: new Float32Array(classes), shape: [classes] },
    },
    { batch, lr },
  )
  process.exit(0)
} else if (framework.startsWith('backfold')) {
  const { O, T, fromData, stage, checkExecutor, backend: name } = await loadBackfold(framework, 'cnn')
  backend = name
  let params = {
    c1: fromData(init.c1, [8, 1, 3, 3]),
    b1: T.zeros([8]),
    c2: fromData(init.c2, [16, 8, 3, 3]),
    b2: T.zeros([16]),
    w: fromData(transposeData(init.w, flat, classes), [classes, flat]),
    b: T.zeros([classes]),
  }
  const x = fromData(xData, [batch, 1, 28, 28])
  const labels = fromData(labelData, [batch, classes])
  const loss = (p, inputs, targets) => {
    let a = O.relu(O.add(O.conv2d(inputs, p.c1), O.reshape(p.b1, [8, 1, 1])))
    a = O.maxPool2d(a, { kernelSize: 2 })
    a = O.relu(O.add(O.conv2d(a, p.c2), O.reshape(p.b2, [16, 1, 1])))
    a = O.maxPool2d(a, { kernelSize: 2 })
    const logits = O.add(O.matmul(O.reshape(a, [batch, flat]), p.w, { transposeB: true }), p.b)
    return O.mean(O.softmaxCrossEntropy(logits, targets))
  }
  const valueAndGrad = O.valueAndGrad(loss)
  // The whole SGD step, staged as one function (see loadBackfold) that gives up its parameters (donate).
  const sgdStep = stage(
    (p, inputs, targets) => {
      const [value, grads] = valueAndGrad(p, inputs, targets)
      const next = Object.fromEntries(
        Object.entries(p).map(([key, v]) => [key, O.sub(v, O.mul(grads[key], lr))]),
      )
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
    profile: profileJitted(T, framework, sgdStep, [params, x, labels]),
    executorStatus: executorReport(O, sgdStep).status,
  })
} else if (framework.startsWith('tfjs')) {
  const tf = await loadTfjs(framework)
  backend = tf.getBackend()
  const hwio = (data, shape) => tf.transpose(tf.tensor4d(data, shape), [2, 3, 1, 0])
  const c1 = tf.variable(hwio(init.c1, [8, 1, 3, 3]))
  const b1 = tf.variable(tf.zeros([8]))
  const c2 = tf.variable(hwio(init.c2, [16, 8, 3, 3]))
  const b2 = tf.variable(tf.zeros([16]))
  // NHWC flattens (h, w, c): permute the dense rows from (c, h, w) order.
  const w = tf.variable(
    tf.reshape(tf.transpose(tf.tensor4d(init.w, [16, 5, 5, classes]), [1, 2, 0, 3]), [flat, classes]),
  )
  const b = tf.variable(tf.zeros([classes]))
  const x = tf.tensor4d(xData, [batch, 28, 28, 1]) // one channel: NCHW and NHWC share the layout
  const labels = tf.tensor2d(labelData, [batch, classes])
  const optimizer = tf.train.sgd(lr)
  const loss = () => {
    let a = tf.relu(tf.add(tf.conv2d(x, c1, 1, 'valid'), b1))
    a = tf.maxPool(a, 2, 2, 'valid')
    a = tf.relu(tf.add(tf.conv2d(a, c2, 1, 'valid'), b2))
    a = tf.maxPool(a, 2, 2, 'valid')
    const logits = tf.add(tf.matMul(tf.reshape(a, [batch, flat]), w), b)
    return tf.losses.softmaxCrossEntropy(labels, logits)
  }
  step = async () => {
    const cost = optimizer.minimize(loss, true)
    const [value] = await cost.data()
    cost.dispose()
    return value
  }
} else {
  const jax = await loadJax(framework)
  const { numpy: np, nn, lax } = jax
  backend = jaxBackendName(framework)
  const params = {
    c1: np.array(init.c1).reshape([8, 1, 3, 3]),
    b1: np.zeros([8]),
    c2: np.array(init.c2).reshape([16, 8, 3, 3]),
    b2: np.zeros([16]),
    w: np.array(init.w).reshape([flat, classes]),
    b: np.zeros([classes]),
  }
  const x = np.array(xData).reshape([batch, 1, 28, 28])
  const labels = np.array(labelData).reshape([batch, classes])
  const maxPool = (a) => lax.reduceWindow(a, (window) => np.max(window), [2, 2], [2, 2])
  const loss = (p, inputs, targets) => {
    let a = nn.relu(lax.conv(inputs, p.c1, [1, 1], 'VALID').add(p.b1.reshape([8, 1, 1])))
    a = maxPool(a)
    a = nn.relu(lax.conv(a, p.c2, [1, 1], 'VALID').add(p.b2.reshape([16, 1, 1])))
    a = maxPool(a)
    const logits = np.matmul(a.reshape([batch, flat]), p.w).add(p.b)
    return nn.logSoftmax(logits).mul(targets).sum(-1).mean().neg()
  }
  step = jaxSgdStep(jax, framework, loss, params, x, labels, lr)
}

await timeTrainingStep('cnn', framework, backend, batch, step, extras)
