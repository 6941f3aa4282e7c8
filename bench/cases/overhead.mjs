// Per-op overhead on tiny tensors (4 float32 elements): a chain of 64 elementwise ops (mul, sin, add,
// tanh, repeated 16 times), eagerly and under grad, ending with the result read back as host data.
// µs per forward op of the chain (the grad figure includes the recording, the backward pass and the
// final sum). node bench/cases/overhead.mjs <framework>
// For jax-jit the whole chain is compiled into one kernel, so its figure is call cost / 64: what jit
// saves, not a per-op dispatch cost.
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
} from './common.mjs'
import { isExternal } from './external.mjs'

const framework = frameworkArg()
if (framework === 'backfold-eager')
  unsupported('overhead', framework, 'the backfold configuration measures eager, grad and jit(grad) already')
const OPS = 64
const xValues = [1, 2, 3, 4]

let eager // () => result as host data
let withGrad // () => gradient as host data
let jitGradEquations // equations of the staged gradient graph (backfold)
let jitGradSteps // their steps (a fused program's instructions)
let jitGrad // () => gradient as host data, jit(grad(f)) (backfold only; jax-js jit's withGrad is that already)
let backend

if (isExternal(framework)) {
  unsupported(
    'overhead',
    framework,
    'not measured outside Node (a per-op dispatch cost of JavaScript frameworks)',
  )
} else if (framework.startsWith('backfold')) {
  const { O, T, stage, checkExecutor, backend: name } = await loadBackfold(framework, 'overhead')
  backend = name
  const x = T.tensor(xValues)
  const chain = (v) => {
    let y = v
    for (let i = 0; i < OPS / 4; i++) y = O.tanh(O.add(O.mul(y, 0.5), O.sin(y)))
    return y
  }
  const gradient = O.grad((v) => O.sum(chain(v)))
  eager = () => chain(x).data
  withGrad = () => gradient(x).data
  // jit(grad(f)): the chain and its backward pass staged once, as jax-js jit runs its gradient
  // (`backfold-eager` has no staged figure: stage is the identity there).
  if (framework !== 'backfold-eager') {
    const staged = stage(gradient)
    jitGrad = () => staged(x).data
    jitGrad()
    checkExecutor(staged)
    const graph = staged.stats().lastGraph
    jitGradEquations = graph?.equations.length
    // Steps of the staged graph: a fused program's instructions, one for any other equation.
    jitGradSteps = graph?.equations.reduce((n, eq) => n + (eq.params?.program?.instructions?.length ?? 1), 0)
  }
} else if (framework.startsWith('tfjs')) {
  const tf = await loadTfjs(framework)
  backend = tf.getBackend()
  const x = tf.tensor1d(xValues)
  const chain = (v) => {
    let y = v
    for (let i = 0; i < OPS / 4; i++) y = tf.tanh(tf.add(tf.mul(y, 0.5), tf.sin(y)))
    return y
  }
  const gradient = tf.grad((v) => tf.sum(chain(v)))
  // tidy frees the intermediates, as a TensorFlow.js program must.
  eager = () => tf.tidy(() => chain(x).dataSync())
  withGrad = () => tf.tidy(() => gradient(x).dataSync())
} else {
  const jax = await loadJax(framework)
  const { numpy: np } = jax
  backend = jaxBackendName(framework)
  const x = np.array(xValues)
  // jax-js functions take ownership of their arguments; `.ref` keeps a value alive.
  const chain = (v) => {
    let y = v
    for (let i = 0; i < OPS / 4; i++) y = np.tanh(y.ref.mul(0.5).add(np.sin(y)))
    return y
  }
  const gradient = jax.grad((v) => np.sum(chain(v)))
  const forward = framework.startsWith('jax-jit') ? jax.jit(chain) : chain
  const backward = framework.startsWith('jax-jit') ? jax.jit(gradient) : gradient
  eager = () => forward(x.ref).dataSync()
  withGrad = () => backward(x.ref).dataSync()
}

try {
  // One call of each starts any workers jax-js would use for this case.
  eager()
  withGrad()
  await checkJaxWorkers(framework)
} catch (error) {
  unsupported('overhead', framework, error)
}
const eagerStats = await measurePerCall(eager)
const gradStats = await measurePerCall(withGrad)
const jitGradStats = jitGrad === undefined ? undefined : await measurePerCall(jitGrad)
emit({
  bench: 'overhead',
  framework,
  backend,
  chainOutput: Array.from(eager()),
  gradOutput: Array.from(withGrad()),
  eagerMicrosPerOp: eagerStats.medianMicros / OPS,
  gradMicrosPerForwardOp: gradStats.medianMicros / OPS,
  ...(jitGradStats === undefined
    ? {}
    : {
        jitGradMicrosPerForwardOp: jitGradStats.medianMicros / OPS,
        jitGradMicrosPerCall: jitGradStats.medianMicros,
        jitGradEquations,
        jitGradSteps,
        jitGradOutput: Array.from(jitGrad()),
        jitGrad: jitGradStats,
      }),
  eager: eagerStats,
  grad: gradStats,
})
