// Shared helpers for the benchmark cases. Each case runs in its own Node process (bench/run.mjs),
// loads exactly one framework configuration, and prints exactly one JSON line on stdout.
import os from 'node:os'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)

/**
 * Every configuration a case accepts as its first argument.
 * - `backfold` is whatever backend the built @backfold/tensor picks by itself (its WebAssembly
 *   backend where available), training steps staged with `jit` (as `makeTrainStep` does by default);
 *   `backfold-2-threads` the same on two threads; `backfold-eager` the same step op by op (no `jit`);
 *   `backfold-reference` forces the plain TypeScript reference backend, the fallback everywhere else.
 * - `backfold-onnxruntime` and `backfold-onnxruntime-2-threads`: `jit(f, { executor: 'onnxruntime' })`
 *   (issue 13), reported unsupported, with the reason, while the build has no such executor or its
 *   status says ONNX Runtime is unavailable (see `loadBackfold`).
 * - Peers: TF.js (cpu, wasm), jax-js (`jax-jit`, `jax-jit-2-threads` on a pool of two workers,
 *   `jax-eager`), PyTorch on the CPU (`pytorch`: one thread, `pytorch-2-threads`) and a C program
 *   calling OpenBLAS (`c-openblas`, one thread), the last two run by `external.mjs` from the Debian
 *   packages that `bench/setup.mjs` installs.
 * Every configuration runs on one thread except those named `2-threads`.
 */
export const FRAMEWORKS = [
  'backfold',
  'backfold-2-threads',
  'backfold-eager',
  'backfold-reference',
  'backfold-onnxruntime',
  'backfold-onnxruntime-2-threads',
  'tfjs-cpu',
  'tfjs-wasm',
  'jax-jit',
  'jax-jit-2-threads',
  'jax-eager',
  'pytorch',
  'pytorch-2-threads',
  'c-openblas',
]

/** Threads a configuration runs on. */
export const threadsOf = (framework) => (framework.endsWith('-2-threads') ? 2 : 1)

export const frameworkArg = () => {
  const framework = process.argv[2] ?? 'backfold'
  if (!FRAMEWORKS.includes(framework)) {
    console.error(`unknown framework '${framework}'; expected one of ${FRAMEWORKS.join(', ')}`)
    process.exit(2)
  }
  return framework
}

const isThenable = (v) => v !== null && typeof v === 'object' && typeof v.then === 'function'

const summarise = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { medianMs: median, minMs: sorted[0], maxMs: sorted[sorted.length - 1], runs: sorted.length }
}

/**
 * Times whole calls of `fn` (sync or async): untimed warm-up calls (at least `warmup` of them and
 * `warmupMs` of calls), then timed calls until `maxRuns`, stopping early once `budgetMs` is spent
 * (but never before 3 timed calls). Returns the median, min and max in ms. Used for steps that take
 * milliseconds or more.
 */
export const measure = async (fn, { warmup = 3, warmupMs = 0, maxRuns = 15, budgetMs = 12_000 } = {}) => {
  // Warm-up: at least `warmup` calls and `warmupMs` of them, so that every framework is timed in
  // its steady state (V8's optimising tiers, caches, pools), as in a training run of many steps.
  const warmupStart = performance.now()
  for (let i = 0; i < warmup || performance.now() - warmupStart < warmupMs; i++) await fn()
  const samples = []
  const start = performance.now()
  while (samples.length < maxRuns && (samples.length < 3 || performance.now() - start < budgetMs)) {
    const t0 = performance.now()
    await fn()
    samples.push(performance.now() - t0)
  }
  return summarise(samples)
}

/**
 * Times a fast call (µs): warms up for `warmupMs`, picks a repeat count so one sample lasts about
 * `sampleMs`, then takes `samples` samples. A synchronous `fn` is looped without `await`, so the
 * microtask an `await` costs is not charged to frameworks whose calls are synchronous. Returns the
 * median, min and max time per call in µs and the calls per sample.
 */
