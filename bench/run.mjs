// Runs every benchmark case for every framework, each in its own Node process (no shared JIT state
// or heap), then writes docs/benchmarks.md. Usage (after `pnpm run build`): node bench/run.mjs
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { machine, versionOf } from './cases/common.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))
const frameworks = ['backfold', 'tfjs-cpu', 'tfjs-wasm']
const cases = ['matmul', 'mlp', 'cnn', 'inference', 'overhead']

const run = (name, framework) => {
  try {
    const out = execFileSync(process.execPath, [`${here}cases/${name}.mjs`, framework], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 300_000,
    })
    return JSON.parse(out.trim().split('\n').pop())
  } catch (error) {
    return { bench: name, framework, error: String(error.message ?? error).split('\n')[0] }
  }
}

const m = machine()
console.log(`machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}`)
const results = {}
for (const name of cases) {
  results[name] = {}
  for (const framework of frameworks) {
    const r = run(name, framework)
    results[name][framework] = r
    console.log(JSON.stringify(r))
  }
}

const f = (v, digits = 1) => (v === undefined ? 'n/a' : v.toFixed(digits))
const ratio = (ours, theirs, higherIsBetter = true) =>
  ours === undefined || theirs === undefined
    ? 'n/a'
    : `${(higherIsBetter ? ours / theirs : theirs / ours).toFixed(2)}×`
const cell = (r, key, digits) =>
  r?.error !== undefined ? `not supported (${r.error.slice(0, 60)})` : f(r?.[key], digits)

const mm = results.matmul
const sizes = mm.backfold.results?.map((r) => r.n) ?? []
const gflops = (fw, n) => mm[fw]?.results?.find((r) => r.n === n)?.gflops
const lines = [
  '# Benchmarks',
  '',
  'Produced by `npx -y pnpm@10 run bench` (builds the packages, then `node bench/run.mjs`): every case for every',
  'framework in its own Node process, warm-up runs, then the median of several timed runs. Float32 throughout.',
  `Machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}. Date: ${new Date().toISOString().slice(0, 10)}.`,
  `Peers: TensorFlow.js ${versionOf('@tensorflow/tfjs')} (cpu backend; wasm backend ${versionOf('@tensorflow/tfjs-backend-wasm')}, XNNPACK + SIMD, 1 thread).`,
  'Ratios are backfold relative to the peer: above 1× means backfold is faster.',
  '',
  '## matmul n×n·n×n (GFLOP/s)',
  '',
  '| n | backfold | tfjs-cpu | tfjs-wasm | vs tfjs-cpu | vs tfjs-wasm |',
  '| --- | --- | --- | --- | --- | --- |',
  ...sizes.map(
    (n) =>
      `| ${n} | ${f(gflops('backfold', n))} | ${f(gflops('tfjs-cpu', n))} | ${f(gflops('tfjs-wasm', n))} | ${ratio(gflops('backfold', n), gflops('tfjs-cpu', n))} | ${ratio(gflops('backfold', n), gflops('tfjs-wasm', n))} |`,
  ),
  '',
  '## Training steps (samples/s)',
  '',
  '| step | backfold | tfjs-cpu | tfjs-wasm | vs tfjs-cpu | vs tfjs-wasm |',
  '| --- | --- | --- | --- | --- | --- |',
  ...[
    ['MLP 784-256-128-10, batch 128, SGD', 'mlp'],
    ['CNN on 1×28×28 (conv8-pool-conv16-pool-dense10), batch 32', 'cnn'],
  ].map(([label, key]) => {
    const r = results[key]
    return `| ${label} | ${cell(r.backfold, 'samplesPerSecond', 0)} | ${cell(r['tfjs-cpu'], 'samplesPerSecond', 0)} | ${cell(r['tfjs-wasm'], 'samplesPerSecond', 0)} | ${ratio(r.backfold.samplesPerSecond, r['tfjs-cpu'].samplesPerSecond)} | ${ratio(r.backfold.samplesPerSecond, r['tfjs-wasm'].samplesPerSecond)} |`
  }),
  '',
  '## Latency and overhead (µs, lower is better)',
  '',
  '| measure | backfold | tfjs-cpu | tfjs-wasm | vs tfjs-cpu | vs tfjs-wasm |',
  '| --- | --- | --- | --- | --- | --- |',
  ...[
    ['digits MLP 64-128-64-10 inference, batch 1 (µs per call)', 'inference', 'microsPerExample'],
    ['per-op overhead, eager, 4-element tensors (µs per op)', 'overhead', 'eagerMicrosPerOp'],
    ['per-op overhead under grad (µs per forward op, incl. backward)', 'overhead', 'gradMicrosPerForwardOp'],
  ].map(([label, key, field]) => {
    const r = results[key]
    return `| ${label} | ${cell(r.backfold, field, 2)} | ${cell(r['tfjs-cpu'], field, 2)} | ${cell(r['tfjs-wasm'], field, 2)} | ${ratio(r.backfold[field], r['tfjs-cpu'][field], false)} | ${ratio(r.backfold[field], r['tfjs-wasm'][field], false)} |`
  }),
  '',
  '## Raw results',
  '',
  '```json',
  JSON.stringify(results, null, 1),
  '```',
  '',
]
mkdirSync(`${here}../docs`, { recursive: true })
writeFileSync(`${here}../docs/benchmarks.md`, lines.join('\n'))
console.log('wrote docs/benchmarks.md')
