// float32 n×n matmul throughput of each backend, single thread. Prints one JSON line:
// {"bench":"matmul","results":[{"n":128,"backend":"reference","gflops":3.4}, ...]}
// Usage: node bench/matmul.mjs (after building @backfold/tensor). BACKFOLD_TENSOR may name another
// module path exporting the same API (e.g. a bundle of the sources) to measure before wiring.
const tensor = await import(process.env.BACKFOLD_TENSOR ?? '@backfold/tensor')
const { matmul, setBackend, referenceBackend, wasmBackend, wasmAvailable, unsafeTensor } = tensor

const SIZES = [128, 256, 512, 1024]
const RUNS = 5

// Deterministic data in [-1, 1): the numbers do not matter for timing, denormals would.
const filled = (size, seed) => {
  const data = new Float32Array(size)
  let state = seed >>> 0
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    data[i] = state / 2 ** 31 - 1
  }
  return data
}

const median = (values) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]

const measure = (backend, n) => {
  setBackend(backend)
  const a = unsafeTensor('float32', [n, n], filled(n * n, 1))
  const b = unsafeTensor('float32', [n, n], filled(n * n, 2))
  // Warm-up until the JIT (and V8's optimising wasm tier) has settled: at least 3 runs and 0.3 s.
  const warmStart = performance.now()
  for (let i = 0; i < 3 || performance.now() - warmStart < 300; i++) matmul(a, b)
  const times = []
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now()
    matmul(a, b)
    times.push(performance.now() - start)
  }
  setBackend(undefined)
  return (2 * n ** 3) / (median(times) * 1e6)
}

const backends = [['reference', referenceBackend]]
if (wasmBackend !== undefined && wasmAvailable?.()) backends.push(['wasm', wasmBackend])
else console.error('matmul bench: no wasm backend exported (or no SIMD): measuring the reference only')

const results = []
for (const n of SIZES) {
  for (const [name, backend] of backends) {
    const gflops = measure(backend, n)
    console.error(`n=${n} ${name}: ${gflops.toFixed(2)} GFLOP/s`)
    results.push({ n, backend: name, gflops: Math.round(gflops * 100) / 100 })
  }
}
console.log(JSON.stringify({ bench: 'matmul', results }))