export const measurePerCall = async (fn, { warmupMs = 500, sampleMs = 50, samples = 15 } = {}) => {
  const sync = !isThenable(fn())
  const loop = sync
    ? (n) => {
        for (let i = 0; i < n; i++) fn()
      }
    : async (n) => {
        for (let i = 0; i < n; i++) await fn()
      }
  // Doubles the repeat count until one loop lasts sampleMs, and keeps looping until warmupMs has
  // passed: this is also the warm-up.
  let calls = 1
  const warmupStart = performance.now()
  for (;;) {
    const t0 = performance.now()
    await loop(calls)
    const elapsed = performance.now() - t0
    if (elapsed < sampleMs && calls < 1 << 24) calls *= 2
    else if (performance.now() - warmupStart >= warmupMs) break
  }
  const times = []
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now()
    await loop(calls)
    times.push(((performance.now() - t0) * 1000) / calls)
  }
  const { medianMs, minMs, maxMs, runs } = summarise(times)
  return { medianMicros: medianMs, minMicros: minMs, maxMicros: maxMs, samples: runs, callsPerSample: calls }
}

export const machine = () => ({
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  node: process.version,
  v8: process.versions.v8,
  platform: `${os.platform()} ${os.arch()}`,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
})

export const emit = (result) => console.log(JSON.stringify(result))

/** Reports a configuration that cannot run this case (missing kernel, missing backend), then exits. */
export const unsupported = (bench, framework, error) => {
  emit({ bench, framework, error: String(error?.message ?? error).split('\n')[0] })
  process.exit(0)
}

/** A package's installed version, also for packages whose `exports` hide their package.json. */
export const versionOf = (name) => {
  try {
    return require(`${name}/package.json`).version
  } catch {
    // Walk up from the resolved entry point to the package's own package.json.
    try {
      let dir = dirname(require.resolve(name))
      while (dir !== dirname(dir)) {
        const manifest = join(dir, 'package.json')
        if (existsSync(manifest)) {
          const { name: found, version } = JSON.parse(readFileSync(manifest, 'utf8'))
          if (found === name) return version
        }
        dir = dirname(dir)
      }
    } catch {
      // not installed
    }
    return 'unknown'
  }
}

export const here = dirname(fileURLToPath(import.meta.url))

// ---------------------------------------------------------------------------------------------
// Deterministic inputs shared by every framework, so all of them train the same network on the
// same numbers and their first losses can be compared (a check that they compute the same thing).

/** mulberry32: a tiny, well-mixed 32-bit PRNG; the same seed gives the same stream everywhere. */
const prng = (seed) => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `size` float32 values, normal(0, 1) times `scale` (Box–Muller). */
export const normalData = (seed, size, scale = 1) => {
  const next = prng(seed)
  const out = new Float32Array(size)
  for (let i = 0; i < size; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - next()))
    const angle = 2 * Math.PI * next()
    out[i] = radius * Math.cos(angle) * scale
    if (i + 1 < size) out[i + 1] = radius * Math.sin(angle) * scale
  }
  return out
}

/** `size` float32 values uniform in [0, 1). */
export const uniformData = (seed, size) => {
  const next = prng(seed)
  const out = new Float32Array(size)
  for (let i = 0; i < size; i++) out[i] = next()
  return out
}

/** One-hot float32 labels [batch, classes] for random classes. */
export const oneHotData = (seed, batch, classes) => {
  const next = prng(seed)
  const out = new Float32Array(batch * classes)
  for (let i = 0; i < batch; i++) out[i * classes + Math.floor(next() * classes)] = 1
  return out
}

/** Row-major transpose of a [rows, cols] matrix (to give backfold its [out, in] dense layout). */
export const transposeData = (data, rows, cols) => {
  const out = new Float32Array(data.length)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]
  return out
}

// ---------------------------------------------------------------------------------------------
// Framework loaders.

/**
 * Loads the built backfold packages for a backfold configuration and returns, beside the packages,
 * `stage(f, opts?)`: how the configuration runs a whole step or function. `jit(f, opts)` for `backfold` and
 * `backfold-2-threads` (the wasm executor), `f` itself for `backfold-eager`, and
 * `jit(f, { executor: 'onnxruntime' })` for the onnxruntime configurations. `backfold-reference`
 * selects the reference backend (jitted too), and reports itself as not applicable when that is
 * already the default (then `backfold` measures it). Call `checkExecutor(jitted)` after the first
 * call of a staged function: for the onnxruntime configurations it makes the configuration
 * unsupported, with the reason, unless ONNX Runtime really ran it.
 */
