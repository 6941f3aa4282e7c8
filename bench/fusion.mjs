// Fused kernels against eager mode on x [256, 1024] float32, on each backend: a dense layer's
// elementwise tail tanh(x · w + b) with w, b [1024] (one elementwiseProgram; on the wasm backend
// one generated SIMD kernel, tanh included; referenceLoopMs is the same program on the reference
// block loop, which the wasm backend ran before tanh was generated), and row reductions written as
// plain ops: softmax, layer norm, mean cross-entropy against probabilities and its gradient, and
// the gradient through the softmax op (each one reductionProgram, or a few, under jit).
// Prints one JSON line: {"bench":"fusion","shape":[256,1024],"results":[{"backend":"wasm",
// "case":"softmax","eagerMs":…,"jitMs":…,"speedup":…,"maxAbsDiff":…,"jitEquations":[…]}, …]}
// Usage: node bench/fusion.mjs (after building @backfold/tensor and @backfold/ops); RUNS=… sets the
// timed runs (median reported). BACKFOLD_TENSOR and BACKFOLD_OPS may name other module paths
// exporting the same APIs (e.g. bundles of the sources).
const T = await import(process.env.BACKFOLD_TENSOR ?? '@backfold/tensor')
const O = await import(process.env.BACKFOLD_OPS ?? '@backfold/ops')

const ROWS = 256
const COLS = 1024
const WARMUP = Number(process.env.WARMUP ?? 200)
const RUNS = Number(process.env.RUNS ?? 51)

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

// The median and the fastest of RUNS timed calls after WARMUP untimed ones (enough for V8 to move
// the generated modules from its baseline compiler to its optimizing one). On a busy machine the
// fastest run is the steadier figure.
const time = (f) => {
  for (let i = 0; i < WARMUP; i++) f()
  const times = []
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now()
    f()
    times.push(performance.now() - start)
  }
  return { median: median(times), min: Math.min(...times) }
}

const x = filled(1, [ROWS, COLS])
const w = filled(2, [COLS])
const b = filled(3, [COLS])
const labels = O.softmax(filled(4, [ROWS, COLS]))
const backends = [['reference', T.referenceBackend], ...(T.wasmAvailable() ? [['wasm', T.wasmBackend]] : [])]

// Row reductions written as plain ops: each becomes one reductionProgram under jit.
const softmax = (v) => {
  const e = O.exp(O.sub(v, O.max(v, { axis: -1, keepDims: true })))
  return O.div(e, O.sum(e, { axis: -1, keepDims: true }))
}
const layerNorm = (v) => {
  const d = O.sub(v, O.mean(v, { axis: -1, keepDims: true }))
  const variance = O.mean(O.square(d), { axis: -1, keepDims: true })
  return O.add(O.mul(O.mul(d, O.rsqrt(O.add(variance, 1e-5))), w), b)
}
const crossEntropy = (v) => {
  const d = O.sub(v, O.max(v, { axis: -1, keepDims: true }))
  const logp = O.sub(d, O.log(O.sum(O.exp(d), { axis: -1, keepDims: true })))
  return O.mean(O.neg(O.sum(O.mul(labels, logp), { axis: -1 })))
}
const CASES = {
  denseTail: [(v) => tail(v, w, b), [x]],
  softmax: [softmax, [x]],
  layerNorm: [layerNorm, [x]],
  crossEntropy: [crossEntropy, [x]],
  crossEntropyGrad: [O.grad(crossEntropy), [x]],
  softmaxOpGrad: [O.grad((v) => O.sum(O.mul(O.softmax(v), labels))), [x]],
}

const results = []
for (const [name, backend] of backends) {
  T.setBackend(backend)
  for (const [label, [f, args]] of Object.entries(CASES)) {
    const jitted = O.jit(f)
    const eagerValue = f(...args)
    const stagedValue = jitted(...args)
    const graph = jitted.stats().lastGraph
    let maxAbsDiff = 0
    for (let i = 0; i < eagerValue.data.length; i++)
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(eagerValue.data[i] - stagedValue.data[i]))
    const eager = time(() => f(...args))
    const staged = time(() => jitted(...args))
    const fused = graph.equations.find((eq) => eq.op.name === 'elementwiseProgram')
    // The dense tail's fused program on the reference block loop: what the wasm backend ran for it
    // before transcendental steps were generated.
    const referenceLoop =
      label === 'denseTail' && fused !== undefined
        ? time(() =>
            T.referenceBackend.elementwiseProgram(fused.params.program, [x, w, b], [ROWS, COLS], 'float32'),
          )
        : undefined
    const ms = (t) => Number(t.toFixed(3))
    results.push({
      backend: name,
      case: label,
      eagerMs: ms(eager.median),
      jitMs: ms(staged.median),
      eagerMinMs: ms(eager.min),
      jitMinMs: ms(staged.min),
      ...(referenceLoop === undefined
        ? {}
        : { referenceLoopMs: ms(referenceLoop.median), referenceLoopMinMs: ms(referenceLoop.min) }),
      speedup: Number((eager.median / staged.median).toFixed(2)),
      maxAbsDiff,
      jitEquations: graph.equations.map((eq) => eq.op.name),
    })
  }
}
T.setBackend(undefined)
console.log(JSON.stringify({ bench: 'fusion', shape: [ROWS, COLS], runs: RUNS, results }))
