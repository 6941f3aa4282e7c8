// A dense layer's elementwise tail, y = tanh(x · w + b) with x [256, 1024] float32 and w, b [1024]
// (rows broadcast), three ways on each backend: eager (three kernels, two intermediate tensors),
// jit (the fusion pass makes one elementwiseProgram; on the wasm backend that is one generated SIMD
// kernel, transcendental step included), and the same fused program on the reference block loop
// (what the wasm backend ran for it before tanh was generated in wasm). Prints one JSON line:
// {"bench":"fusion-dense-tail","shape":[256,1024],"results":[{"backend":"wasm","eagerMs":…,"jitMs":…,
//  "referenceLoopMs":…,"maxAbsDiff":…,"jitEquations":["elementwiseProgram"]}, …]}
// Usage: node bench/fusion.mjs (after building @backfold/tensor and @backfold/ops). BACKFOLD_TENSOR
// and BACKFOLD_OPS may name other module paths exporting the same APIs (e.g. bundles of the sources).
const T = await import(process.env.BACKFOLD_TENSOR ?? '@backfold/tensor')
const O = await import(process.env.BACKFOLD_OPS ?? '@backfold/ops')

const ROWS = 256
const COLS = 1024
const WARMUP = 20
const RUNS = 201

const tail = (x, w, b) => O.tanh(O.add(O.mul(x, w), b))

const filled = (seed, shape) => {
  const size = shape.reduce((a, d) => a * d, 1)
  const data = new Float32Array(size)
  let s = seed >>> 0
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    data[i] = (s / 2 ** 31 - 1) * 3
  }
  return T.unsafeTensor('float32', shape, data)
}

const median = (times) => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]

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

const x = filled(1, [ROWS, COLS])
const w = filled(2, [COLS])
const b = filled(3, [COLS])
const backends = [['reference', T.referenceBackend], ...(T.wasmAvailable() ? [['wasm', T.wasmBackend]] : [])]
const results = []
for (const [name, backend] of backends) {
  T.setBackend(backend)
  const jitted = O.jit(tail)
  const eager = tail(x, w, b)
  const staged = jitted(x, w, b)
  const graph = jitted.stats().lastGraph
  const fused = graph.equations.find((eq) => eq.op.name === 'elementwiseProgram')
  let maxAbsDiff = 0
  for (let i = 0; i < eager.data.length; i++)
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(eager.data[i] - staged.data[i]))
  const eagerMs = time(() => tail(x, w, b))
  const jitMs = time(() => jitted(x, w, b))
  const referenceLoopMs =
    fused === undefined
      ? undefined
      : time(() =>
          T.referenceBackend.elementwiseProgram(fused.params.program, [x, w, b], [ROWS, COLS], 'float32'),
        )
  results.push({
    backend: name,
    eagerMs: Number(eagerMs.toFixed(3)),
    jitMs: Number(jitMs.toFixed(3)),
    referenceLoopMs: referenceLoopMs === undefined ? undefined : Number(referenceLoopMs.toFixed(3)),
    speedupOverEager: Number((eagerMs / jitMs).toFixed(2)),
    maxAbsDiff,
    jitEquations: graph.equations.map((eq) => eq.op.name),
  })
}
T.setBackend(undefined)
console.log(JSON.stringify({ bench: 'fusion-dense-tail', shape: [ROWS, COLS], runs: RUNS, results }))