export const loadBackfold = async (framework, bench) => {
  const T = await import('@backfold/tensor')
  const O = await import('@backfold/ops')
  if (framework === 'backfold-reference') {
    if (T.getBackend().name === T.referenceBackend.name)
      unsupported(bench, framework, 'the default backend is already the reference backend (see backfold)')
    T.setBackend(T.referenceBackend)
  }
  // One thread everywhere (like every peer configuration), except the configurations that measure both cores.
  T.setThreads(threadsOf(framework))
  const fromData = (data, shape) => T.unsafeTensor('float32', shape, data)
  const threads = T.getThreads()
  const onnx = framework.startsWith('backfold-onnxruntime')
  // `opts` are jit's (e.g. `{ donate: [0] }` for a training step that gives up its parameters, as
  // a training loop does); the eager configuration runs `f` as it is.
  const stage =
    framework === 'backfold-eager'
      ? (f) => f
      : onnx
        ? onnxStager(O, T, bench, framework)
        : (f, opts = {}) => O.jit(f, opts)
  const executor = framework === 'backfold-eager' ? 'eager' : onnx ? 'onnxruntime' : 'jit'
  const backendName = onnx ? 'onnxruntime' : T.getBackend().name
  return {
    T,
    O,
    fromData,
    stage,
    checkExecutor: (jitted) => {
      if (onnx) checkOnnxExecutor(O, jitted, bench, framework)
    },
    backend: `${backendName}${onnx ? '' : `, ${executor}`}${threads > 1 ? `, ${threads} threads` : ''}`,
  }
}

/** `jit(f, opts)` with the ONNX Runtime executor of issue 13. */
const ONNX_OPTIONS = { executor: 'onnxruntime' }

/**
 * Returns `f => jit(f, { executor: 'onnxruntime' })` after checking that this build's `jit` takes
 * that option (it refuses unknown options), and reports the configuration unsupported otherwise.
 */
const onnxStager = (O, T, bench, framework) => {
  try {
    const probe = O.jit((a) => O.add(a, 1), ONNX_OPTIONS)
    probe(T.tensor([1, 2]))
    checkOnnxExecutor(O, probe, bench, framework)
  } catch (error) {
    unsupported(
      bench,
      framework,
      `jit(f, { executor: 'onnxruntime' }) is not available in this build: ${String(error?.message ?? error).split('\n')[0]}`,
    )
  }
  return (f, opts = {}) => O.jit(f, { ...opts, ...ONNX_OPTIONS })
}

/**
 * What the build says about the executor that ran `jitted` last: the status function (named
 * `executorStatus` or `onnxruntimeStatus`, called with the jitted function, else without
 * arguments; issue 13's `executorStatus(jitted)` is `{ requested, running, reason?, sessionCreateMs? }`)
 * and `jitted.stats()` (`lastRun`, `executor`).
 */
export const executorReport = (O, jitted) => {
  const statusFn = [O.executorStatus, O.onnxruntimeStatus].find((f) => typeof f === 'function')
  let status
  try {
    status = statusFn?.(jitted)
  } catch {
    status = undefined
  }
  if (status === undefined && statusFn !== undefined) {
    try {
      status = statusFn()
    } catch {
      status = undefined
    }
  }
  const stats = typeof jitted?.stats === 'function' ? jitted.stats() : undefined
  return { status, lastRun: stats?.lastRun, executor: stats?.executor }
}

/**
 * Makes the configuration unsupported unless ONNX Runtime ran `jitted`'s last call: `stats().lastRun`
 * or `stats().executor` or the status's `executor`/`running` says 'onnxruntime', and the status does not say
 * unavailable or fallen back. The reason printed is the status's own (its `reason`/`message`).
 */
