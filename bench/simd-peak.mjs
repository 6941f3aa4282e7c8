// The WebAssembly SIMD multiply-add limit of this CPU and engine, measured: a generated wasm loop of
// f32x4.mul + f32x4.add into K independent accumulators, `acc[k] += x · load(p + 16k)` (the shape of a
// GEMM register tile's inner step: a broadcast value times a row loaded from L1), for several K,
// best of them. Enough independent accumulators hide the add latency, so the loop runs at the
// throughput of the mul and add ports; the loads go to the load ports and the varying address keeps
// the engine from hoisting the products out of the loop. Without relaxed SIMD (Node 20) there is no
// fused multiply-add, so one mul + one add (8 FLOP per f32x4 pair) is the best multiply-add kernel;
// where the engine has relaxed SIMD the same loops with f32x4.relaxed_madd are measured too.
//   node bench/simd-peak.mjs      prints one JSON line: { gflops, accumulators, variants: [...] }
// bench/cases/matmul.mjs calls measureSimdPeak() in the same run as the GEMM (the matmul target).

import { Buffer } from 'node:buffer'

const ACCUMULATORS = [4, 6, 8, 10, 12, 14]
/** Rows of the loaded buffer cycled through (32 · 16 · K bytes: in L1 for every K). */
const ROWS = 32

const leb = (n) => {
  const out = []
  do {
    let byte = n & 0x7f
    n >>>= 7
    if (n !== 0) byte |= 0x80
    out.push(byte)
  } while (n !== 0)
  return out
}
const sleb = (n) => {
  const out = []
  for (;;) {
    const byte = n & 0x7f
    n >>= 7
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte]
    out.push(byte | 0x80)
  }
}
const section = (id, bytes) => [id, ...leb(bytes.length), ...bytes]
const vector = (items) => [...leb(items.length), ...items.flat()]
const name = (s) => [...leb(s.length), ...Buffer.from(s)]

/**
 * A module exporting `run(iterations: i32) -> f32` (K accumulators) and its memory. Locals: 0 the
 * iteration count, 1 i, 2 the row address, 3 x, 4… the accumulators.
 */
export const peakModule = (k, { fma = false } = {}) => {
  const SIMD = 0xfd
  const get = (i) => [0x20, ...leb(i)]
  const set = (i) => [0x21, ...leb(i)]
  const f32x4add = [SIMD, ...leb(228)]
  const f32x4mul = [SIMD, ...leb(230)]
  /** f32x4.relaxed_madd(a, b, c) = a·b + c (relaxed SIMD: hardware FMA where the CPU has it). */
  const relaxedMadd = [SIMD, ...leb(0x105)]
  const body = [
    // x = splat(1.0)
    0x43,
    ...new Uint8Array(new Float32Array([1]).buffer),
    SIMD,
    ...leb(0x13),
    ...set(3),
    0x03,
    0x40, // loop
    // addr = (i & (ROWS - 1)) · 16k
    ...get(1),
    0x41,
    ...sleb(ROWS - 1),
    0x71,
    0x41,
    ...sleb(16 * k),
    0x6c,
    ...set(2),
  ]
  const load = (a) => [...get(2), SIMD, 0x00, 4, ...leb(16 * a)] // v128.load offset=16a
  for (let a = 0; a < k; a++)
    body.push(
      ...(fma
        ? [...get(3), ...load(a), ...get(4 + a), ...relaxedMadd] // acc = madd(x, row, acc)
        : [...get(4 + a), ...get(3), ...load(a), ...f32x4mul, ...f32x4add]), // acc = acc + x·row
      ...set(4 + a),
    )
  body.push(
    // i += 1; continue while i < iterations
    ...get(1),
    0x41,
    1,
    0x6a,
    0x21,
    1,
    ...get(1),
    ...get(0),
    0x49,
    0x0d,
    0,
    0x0b, // end loop
    ...get(4),
  )
  // The sum of every accumulator is the result, so none of them is dead.
  for (let a = 1; a < k; a++) body.push(...get(4 + a), ...f32x4add)
  body.push(SIMD, ...leb(0x1f), 0, 0x0b) // f32x4.extract_lane 0; end
  const locals = vector([
    [2, 0x7f],
    [1 + k, 0x7b],
  ])
  const code = [...locals, ...body]
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vector([[0x60, 1, 0x7f, 1, 0x7d]])), // type: (i32) -> f32
    ...section(3, vector([[0]])), // one function of type 0
    ...section(5, vector([[0x00, 1]])), // memory: min 1 page
    ...section(
      7,
      vector([
        [...name('run'), 0x00, 0],
        [...name('memory'), 0x02, 0],
      ]),
    ),
    ...section(10, vector([[...leb(code.length), ...code]])),
  ])
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/**
 * GFLOP/s of one variant: warm-up (at least `warmupMs`, so V8 tiers the function up), then the
 * median of `samples` calls of about `sampleMs` each.
 */
const measureVariant = (k, fma, { warmupMs = 300, sampleMs = 40, samples = 11 } = {}) => {
  const module = new globalThis.WebAssembly.Module(peakModule(k, { fma }))
  const { run } = new globalThis.WebAssembly.Instance(module).exports
  let iterations = 1 << 12
  const start = performance.now()
  for (;;) {
    const t0 = performance.now()
    run(iterations)
    const elapsed = performance.now() - t0
    if (elapsed < sampleMs) iterations *= 2
    else if (performance.now() - start >= warmupMs) break
  }
  const rates = []
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now()
    run(iterations)
    const seconds = (performance.now() - t0) / 1000
    rates.push((iterations * k * 8) / seconds / 1e9)
  }
  return { accumulators: k, fma, gflops: median(rates), maxGflops: Math.max(...rates) }
}

/** Whether this engine has relaxed SIMD (validates a module using f32x4.relaxed_madd). */
export const hasRelaxedSimd = () => globalThis.WebAssembly.validate(peakModule(4, { fma: true }))

/**
 * The best variant's median GFLOP/s on this thread, and every variant's: mul + add for every K,
 * and, where the engine has relaxed SIMD (Node 22+, current browsers), relaxed_madd for every K too
 * (the best multiply-add kernel is then a fused one).
 */
export const measureSimdPeak = (options) => {
  const kinds = hasRelaxedSimd() ? [false, true] : [false]
  const variants = kinds.flatMap((fma) => ACCUMULATORS.map((k) => measureVariant(k, fma, options)))
  const best = variants.reduce((a, b) => (b.gflops > a.gflops ? b : a))
  return { gflops: best.gflops, accumulators: best.accumulators, fma: best.fma, variants }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(measureSimdPeak()))
