// matmul n×n · n×n float32 (GFLOP/s) for one configuration: node bench/cases/matmul.mjs <framework>
// Every configuration multiplies the same matrices and ends each timed call holding the product as
// host data (a typed array), so lazy or asynchronous backends pay for finishing the work.
import {
  emit,
  frameworkArg,
  loadBackfold,
  checkJaxWorkers,
  unsupported,
  jaxBackendName,
  loadJax,
  loadTfjs,
  measure,
  normalData,
} from './common.mjs'
import { isExternal, runExternal } from './external.mjs'
import { measureSimdPeak } from '../simd-peak.mjs'

const framework = frameworkArg()
if (framework === 'backfold-eager')
  unsupported('matmul', framework, 'the same GEMM kernel as the backfold configuration (nothing to stage)')
const sizes = [128, 256, 512, 1024]
// More runs where a run is cheap; a soft time budget per size keeps slow configurations bounded.
const budget = (n) =>
  n >= 1024
    ? { warmup: 1, maxRuns: 5, budgetMs: 8_000 }
    : { warmup: 3, maxRuns: n <= 256 ? 31 : 11, budgetMs: 4_000 }

// makeCall(n, a, b) -> { call: timed product, product: () => the product as host data }
let makeCall
let backend
// backfold only: () => where a 1024³ call's time goes (see below)
let breakdown

if (isExternal(framework)) {
  const inputs = {}
  for (const n of sizes) {
    inputs[`a${n}`] = { data: normalData(n, n * n), shape: [n, n] }
    inputs[`b${n}`] = { data: normalData(n + 1, n * n), shape: [n, n] }
  }
  runExternal('matmul', framework, inputs, { sizes })
  process.exit(0)
} else if (framework.startsWith('backfold')) {
  const { T, O, fromData, stage, checkExecutor, backend: name } = await loadBackfold(framework, 'matmul')
  backend = name
  // The wasm configurations call the GEMM kernel itself; the onnxruntime ones can only reach their
  // executor through jit, so they time a jitted product (issue 13: "through a jitted function").
  const onnx = framework.startsWith('backfold-onnxruntime')
  const jitted = onnx ? stage((x, y) => O.matmul(x, y)) : undefined
  const multiply = onnx ? jitted : T.matmul
  makeCall = (n, a, b) => {
    const x = fromData(a, [n, n])
    const y = fromData(b, [n, n])
    const product = () => {
      const c = multiply(x, y).data
      if (onnx) checkExecutor(jitted)
      return c
    }
    return { call: () => multiply(x, y).data, product }
  }
  // Where a 1024³ call's time goes (for the report's explanation, not a figure of its own), all
  // interleaved in one loop: the eager call; the same product jitted with its result left in wasm
  // memory (a RegionTensor never read: the GEMM alone, operands already in place); a copy of the
  // product's size into a fresh array (what the eager call's copy out does) and into an array
  // written before (the same copy without first-touch page faults).
  if (framework === 'backfold')
    breakdown = () => {
      const n = 1024
      const x = fromData(normalData(n, n * n), [n, n])
      const y = fromData(normalData(n + 1, n * n), [n, n])
      const resident = O.jit((p, q) => O.matmul(p, q))
      const source = new Float32Array(n * n).fill(1)
      const again = new Float32Array(n * n)
      const times = { call: [], kernel: [], fresh: [], rewrite: [] }
      const time = (key, f) => {
        const t0 = performance.now()
        f()
        times[key].push(performance.now() - t0)
      }
      for (let i = 0; i < 9; i++) {
        time('call', () => T.matmul(x, y).data)
        time('kernel', () => resident(x, y))
        time('fresh', () => new Float32Array(n * n).set(source))
        time('rewrite', () => again.set(source))
      }
      const median = (v) => v.sort((a, b) => a - b)[v.length >> 1]
      return {
        n,
        callMs: median(times.call),
        kernelMs: median(times.kernel),
        residentGflops: (2 * n ** 3) / (median(times.kernel) * 1e6),
        freshCopyMs: median(times.fresh),
        rewriteMs: median(times.rewrite),
      }
    }
} else if (framework.startsWith('tfjs')) {
  const tf = await loadTfjs(framework)
  backend = tf.getBackend()
  makeCall = (n, a, b) => {
    const x = tf.tensor2d(a, [n, n])
    const y = tf.tensor2d(b, [n, n])
    const call = async () => {
      const c = tf.matMul(x, y)
      await c.data()
      c.dispose()
    }
    return { call, product: () => tf.tidy(() => tf.matMul(x, y)).dataSync() }
  }
} else {
  const jax = await loadJax(framework)
  const { numpy: np } = jax
  backend = jaxBackendName(framework)
  const product = framework.startsWith('jax-jit') ? jax.jit((x, y) => np.matmul(x, y)) : np.matmul
  makeCall = (n, a, b) => {
    const x = np.array(a).reshape([n, n])
    const y = np.array(b).reshape([n, n])
    // jax-js functions take ownership of their arguments: `.ref` keeps x and y alive.
    const call = async () => {
      await product(x.ref, y.ref).data()
    }
    return { call, product: () => product(x.ref, y.ref).dataSync() }
  }
}

const peakBefore = framework === 'backfold' ? measureSimdPeak() : undefined
const results = []
// A position-weighted sum of the 128×128 product (a transposed or shuffled result changes it): equal
// across configurations iff their products agree.
let checksum
for (const n of sizes) {
  const { call, product } = makeCall(n, normalData(n, n * n), normalData(n + 1, n * n))
  if (checksum === undefined) checksum = product().reduce((sum, v, i) => sum + v * (1 + (i % 13)), 0)
  const stats = await measure(call, budget(n))
  results.push({ n, gflops: (2 * n ** 3) / (stats.medianMs * 1e6), ...stats })
}
try {
  await checkJaxWorkers(framework)
} catch (error) {
  unsupported('matmul', framework, error)
}
// The WebAssembly SIMD multiply-add limit of this thread, in the same process and run as the GEMM
// (the one-thread matmul target is a share of it; see bench/simd-peak.mjs): measured before and
// after the products, the higher of the two (load from elsewhere on the machine only lowers it).
const split = breakdown === undefined ? undefined : breakdown()
const simdPeak =
  framework === 'backfold'
    ? [peakBefore, measureSimdPeak()].reduce((a, b) => (b.gflops > a.gflops ? b : a))
    : undefined
emit({
  bench: 'matmul',
  framework,
  backend,
  checksum,
  results,
  ...(simdPeak === undefined ? {} : { simdPeak }),
  ...(split === undefined ? {} : { split }),
})