const checkOnnxExecutor = (O, jitted, bench, framework) => {
  const { status, lastRun, executor } = executorReport(O, jitted)
  const said = (v) => typeof v === 'string' && /onnx/i.test(v)
  const statusObject = status !== null && typeof status === 'object' ? status : {}
  const unavailable =
    statusObject.available === false || statusObject.fallback === true || statusObject.ok === false
  const ran =
    said(lastRun) ||
    said(executor) ||
    said(statusObject.executor) ||
    said(statusObject.running) ||
    said(status)
  if (ran && !unavailable) return
  const reason =
    statusObject.reason ??
    statusObject.message ??
    (status === undefined ? 'no executor status function' : JSON.stringify(status))
  unsupported(
    bench,
    framework,
    `jit(f, { executor: 'onnxruntime' }) ran on ${lastRun ?? executor ?? 'another executor'}, not ONNX Runtime: ${reason}`,
  )
}

/** Loads TensorFlow.js with the requested backend ('tfjs-cpu' or 'tfjs-wasm', one thread, SIMD). */
export const loadTfjs = async (framework) => {
  // The umbrella package: it registers every gradient by import side effect; tfjs-core alone
  // fails at run time with "gradient function not found".
  const tf = await import('@tensorflow/tfjs')
  if (framework === 'tfjs-wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm')
    // The .wasm binaries ship in the package's dist folder; a file path works offline in Node.
    const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))
    wasm.setWasmPaths(`${dist}/`)
    wasm.setThreadsCount(1)
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise')
  } else if (!(await tf.setBackend('cpu'))) throw new Error('tfjs cpu backend failed to initialise')
  await tf.ready()
  return tf
}

/** Worker threads a configuration gives jax-js: two for `jax-jit-2-threads`, none otherwise. */
export const jaxWorkers = (framework) => (framework === 'jax-jit-2-threads' ? 2 : 0)

/** The backend a jax-js configuration reports: its wasm device, and the workers it dispatches to. */
export const jaxBackendName = (framework) =>
  jaxWorkers(framework) > 0 ? `wasm, ${jaxWorkers(framework)} workers` : 'wasm'

/**
 * Loads jax-js on its WebAssembly device. jax-js reads `navigator.userAgent` while generating
 * kernels; Node 20 has no `navigator` global (Node 21+ does), so a minimal one is provided. jax-js
 * starts a pool of `navigator.hardwareConcurrency` Web Workers when `SharedArrayBuffer` and a global
 * `Worker` exist; Node has no global `Worker`, so its kernels run on the main thread, except for
 * `jax-jit-2-threads`, which gets a `Worker` over node:worker_threads (node-worker.mjs) and a
 * `hardwareConcurrency` of 2. Call `checkJaxWorkers` after a step to make sure the pool was used.
 */
export const loadJax = async (framework) => {
  const workers = jaxWorkers(framework)
  const userAgent = globalThis.navigator?.userAgent ?? `Node.js/${process.versions.node.split('.')[0]}`
  // A plain value property: on Node 21+ `navigator` is a getter on globalThis, and jax-js must see 2.
  Object.defineProperty(globalThis, 'navigator', {
    value: { userAgent, hardwareConcurrency: workers > 0 ? workers : 1 },
    configurable: true,
    writable: true,
  })
  if (workers > 0) {
    if (typeof SharedArrayBuffer === 'undefined')
      throw new Error('no SharedArrayBuffer: jax-js cannot use workers')
    const { NodeWebWorker } = await import('./node-worker.mjs')
    globalThis.Worker ??= NodeWebWorker
  } else if (typeof globalThis.Worker !== 'undefined') {
    // Some runtime gave us a global Worker (Deno, Bun, a future Node): the one-thread configurations
    // must stay on one thread to be comparable.
    delete globalThis.Worker
  }
  const jax = await import('@jax-js/jax')
  const devices = await jax.init('wasm')
  if (!devices.includes('wasm')) throw new Error('jax-js wasm device failed to initialise')
  jax.defaultDevice('wasm')
  return jax
}

/**
 * Throws unless jax-js started as many worker threads as the configuration asks for, so a
 * two-thread figure can never silently be a one-thread figure (for instance after a jax-js update
 * that spawns its workers differently).
 */
export const checkJaxWorkers = async (framework) => {
  const wanted = jaxWorkers(framework)
  if (wanted === 0) return
  const { NodeWebWorker } = await import('./node-worker.mjs')
  if (NodeWebWorker.started !== wanted)
    throw new Error(
      `jax-js started ${NodeWebWorker.started} worker threads, expected ${wanted}` +
        (NodeWebWorker.started === 0
          ? ' (it runs kernels read back synchronously, with dataSync, on the main thread)'
          : ': check how this jax-js version spawns workers (bench/cases/node-worker.mjs)'),
    )
}

