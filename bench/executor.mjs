// The jitted MLP training step (784-256-128-10, batch 128, softmax cross-entropy, SGD update inside
// the jitted function) against the same step in eager mode, on one thread: the median step time
// and the bytes of typed arrays allocated per step in steady state (every `new Float32Array(n)`,
// `Float64Array`, `Int32Array` and typed-array `slice`, counted by wrapping those constructors
// while a few steps run; views of wasm memory are not allocations and are not counted).
// Prints one JSON line.
// Usage: node bench/executor.mjs (after a build), or BACKFOLD_BUNDLE=<path> naming one ES module
// that exports `T` (@backfold/tensor) and `O` (@backfold/ops), e.g. a bundle of another commit's
// sources made by `node bench/bundle.mjs <tree> <out>`.
const { T, O } = process.env.BACKFOLD_BUNDLE
  ? await import(process.env.BACKFOLD_BUNDLE)
  : { T: await import('@backfold/tensor'), O: await import('@backfold/ops') }

const BATCH = 128
const SIZES = [784, 256, 128, 10]
const LR = 0.05
const WARMUP = 10
const RUNS = 41

const filled = (seed, shape, scale = 1) => {
  const size = shape.reduce((a, b) => a * b, 1)
  const data = new Float32Array(size)
  let s = seed >>> 0
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    data[i] = (s / 2 ** 31 - 1) * scale
  }
  return T.unsafeTensor('float32', shape, data)
}

const params = {}
for (let l = 0; l < 3; l++) {
  params[`w${l}`] = filled(10 + l, [SIZES[l + 1], SIZES[l]], 1 / Math.sqrt(SIZES[l]))
  params[`b${l}`] = filled(20 + l, [SIZES[l + 1]], 0.01)
}
const x = filled(1, [BATCH, SIZES[0]])
const labels = new Float32Array(BATCH * 10)
for (let i = 0; i < BATCH; i++) labels[i * 10 + ((i * 7) % 10)] = 1
const y = T.unsafeTensor('float32', [BATCH, 10], labels)

const { add, grad, jit, logSoftmax, matmul, mean, mul, neg, relu, sub, sum } = O
const loss = (p, x, y) => {
  let h = x
  for (let l = 0; l < 3; l++) {
    h = add(matmul(h, p[`w${l}`], { transposeB: true }), p[`b${l}`])
    if (l < 2) h = relu(h)
  }
  return mean(neg(sum(mul(logSoftmax(h, { axis: -1 }), y), { axis: -1 })))
}
const step = (p, x, y) => {
  const g = grad(loss)(p, x, y)
  const next = {}
  for (const key of Object.keys(p)) next[key] = sub(p[key], mul(g[key], LR))
  return next
}

const median = (times) => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]
const time = (f) => {
  let p = params
  for (let i = 0; i < WARMUP; i++) p = f(p, x, y)
  const times = []
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now()
    p = f(p, x, y)
    times.push(performance.now() - start)
  }
  return { ms: median(times), p }
}

/** Bytes of typed arrays allocated while `run` executes (constructors and slices wrapped). */
const allocatedBytes = (run) => {
  let bytes = 0
  const originals = {}
  for (const name of ['Float32Array', 'Float64Array', 'Int32Array']) {
    const Original = globalThis[name]
    const slice = Original.prototype.slice
    originals[name] = { Original, slice }
    globalThis[name] = new Proxy(Original, {
      construct(target, args, newTarget) {
        const made = Reflect.construct(target, args, newTarget === globalThis[name] ? target : newTarget)
        const view =
          args[0] instanceof ArrayBuffer ||
          (typeof SharedArrayBuffer === 'function' && args[0] instanceof SharedArrayBuffer)
        if (!view) bytes += made.byteLength
        return made
      },
    })
    Original.prototype.slice = function (...args) {
      const made = slice.apply(this, args)
      bytes += made.byteLength
      return made
    }
  }
  try {
    run()
  } finally {
    for (const [name, { Original, slice }] of Object.entries(originals)) {
      globalThis[name] = Original
      Original.prototype.slice = slice
    }
  }
  return bytes
}

T.setThreads(1)
const results = []
const backends = [['reference', T.referenceBackend], ...(T.wasmAvailable() ? [['wasm', T.wasmBackend]] : [])]
for (const [name, backend] of backends) {
  T.setBackend(backend)
  const jitted = jit(step)
  const eager = time(step)
  const staged = time(jitted)
  let maxAbsDiff = 0
  for (const key of Object.keys(params))
    for (let i = 0; i < eager.p[key].data.length; i++)
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(eager.p[key].data[i] - staged.p[key].data[i]))
  const STEPS = 5
  let p = staged.p
  const jitBytes =
    allocatedBytes(() => {
      for (let i = 0; i < STEPS; i++) p = jitted(p, x, y)
    }) / STEPS
  p = eager.p
  const eagerBytes =
    allocatedBytes(() => {
      for (let i = 0; i < STEPS; i++) p = step(p, x, y)
    }) / STEPS
  const ops = {}
  for (const eq of jitted.stats().lastGraph.equations) ops[eq.op.name] = (ops[eq.op.name] ?? 0) + 1
  results.push({
    backend: name,
    eagerMs: Number(eager.ms.toFixed(3)),
    jitMs: Number(staged.ms.toFixed(3)),
    speedup: Number((eager.ms / staged.ms).toFixed(2)),
    eagerBytesPerStep: Math.round(eagerBytes),
    jitBytesPerStep: Math.round(jitBytes),
    maxAbsDiff,
    equations: ops,
  })
}
T.setBackend(undefined)
console.log(
  JSON.stringify({ bench: 'jit-mlp-step', sizes: SIZES, batch: BATCH, threads: 1, runs: RUNS, results }),
)
