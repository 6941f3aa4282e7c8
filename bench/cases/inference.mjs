// Inference latency of the digits MLP (64-128-64-10, relu, softmax) for one example (batch 1), in µs
// per call, ending with the probabilities read back as host data. node bench/cases/inference.mjs <framework>
// Same weights and input for every configuration, so their outputs must agree.
import {
  emit,
  frameworkArg,
  loadBackfold,
  checkJaxWorkers,
  unsupported,
  jaxBackendName,
  loadJax,
  loadTfjs,
  measurePerCall,
  normalData,
  transposeData,
  uniformData,
} from './common.mjs'

const framework = frameworkArg()
if (framework.startsWith('pytorch') || framework === 'c-openblas')
  unsupported(
    'inference',
    framework,
    'not measured outside Node (a per-call latency of JavaScript frameworks)',
  )
if (framework === 'backfold-eager' || framework.startsWith('backfold-onnxruntime'))
  unsupported(
    'inference',
    framework,
    'inference runs op by op in every backfold configuration: the backfold column measures it',
  )
const sizes = [64, 128, 64, 10]
const layers = sizes.slice(1).map((out, l) => ({
  inputs: sizes[l],
  outputs: out,
  weight: normalData(30 + l, sizes[l] * out, Math.sqrt(2 / sizes[l])), // [in, out]
  bias: normalData(40 + l, out, 0.1),
}))
const xData = uniformData(5, sizes[0])

let predict // () => Float32Array of 10 probabilities
let backend

if (framework.startsWith('backfold')) {
  const { O, fromData, backend: name } = await loadBackfold(framework, 'inference')
  backend = name
  const params = layers.map(({ inputs, outputs, weight, bias }) => ({
    weight: fromData(transposeData(weight, inputs, outputs), [outputs, inputs]),
    bias: fromData(bias, [outputs]),
  }))
  const x = fromData(xData, [1, sizes[0]])
  predict = () => {
    let a = x
    for (let l = 0; l < params.length; l++) {
      const z = O.add(O.matmul(a, params[l].weight, { transposeB: true }), params[l].bias)
      a = l < params.length - 1 ? O.relu(z) : O.softmax(z)
    }
    return a.data
  }
} else if (framework.startsWith('tfjs')) {
  const tf = await loadTfjs(framework)
  backend = tf.getBackend()
  const params = layers.map(({ inputs, outputs, weight, bias }) => [
    tf.tensor2d(weight, [inputs, outputs]),
    tf.tensor1d(bias),
  ])
  const x = tf.tensor2d(xData, [1, sizes[0]])
  predict = () => {
    const y = tf.tidy(() => {
      let a = x
      params.forEach(([w, b], l) => {
        const z = tf.add(tf.matMul(a, w), b)
        a = l < params.length - 1 ? tf.relu(z) : tf.softmax(z)
      })
      return a
    })
    const probabilities = y.dataSync()
    y.dispose()
    return probabilities
  }
} else {
  const jax = await loadJax(framework)
  const { numpy: np, nn, tree } = jax
  backend = jaxBackendName(framework)
  const params = layers.map(({ inputs, outputs, weight, bias }) => ({
    weight: np.array(weight).reshape([inputs, outputs]),
    bias: np.array(bias),
  }))
  const x = np.array(xData).reshape([1, sizes[0]])
  // jax-js functions take ownership of their arguments; `.ref` / tree.ref keep a value alive.
  const forward = (ps, input) => {
    let a = input
    ps.forEach((p, l) => {
      const z = np.matmul(a, p.weight).add(p.bias)
      a = l < ps.length - 1 ? nn.relu(z) : nn.softmax(z)
    })
    return a
  }
  const compiled = framework.startsWith('jax-jit') ? jax.jit(forward) : forward
  predict = () => compiled(tree.ref(params), x.ref).dataSync()
}

const output = Array.from(predict())
try {
  // The first call above started any workers jax-js uses for this case.
  await checkJaxWorkers(framework)
} catch (error) {
  unsupported('inference', framework, error)
}
const stats = await measurePerCall(predict)
emit({
  bench: 'inference',
  framework,
  backend,
  firstOutput: output[0],
  microsPerExample: stats.medianMicros,
  ...stats,
})