/** Peer versions, for the report. */
export const peerVersions = () => ({
  '@tensorflow/tfjs': versionOf('@tensorflow/tfjs'),
  '@tensorflow/tfjs-core': versionOf('@tensorflow/tfjs-core'),
  '@tensorflow/tfjs-backend-cpu': versionOf('@tensorflow/tfjs-backend-cpu'),
  '@tensorflow/tfjs-backend-wasm': versionOf('@tensorflow/tfjs-backend-wasm'),
  '@jax-js/jax': versionOf('@jax-js/jax'),
})

/**
 * A jax-js SGD training step over `loss(params, x, labels)`: `valueAndGrad` plus `p − lr·g` on every
 * leaf, the whole update under `jit` for the 'jax-jit' configurations. Returns `step()`, resolving to the loss before
 * the update once the new parameters are materialised (jax-js arrays are lazy).
 */
export const jaxSgdStep = (jax, framework, loss, initialParams, x, labels, lr) => {
  const { tree } = jax
  const valueAndGrad = jax.valueAndGrad(loss)
  // jax-js functions take ownership of their arguments; `.ref` / tree.ref keep a value alive.
  const update = (p, inputs, targets) => {
    const [value, grads] = valueAndGrad(tree.ref(p), inputs, targets)
    return [value, tree.map((v, g) => v.sub(g.mul(lr)), p, grads)]
  }
  const compiled = framework.startsWith('jax-jit') ? jax.jit(update) : update
  let params = initialParams
  return async () => {
    const [value, next] = compiled(params, x.ref, labels.ref)
    params = next
    await jax.blockUntilReady(params)
    const [loss0] = await value.data()
    return loss0
  }
}

/** How long the sustained phase of a training step runs back to back (see `sustainedMean`). */
export const SUSTAIN_MS = 5_000

/**
 * Runs `fn` back to back for `durationMs` (and at least 3 calls) and returns the mean time per
 * call: the rate a training run sees, with every garbage collection, worker hand-off and stall
 * included. The median of a few dozen calls leaves those out, which flatters configurations whose
 * slow calls are frequent (two threads on a shared machine).
 */
export const sustainedMean = async (fn, durationMs = SUSTAIN_MS) => {
  let calls = 0
  const start = performance.now()
  while (calls < 3 || performance.now() - start < durationMs) {
    await fn()
    calls++
  }
  const elapsedMs = performance.now() - start
  return { sustainedMeanMs: elapsedMs / calls, sustainedCalls: calls, sustainedSeconds: elapsedMs / 1000 }
}

/**
 * Times a training step and emits the case's JSON line: the first step alone (one-off work: jit
 * compilation, kernel generation), the loss after one step (equal across configurations iff their
 * gradients agree), then the steady state (`measure` after a 1.5 s warm-up: median, min, max) and
 * the sustained mean over `SUSTAIN_MS` of back-to-back steps. A step that throws makes the
 * configuration unsupported for this case, with the error as the reason. `extras()`, called after the
 * timing, adds fields to the result (a backfold step's profile).
 */
export const timeTrainingStep = async (bench, framework, backend, batch, step, extras = () => ({})) => {
  let firstLoss
  let firstStepMs
  let lossAfterOneStep
  try {
    const firstStart = performance.now()
    firstLoss = await step()
    firstStepMs = performance.now() - firstStart
    lossAfterOneStep = await step()
    await checkJaxWorkers(framework)
  } catch (error) {
    unsupported(bench, framework, error)
  }
  const stats = await measure(step, { warmup: 3, warmupMs: 1500, maxRuns: 41, budgetMs: 12_000 })
  const sustained = await sustainedMean(step)
  emit({
    bench,
    framework,
    backend,
    batch,
    firstStepMs,
    firstLoss,
    lossAfterOneStep,
    samplesPerSecond: (batch * 1000) / stats.medianMs,
    sustainedSamplesPerSecond: (batch * 1000) / sustained.sustainedMeanMs,
    ...stats,
    ...sustained,
    ...extras(),
  })
}
