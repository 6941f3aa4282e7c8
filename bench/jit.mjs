// Chains of 10 elementwise ops on a [256, 256] float32 tensor, eager against jit (whose fusion pass
// turns the chain into one elementwiseProgram kernel), on each backend. Prints one JSON line:
// {"bench":"jit-elementwise-chain","shape":[256,256],"ops":10,"results":[{"backend":"wasm",
//  "chain":"transcendental","eagerMs":…,"jitMs":…,"speedup":…,"maxAbsDiff":…}, …]}
// Usage: node bench/jit.mjs (after building @backfold/tensor and @backfold/ops). BACKFOLD_TENSOR and
// BACKFOLD_OPS may name other module paths exporting the same APIs (e.g. bundles of the sources).
const T = await import(process.env.BACKFOLD_TENSOR ?? '@backfold/tensor')
const O = await import(process.env.BACKFOLD_OPS ?? '@backfold/ops')
const { add, div, exp, jit, maximum, mul, neg, sigmoid, sqrt, square, sub, tanh } = O

const SHAPE = [256, 256]
const WARMUP = 20
const RUNS = 201

// Ten ops, two inputs, two scalar constants: the kind of chain an activation or a loss leaves.
const chain = (x, y) => {
  let v = mul(x, 0.5)
  v = add(v, y)
  v = tanh(v)
  v = mul(v, v)
  v = sub(v, 0.25)
  v = exp(v)
  v = mul(v, y)
  v = sigmoid(v)
  v = add(v, 1)
  return sqrt(v)
}

// Ten cheap ops (no transcendental function): what fusion saves is the passes over memory and the
// nine intermediate tensors, not arithmetic.
const arithmetic = (x, y) => {
  let v = mul(x, 0.5)
  v = add(v, y)
  v = square(v)
  v = sub(v, 0.25)
  v = mul(v, y)
  v = maximum(v, x)
  v = neg(v)
  v = add(v, 1)
  v = div(v, 3)
  return sqrt(square(v))
}

const CHAINS = { transcendental: chain, arithmetic }

const filled = (seed) => {
  const size = SHAPE[0] * SHAPE[1]
  const data = new Float32Array(size)
  let s = seed >>> 0
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    data[i] = s / 2 ** 31 - 1
  }
  return T.unsafeTensor('float32', SHAPE, data)
}

const median = (times) => {
  const sorted = [...times].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

const time = (f) => {
  for (let i = 0; i < WARMUP; i++) f()
  const times = []
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now()
    f()
    times.push(performance.now() - start)
  }
  return median(times)
}

const x = filled(1)
const y = filled(2)
const backends = [['reference', T.referenceBackend], ...(T.wasmAvailable() ? [['wasm', T.wasmBackend]] : [])]
const results = []
for (const [name, backend] of backends)
  for (const [chainName, f] of Object.entries(CHAINS)) {
    T.setBackend(backend)
    const jitted = jit(f)
    const eager = f(x, y)
    const staged = jitted(x, y)
    const jitEquations = jitted.stats().lastGraph.equations.map((eq) => eq.op.name)
    let maxAbsDiff = 0
    for (let i = 0; i < eager.data.length; i++)
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(eager.data[i] - staged.data[i]))
    const eagerMs = time(() => f(x, y))
    const jitMs = time(() => jitted(x, y))
    results.push({
      backend: name,
      chain: chainName,
      eagerMs: Number(eagerMs.toFixed(3)),
      jitMs: Number(jitMs.toFixed(3)),
      speedup: Number((eagerMs / jitMs).toFixed(2)),
      maxAbsDiff,
      jitEquations,
    })
  }
T.setBackend(undefined)
console.log(JSON.stringify({ bench: 'jit-elementwise-chain', shape: SHAPE, ops: 10, runs: RUNS, results }))
