// Runs every benchmark case for every framework configuration, each in its own Node process (no
// shared JIT state, heap or backend registry), then writes docs/benchmarks.md.
//
//   npx -y pnpm@10 run bench          builds the packages, then runs this script
//   node bench/run.mjs                after a build (`npx -y pnpm@10 -r --filter './packages/**' run build`)
//   node bench/run.mjs --cases mlp,cnn --frameworks backfold,jax-jit [--out file.md]
//   node bench/run.mjs --rounds 3     every configuration 3 times, interleaved; reports the median
//   node bench/run.mjs --cases main-job   only the main job (`pnpm start`) against the pre-issue build
//
// A filtered run runs only the cases and configurations it names (the main job, which rebuilds the
// pre-issue baseline and runs 9 processes, only when `main-job` is among the cases), prints its
// results and writes a report only when given --out. The exit code is 1 when the configurations
// disagree on what they compute (see "Same computation everywhere"), whatever was filtered.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AGREEMENT_TOLERANCE, compareConfigurations } from './agreement.mjs'
import { BASELINE_COMMIT, prepareBaseline } from './baseline.mjs'
import { FRAMEWORKS, SUSTAIN_MS, machine, peerVersions, versionOf } from './cases/common.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..')
const require = createRequire(import.meta.url)
const CASES = ['matmul', 'mlp', 'cnn', 'inference', 'overhead']
/** Not a case file: the example's main job, timed end to end against the build from before issue 6. */
const MAIN_JOB = 'main-job'
const CASE_TIMEOUT_MS = 180_000

const option = (name) => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const pick = (name, all) => {
  const given = option(name)
  if (given === undefined) return all
  const chosen = given.split(',').filter(Boolean)
  const unknown = chosen.filter((c) => !all.includes(c))
  if (unknown.length > 0) {
    console.error(`unknown --${name} ${unknown.join(',')}; expected some of ${all.join(',')}`)
    process.exit(2)
  }
  return chosen
}
const selected = pick('cases', [...CASES, MAIN_JOB])
const cases = selected.filter((c) => c !== MAIN_JOB)
const runMainJob = selected.includes(MAIN_JOB)
const frameworks = pick('frameworks', FRAMEWORKS)
const filtered = selected.length < CASES.length + 1 || frameworks.length < FRAMEWORKS.length
const rounds = Math.max(1, Number(option('rounds') ?? 1))
if (!Number.isInteger(rounds)) {
  console.error('--rounds takes a positive integer')
  process.exit(2)
}
const out = option('out') ?? (filtered ? undefined : resolve(root, 'docs/benchmarks.md'))

// The cases import the BUILT packages (dist/), never the sources.
for (const pkg of ['@backfold/tensor', '@backfold/ops']) {
  let entry
  try {
    entry = require.resolve(pkg)
  } catch {
    entry = undefined
  }
  if (entry === undefined || !existsSync(entry)) {
    console.error(
      `${pkg} is not built. Build first: npx -y pnpm@10 -r --filter './packages/**' run build` +
        ` (or run everything with npx -y pnpm@10 run bench)`,
    )
    process.exit(1)
  }
}

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/**
 * Runs one case, retrying (up to twice, 20 s apart) when a package's built `dist/` is missing, which
 * happens when a build is running in the same checkout at the same moment.
 */
const runCase = (name, framework) => {
  for (let attempt = 0; ; attempt++) {
    const r = runCaseOnce(name, framework)
    const midBuild = r.error !== undefined && /ERR_MODULE_NOT_FOUND|Cannot find module/.test(r.error)
    if (!midBuild || attempt === 2) return r
    console.log(`${name} ${framework}: ${r.error.slice(0, 120)}; retrying in 20 s (a build in progress?)`)
    sleep(20_000)
  }
}

const runCaseOnce = (name, framework) => {
  const started = performance.now()
  const child = spawnSync(process.execPath, [resolve(here, 'cases', `${name}.mjs`), framework], {
    encoding: 'utf8',
    timeout: CASE_TIMEOUT_MS,
    maxBuffer: 16 * 2 ** 20,
  })
  const seconds = (performance.now() - started) / 1000
  const lastJson = (child.stdout ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('{'))
    .pop()
  if (child.status === 0 && lastJson !== undefined) return { ...JSON.parse(lastJson), seconds }
  const reason =
    child.error?.code === 'ETIMEDOUT'
      ? `timed out after ${CASE_TIMEOUT_MS / 1000} s`
      : ((child.stderr ?? '')
          .trim()
          .split('\n')
          .find((l) => /Error|error/.test(l)) ?? `exit code ${child.status}`)
  return { bench: name, framework, error: reason.trim(), seconds }
}

const gitCommit = () => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

const m = machine()
const loadBefore = os.loadavg()
const versions = peerVersions()
console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}`)
console.log(`load average (1/5/15 min): ${loadBefore.map((l) => l.toFixed(2)).join(' / ')}`)
console.log(
  `peers: ${Object.entries(versions)
    .map(([k, v]) => `${k}@${v}`)
    .join(', ')}`,
)

/** Median of the numeric leaves of several results of one configuration (same shape each round). */
const medianMerge = (values) => {
  const first = values[0]
  if (typeof first === 'number') {
    const sorted = values.filter((v) => typeof v === 'number').sort((a, b) => a - b)
    const mid = sorted.length >> 1
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  }
  if (Array.isArray(first)) return first.map((_, i) => medianMerge(values.map((v) => v?.[i])))
  if (first !== null && typeof first === 'object')
    return Object.fromEntries(Object.keys(first).map((k) => [k, medianMerge(values.map((v) => v?.[k]))]))
  return first
}

// Rounds are interleaved (every configuration once, then again), so a burst of load from elsewhere
// on the machine hits all configurations alike rather than one of them.
const startedAt = performance.now()
const perRound = {}
for (let round = 1; round <= rounds; round++) {
  for (const name of cases) {
    perRound[name] ??= {}
    for (const framework of frameworks) {
      const r = runCase(name, framework)
      ;(perRound[name][framework] ??= []).push(r)
      const summary = r.error !== undefined ? `not run: ${r.error}` : 'ok'
      const tag = rounds > 1 ? `[${round}/${rounds}] ` : ''
      console.log(
        `${tag}${name.padEnd(9)} ${framework.padEnd(18)} ${r.seconds.toFixed(1).padStart(5)} s  ${summary}`,
      )
    }
  }
}
const inconsistent = cases.flatMap((name) =>
  frameworks
    .filter((f) => new Set(perRound[name][f].map((r) => r.backend).filter(Boolean)).size > 1)
    .map((f) => `${name} / ${f}`),
)
if (inconsistent.length > 0) console.warn(`backend changed between rounds: ${inconsistent.join(', ')}`)
const results = {}
for (const name of cases) {
  results[name] = {}
  for (const framework of frameworks) {
    const runs = perRound[name][framework]
    const good = runs.filter((r) => r.error === undefined)
    // A configuration that failed in any round is reported with its error: it is not reliable.
    results[name][framework] =
      good.length === runs.length ? { ...medianMerge(good), rounds: good.length } : runs.find((r) => r.error)
  }
}
const totalSeconds = (performance.now() - startedAt) / 1000
const loadAfter = os.loadavg()
console.log(
  `total ${totalSeconds.toFixed(0)} s; load average after: ${loadAfter.map((l) => l.toFixed(2)).join(' / ')}`,
)

// ---------------------------------------------------------------------------------------------
// Report.

const LABELS = {
  backfold: 'backfold',
  'backfold-2-threads': 'backfold, 2 threads',
  'backfold-reference': 'backfold reference',
  'tfjs-cpu': 'TF.js cpu',
  'tfjs-wasm': 'TF.js wasm',
  'jax-jit': 'jax-js jit',
  'jax-jit-2-threads': 'jax-js jit, 2 workers',
  'jax-eager': 'jax-js eager',
}
const ok = (r) => r !== undefined && r.error === undefined
const ranAnywhere = (framework) => cases.some((c) => ok(results[c]?.[framework]))
const columns = frameworks.filter((f) => !f.startsWith('backfold') || ranAnywhere(f))
const ours = columns.filter((f) => f.startsWith('backfold'))
const peers = columns.filter((f) => !f.startsWith('backfold'))
const labelOf = (framework) => {
  if (!framework.startsWith('backfold')) return LABELS[framework]
  const backend = cases.map((c) => results[c]?.[framework]?.backend).find((b) => b !== undefined)
  return `backfold (${backend ?? framework})`
}

/** Three significant digits without exponent notation. */
const fmt = (v) => {
  if (v === undefined || !Number.isFinite(v)) return 'n/a'
  const a = Math.abs(v)
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(3)
}
const fmtRatio = (v) =>
  v === undefined || !Number.isFinite(v) ? 'n/a' : `${v >= 0.1 ? v.toFixed(2) : v.toPrecision(2)}×`

// Each row: label, unit, higherIsBetter, value extractor over one result.
const rows = [
  ...[128, 256, 512, 1024].map((n) => ({
    label: `matmul ${n}×${n}·${n}×${n}`,
    unit: 'GFLOP/s',
    higherIsBetter: true,
    bench: 'matmul',
    value: (r) => r.results?.find((x) => x.n === n)?.gflops,
  })),
  {
    label: 'MLP 784-256-128-10 training step, batch 128',
    unit: 'samples/s',
    higherIsBetter: true,
    bench: 'mlp',
    value: (r) => r.samplesPerSecond,
  },
  {
    label: `MLP training step, sustained mean over ${SUSTAIN_MS / 1000} s`,
    unit: 'samples/s',
    higherIsBetter: true,
    bench: 'mlp',
    value: (r) => r.sustainedSamplesPerSecond,
  },
  {
    label: 'CNN (conv8-pool-conv16-pool-dense10) training step, batch 32',
    unit: 'samples/s',
    higherIsBetter: true,
    bench: 'cnn',
    value: (r) => r.samplesPerSecond,
  },
  {
    label: `CNN training step, sustained mean over ${SUSTAIN_MS / 1000} s`,
    unit: 'samples/s',
    higherIsBetter: true,
    bench: 'cnn',
    value: (r) => r.sustainedSamplesPerSecond,
  },
  {
    label: 'digits MLP 64-128-64-10 inference, batch 1',
    unit: 'µs/call',
    higherIsBetter: false,
    bench: 'inference',
    value: (r) => r.microsPerExample,
  },
  {
    label: 'per-op overhead, eager, 4-element tensors',
    unit: 'µs/op',
    higherIsBetter: false,
    bench: 'overhead',
    value: (r) => r.eagerMicrosPerOp,
  },
  {
    label: 'per-op overhead under grad (forward + backward)',
    unit: 'µs/op',
    higherIsBetter: false,
    bench: 'overhead',
    value: (r) => r.gradMicrosPerForwardOp,
  },
].filter((row) => cases.includes(row.bench))

const valueOf = (row, framework) => {
  const r = results[row.bench]?.[framework]
  return ok(r) ? row.value(r) : undefined
}
const cellOf = (row, framework) => {
  const r = results[row.bench]?.[framework]
  if (r === undefined) return 'not run'
  if (r.error !== undefined) return 'unsupported¹'
  return fmt(row.value(r))
}
/** Speed ratio: above 1 means backfold is faster, whatever the unit. */
const speedRatio = (row, mine, theirs) => {
  const a = valueOf(row, mine)
  const b = valueOf(row, theirs)
  if (a === undefined || b === undefined) return undefined
  return row.higherIsBetter ? a / b : b / a
}

/** A markdown table whose first `textColumns` columns are left-aligned and the rest (numbers) right. */
const table = (header, body, textColumns = 2) => [
  `| ${header.join(' | ')} |`,
  `| ${header.map((_, i) => (i < textColumns ? '---' : '---:')).join(' | ')} |`,
  ...body.map((cells) => `| ${cells.join(' | ')} |`),
]

const resultsTable = table(
  ['measure', 'unit', ...columns.map(labelOf)],
  rows.map((row) => [row.label, row.unit, ...columns.map((f) => cellOf(row, f))]),
)
const ratioTable = table(
  ['measure', 'backfold', ...peers.map((p) => `vs ${LABELS[p]}`)],
  rows.flatMap((row) =>
    ours.map((mine) => [row.label, labelOf(mine), ...peers.map((p) => fmtRatio(speedRatio(row, mine, p)))]),
  ),
)

// Spread over rounds of each figure: how far a single run of this harness can be trusted.
const roundsTable = table(
  ['measure', 'unit', ...columns.map(labelOf)],
  rows.map((row) => [
    row.label,
    row.unit,
    ...columns.map((f) => {
      const values = (perRound[row.bench]?.[f] ?? []).filter(ok).map(row.value)
      if (values.length === 0) return '—'
      return `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`
    }),
  ]),
)

// Agreement: every configuration starts from the same weights and data, so these must match.
const checks = [
  ['matmul 128: weighted sum of the product', 'matmul', (r) => r.checksum],
  ['MLP loss at the initial weights', 'mlp', (r) => r.firstLoss],
  ['MLP loss after one SGD step', 'mlp', (r) => r.lossAfterOneStep],
  ['CNN loss at the initial weights', 'cnn', (r) => r.firstLoss],
  ['CNN loss after one SGD step', 'cnn', (r) => r.lossAfterOneStep],
  ['inference, first probability', 'inference', (r) => r.firstOutput],
  ['overhead chain, first output', 'overhead', (r) => r.chainOutput?.[0]],
].filter(([, bench]) => cases.includes(bench))
const agreement = compareConfigurations(checks, columns, results)
const agreementRows = agreement.map(({ label, values, spread }) => [
  label,
  ...values.map((v) => (typeof v === 'number' ? v.toPrecision(7) : '—')),
  spread === undefined ? 'n/a' : spread.toExponential(1),
])
const agreementTable = table(['quantity', ...columns.map(labelOf), 'max relative spread'], agreementRows, 1)
const disagreements = agreement.filter(({ disagrees }) => disagrees)
const worstSpread = Math.max(0, ...agreement.map(({ spread }) => spread ?? 0))
const disagreementText = ({ label, bench, spread, lowest, highest, nonFinite }) =>
  `${bench}: ${label} differs by ${spread.toExponential(1)} (relative; at most ${AGREEMENT_TOLERANCE.toExponential(0)} expected): ` +
  [
    ...(lowest === undefined
      ? []
      : [
          `lowest ${lowest.value.toPrecision(7)} (${labelOf(lowest.framework)})`,
          `highest ${highest.value.toPrecision(7)} (${labelOf(highest.framework)})`,
        ]),
    ...nonFinite.map(({ framework, value }) => `${value} (${labelOf(framework)})`),
  ].join(', ')
const disagreeingCases = new Set(disagreements.map(({ bench }) => bench))

const failures = cases.flatMap((c) =>
  frameworks
    // A backfold configuration missing from this build is reported once, below.
    .filter((f) => results[c]?.[f]?.error !== undefined && (ours.includes(f) || !f.startsWith('backfold')))
    .map((f) => `- ${c} / ${LABELS[f]}: ${results[c][f].error}`),
)
const firstSteps = ['mlp', 'cnn']
  .filter((c) => cases.includes(c))
  .map(
    (c) =>
      `${c.toUpperCase()}: ${columns
        .filter((f) => ok(results[c]?.[f]))
        .map((f) => `${labelOf(f)} ${fmt(results[c][f].firstStepMs)} ms`)
        .join(', ')}`,
  )

const loadText = (l) => l.map((x) => x.toFixed(2)).join(' / ')
// ---------------------------------------------------------------------------------------------
// Issue 6's targets, checked against this run, plus the main job timed on both backends.
const timeMainJob = (script, env) => {
  const t0 = performance.now()
  try {
    execFileSync(process.execPath, [script], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
      timeout: 300_000,
    })
    return (performance.now() - t0) / 1000
  } catch {
    return undefined
  }
}
const medianOf = (xs) => {
  const good = xs.filter((x) => x !== undefined).sort((a, b) => a - b)
  return good.length === 0 ? undefined : good[Math.floor(good.length / 2)]
}
/**
 * The main job end to end (process start included), three interleaved runs of each: the build from
 * before issue 6 (`before`), today's build on the reference backend and on the default backend.
 */
const timeMainJobs = () => {
  const today = fileURLToPath(new URL('../examples/digits/main.mjs', import.meta.url))
  console.log(`main job: preparing the pre-issue build (commit ${BASELINE_COMMIT}) ...`)
  const baseline = prepareBaseline(root)
  if (baseline.error !== undefined) console.log(`main job: ${baseline.error}`)
  const before = baseline.dir === undefined ? undefined : join(baseline.dir, 'examples/digits/main.mjs')
  const times = { before: [], reference: [], default: [] }
  for (let i = 0; i < 3; i++) {
    if (before !== undefined) times.before.push(timeMainJob(before, {}))
    times.reference.push(timeMainJob(today, { BACKFOLD_BACKEND: 'reference' }))
    times.default.push(timeMainJob(today, {}))
  }
  const result = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, medianOf(v)]))
  console.log(`main job (median of 3, s): ${JSON.stringify(result)}`)
  return { ...result, baselineError: baseline.error }
}
const mainJob = runMainJob ? timeMainJobs() : undefined
const value = (bench, framework, pick) => {
  const r = results[bench]?.[framework]
  return r === undefined || r.error !== undefined ? undefined : pick(r)
}
const gflops1024 = (framework) =>
  value('matmul', framework, (r) => r.results?.find((x) => x.n === 1024)?.gflops)
const mlp = (framework) => value('mlp', framework, (r) => r.samplesPerSecond)
const mlpSustained = (framework) => value('mlp', framework, (r) => r.sustainedSamplesPerSecond)
const cnn = (framework) => value('cnn', framework, (r) => r.samplesPerSecond)
const peerCnn = ['tfjs-cpu', 'tfjs-wasm', 'jax-jit', 'jax-eager'].map(cnn).filter((v) => v !== undefined)
/** A target resting on a case whose configurations disagree is not met, whatever the timings say. */
const verdict = (ok, bench) =>
  disagreeingCases.has(bench)
    ? `**invalid**: the configurations disagree on ${bench}`
    : ok === undefined
      ? 'not measured'
      : ok
        ? 'met'
        : '**missed**'
/**
 * An MLP speed target against a jax-js configuration with the same number of threads: met only
 * when both the median step and the sustained mean reach the goal.
 */
const mlpTarget = (label, goal, mine, theirs) => {
  const median = mlp(mine) / mlp(theirs)
  const sustained = mlpSustained(mine) / mlpSustained(theirs)
  const measured = Number.isFinite(median)
    ? `${fmtRatio(median)} median, ${fmtRatio(sustained)} sustained`
    : `n/a (${[mine, theirs]
        .filter((f) => mlp(f) === undefined)
        .map((f) => LABELS[f])
        .join(', ')} not measured)`
  return [
    label,
    `≥ ${goal.toFixed(1)}×`,
    measured,
    verdict(Number.isFinite(median) ? median >= goal && sustained >= goal : undefined, 'mlp'),
  ]
}
const targetRows = [
  [
    'matmul 1024³, one thread',
    '≥ 45 GFLOP/s',
    `${fmt(gflops1024('backfold'))} GFLOP/s`,
    verdict(gflops1024('backfold') === undefined ? undefined : gflops1024('backfold') >= 45, 'matmul'),
  ],
  [
    'matmul 1024³, two threads',
    '≥ 80 GFLOP/s',
    `${fmt(gflops1024('backfold-2-threads'))} GFLOP/s`,
    verdict(
      gflops1024('backfold-2-threads') === undefined ? undefined : gflops1024('backfold-2-threads') >= 80,
      'matmul',
    ),
  ],
  mlpTarget('MLP step vs jax-js jit, one thread each', 1, 'backfold', 'jax-jit'),
  mlpTarget('MLP step vs jax-js jit, two threads each', 1.5, 'backfold-2-threads', 'jax-jit-2-threads'),
  [
    'CNN step vs every one-thread peer',
    'faster than all',
    peerCnn.length === 0 ? 'n/a' : fmtRatio(cnn('backfold') / Math.max(...peerCnn)) + ' the fastest peer',
    verdict(
      peerCnn.length === 0 || cnn('backfold') === undefined
        ? undefined
        : cnn('backfold') > Math.max(...peerCnn),
      'cnn',
    ),
  ],
  [
    `main job (\`pnpm start\`), before issue 6 (commit ${BASELINE_COMMIT}) vs now`,
    '≥ 3×',
    mainJob === undefined
      ? `not run (\`--cases\` without ${MAIN_JOB})`
      : mainJob.default === undefined || mainJob.before === undefined
        ? `n/a${mainJob.baselineError === undefined ? '' : ` (${mainJob.baselineError})`}`
        : `${fmt(mainJob.before)} s → ${fmt(mainJob.default)} s (${fmtRatio(mainJob.before / mainJob.default)})`,
    verdict(
      mainJob?.default === undefined || mainJob.before === undefined
        ? undefined
        : mainJob.before / mainJob.default >= 3,
    ),
  ],
  [
    'main job now, reference backend vs default (for information)',
    '',
    mainJob?.default === undefined || mainJob.reference === undefined
      ? 'n/a'
      : `${fmt(mainJob.reference)} s → ${fmt(mainJob.default)} s (${fmtRatio(mainJob.reference / mainJob.default)})`,
    '',
  ],
]
// ---------------------------------------------------------------------------------------------
// What a newer engine would change. Relaxed SIMD (f32x4.relaxed_madd: hardware fused multiply-add)
// is on by default from V8 11.4 (Chrome 114, Node 22); Node 20 has it only behind a flag.

/** The module jax-js 0.1.25 validates to detect relaxed SIMD (one function: f32x4.relaxed_madd). */
const RELAXED_MADD_PROBE = '0061736d0100000001080160037b7b7b017b030201000a0d010b00200020012002fd85020b'
const relaxedSimd = globalThis.WebAssembly.validate(
  Uint8Array.from(RELAXED_MADD_PROBE.match(/../g), (h) => parseInt(h, 16)),
)
const relaxedSimdSection = [
  '## On Node 22+ and in current browsers',
  '',
  `Relaxed SIMD (\`f32x4.relaxed_madd\`, hardware fused multiply-add) is ${
    relaxedSimd ? 'enabled' : 'not enabled'
  } in the engine of this run (Node ${m.node}, V8 ${m.v8}; checked by validating a module that uses it).`,
  'V8 enables it by default from Chrome 114 and Node 22. None of the following is measured here; it is',
  'what the code of each framework leads one to expect, and a run on such an engine is the way to know.',
  '',
  '- **backfold**: its WebAssembly kernels (the GEMM register tile, convolutions, elementwise passes)',
  '  use f32x4 multiply then add and have no relaxed-SIMD path in this version, so FMA alone moves none',
  '  of its figures. A fused multiply-add would halve the arithmetic instructions of the GEMM, the',
  '  largest part of the matmul, MLP and CNN steps; that needs a kernel variant picked when the engine',
  '  validates relaxed SIMD.',
  `- **jax-js** ${versions['@jax-js/jax']}: it probes for \`f32x4.relaxed_madd\` and, where the engine has it,`,
  '  uses it in its float32 sum-of-products reductions, the kernels behind its matmul. Its matmul-bound',
  '  figures (matmul, MLP step, the dense layers of the CNN and of inference) are expected to rise, by at',
  "  most the share of those kernels' time spent on the multiply-adds, so the MLP and matmul ratios",
  '  against jax-js would fall. Its per-op overhead rows are dispatch cost and would not move.',
  `  ${relaxedSimd ? 'In this run it already had FMA: the jax-js figures above include it.' : 'In this run it had no FMA.'}`,
  `- **TF.js** ${versions['@tensorflow/tfjs-backend-wasm']}: the wasm backend ships SIMD binaries built without relaxed SIMD,`,
  '  and the cpu backend is plain JavaScript: neither is expected to move.',
  '- **Threads in a browser**: a page has a global `Worker` (Node has none, hence the shim for',
  '  `jax-jit-2-threads`), so on a cross-origin-isolated page (where `SharedArrayBuffer` exists) jax-js',
  '  would start `navigator.hardwareConcurrency` workers in every jax-js configuration: its one-thread',
  '  columns would no longer be one thread.',
  '- **Agreement**: FMA rounds once where multiply then add rounds twice, which changes the last bits of',
  '  the quantities under "Same computation everywhere", within float32 rounding.',
  '- Any newer V8 also changes its compiler tiers and garbage collector, which can move every figure,',
  '  including the pure JavaScript ones, in either direction, by amounts this report cannot predict.',
  '',
]

const targetSection = [
  '## Targets',
  '',
  "The performance issue's targets, checked against the numbers above. The main job is timed end to end",
  '(process start included; median of three interleaved runs): "before" is the repository at the last',
  `commit before this work (${BASELINE_COMMIT}, reference kernels only), extracted with \`git archive\` and built`,
  "beside today's build (bench/baseline.mjs); it runs only when `main-job` is among the cases (the",
  'default). The MLP targets compare the same number of threads on both sides (jax-js on two workers',
  'for the two-thread target) and are met only when both the median step and the sustained mean reach',
  `the goal (the mean of back-to-back steps over ${SUSTAIN_MS / 1000} s, with every slow step included).`,
  'A target resting on a case whose configurations disagree (see "Same computation everywhere") is',
  'invalid, whatever its timings.',
  '',
  '| target | goal | measured | |',
  '| --- | --- | --- | --- |',
  ...targetRows.map((r) => `| ${r.join(' | ')} |`),
  '',
  'What the profiles behind these figures show, and what would close a gap where a target is missed',
  '(figures from profiles of the built packages on this machine, one thread unless stated):',
  '',
  '- **matmul.** The GEMM is a 4×8 register tile of f32x4 multiply and add (WebAssembly SIMD has no fused',
  '  multiply-add without the relaxed-SIMD proposal, which Node 20 does not enable), packed panels and',
  '  equal depth blocks. With separate multiply and add, one core of this AMD EPYC (Zen 4, about 3.6 GHz)',
  '  peaks at about 58 GFLOP/s; the macro kernel alone reaches about 41, and tiles with more than 8',
  '  accumulators measured slower (V8 spills them). The 1024³ figure also carries the copies into and out',
  '  of wasm memory and, on a shared VM, time the host takes away (the same code measures 20–40 GFLOP/s',
  '  between 20 ms windows). Two threads scale 1024³ by about 1.5× here. For comparison, on the Zen 5 VM',
  "  where the issue's anchors were measured, the earlier 2×16 tile of the same design reached 54.5 GFLOP/s",
  '  on one thread and 103 on two (this report at commit 652ffb5). Closing the rest: relaxed-SIMD FMA where',
  '  the engine has it (Node 22+, current browsers), which halves the arithmetic instructions.',
  '- **MLP step.** jax-js compiles the whole step into a few fused kernels; backfold runs it eagerly. The',
  '  backfold step is about 80% GEMM (the three products of layer 1 alone are 80% of the arithmetic), 8% of',
  '  each product being the operand copies into wasm memory; the rest is the fused elementwise passes',
  '  (`reluGrad`, `axpy`, the bias-gradient reduction, the softmax cross-entropy pair), allocation and',
  '  garbage collection. Already done: the VJP skips the input gradient of the first layer (a whole',
  '  product), bias and ReLU run in wasm memory before the copy out, the ReLU mask and the SGD update are',
  '  single SIMD passes, the loss and its gradient one pass per row each. With two',
  '  threads the large products run 1.5–1.7× faster, the 8-MFLOP ones only 1.2–1.3× (the serial copies',
  '  and each thread repacking the shared operand). What would close more: tensors resident in wasm',
  '  memory (no per-product copies), FMA, and running the independent products of a backward step',
  '  (input and weight gradients) concurrently instead of splitting each.',
  '- **Main job.** A 64-128-64-10 MLP on 1,438 images for 30 epochs at batch 32: thousands of tiny',
  '  steps, where per-op passes and allocations, not GEMM, dominate. What took it down: Adam fused into one',
  '  SIMD pass per parameter that also applies the step (`adamApply`, computed in float64 and rounded',
  '  once, bit-identical on both backends), gradients skipped for data, dense + ReLU as one op in',
  '  `sequential`, softmax cross-entropy and its gradient one pass per row, and no protobuf library',
  '  loaded at start-up (ONNX export encodes its own bytes). What remains is process start-up and module',
  '  loading (about 0.15 s of the run), allocation and garbage collection.',
  '',
]

const md = [
  '# Benchmarks',
  '',
  '<!-- Generated by bench/run.mjs; do not edit by hand: rerun the benchmark instead. -->',
  '',
  'Command: `npx -y pnpm@10 run bench` from the repository root (it builds the packages with',
  "`pnpm -r --filter './packages/**' run build`, then runs `node bench/run.mjs`). Each case runs for each",
  'configuration in its own Node process (`node bench/cases/<case>.mjs <configuration>`, one JSON line out).',
  '',
  `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB RAM, ${m.platform}; Node ${m.node} (V8 ${m.v8}).`,
  `- Date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; backfold ${versionOf('@backfold/tensor')} at commit ${gitCommit()} (built \`dist/\`).`,
  `- Load average (1/5/15 min) before: ${loadText(loadBefore)}; after: ${loadText(loadAfter)}. Total run time ${totalSeconds.toFixed(0)} s.`,
  `- Peers: ${Object.entries(versions)
    .map(([k, v]) => `\`${k}@${v}\``)
    .join(', ')}.`,
  `- This report: \`node bench/run.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}\`${
    rounds > 1
      ? `, ${rounds} interleaved rounds: each figure is the median over rounds of each round's median`
      : ', one round'
  }.`,
  '',
  'Float32 throughout, one thread everywhere except the two-thread pair (`backfold, 2 threads` and',
  '`jax-js jit, 2 workers`). Every figure is the median of the timed runs after warm-up, except the',
  `training steps' sustained rows: the mean of back-to-back steps over ${SUSTAIN_MS / 1000} s. Min, max and run counts are in`,
  'the raw results below.',
  '',
  '## Results',
  '',
  ...resultsTable,
  '',
  ...(rows.some((row) => columns.some((f) => results[row.bench]?.[f]?.error !== undefined))
    ? ['¹ The configuration cannot run this case; the reason is listed under Notes.', '']
    : []),
  '## Ratios',
  '',
  'Speed of backfold relative to each peer: throughput ÷ throughput, or the peer’s time ÷ backfold’s',
  'time for latencies. Above 1× means backfold is faster.',
  '',
  ...ratioTable,
  '',
  ...(rounds > 1
    ? [
        '## Spread over rounds',
        '',
        `Lowest–highest of the ${rounds} round medians behind each figure above.`,
        '',
        ...roundsTable,
        '',
      ]
    : []),
  '## Same computation everywhere',
  '',
  'All configurations start from the same weights and inputs (generated by one seeded PRNG in',
  '`bench/cases/common.mjs`), so they must compute the same numbers. The loss after one SGD step agrees',
  'only if the gradients agree too.',
  '',
  ...agreementTable,
  '',
  ...(disagreements.length === 0
    ? [
        `Largest relative spread: ${worstSpread.toExponential(1)}, float32 rounding: every configuration computes the same thing.`,
      ]
    : [
        '**Failed**: some configurations compute something different, so their timings are not comparable',
        'and the run exits with an error. Targets that rest on these cases are marked invalid.',
        '',
        ...disagreements.map((d) => `- ${disagreementText(d)}`),
      ]),
  '',
  '## What each case does',
  '',
  '- **matmul**: `n×n · n×n` float32 for n = 128…1024; GFLOP/s = 2n³ / median time. Each timed call ends',
  '  with the product in host memory (`await data()` for TF.js and jax-js; backfold computes into a typed',
  '  array). jax-js jit wraps the single matmul in `jit` (nothing to fuse; it shows the cost of the wrapper).',
  '- **MLP step**: 784-256-128-10, relu, softmax cross-entropy averaged over batch 128, plain SGD (lr 0.01).',
  '  backfold: `valueAndGrad` over a params array of `{ weight, bias }` records (fused `linear` layers) and',
  '  the SGD update as one `axpy` pass per tensor. TF.js: `tf.train.sgd(lr).minimize(loss, true)` over',
  '  `tf.variable`s. jax-js:',
  '  `valueAndGrad` + `tree.map` SGD, the whole update wrapped in `jit` (jit) or not (eager). A timed step',
  '  ends with the loss read back and, for jax-js, `blockUntilReady` on the new parameters (its arrays are lazy).',
  '- **CNN step**: 1×28×28 inputs, conv 8@3×3 → relu → maxpool 2 → conv 16@3×3 → relu → maxpool 2 → dense',
  '  10, batch 32, same loss and SGD. backfold and jax-js use NCHW/OIHW, TF.js its NHWC/HWIO layout',
  '  (weights permuted so the numbers match). jax-js max pooling is `lax.reduceWindow` with `np.max`.',
  '- **Inference**: the digits MLP 64-128-64-10 (relu, softmax) on one example; µs per call including',
  '  reading the 10 probabilities back (`dataSync` for TF.js and jax-js, inside `tf.tidy` for TF.js).',
  '- **Per-op overhead**: a chain of 64 elementwise ops (mul, sin, add, tanh ×16) on a 4-element tensor,',
  '  eager and under `grad` (of its sum); µs per forward op, the grad figure including recording, the',
  '  backward pass and the sum. One read-back per chain. For jax-js jit the chain is fused into one',
  '  kernel, so its figure is call cost ÷ 64: what jit saves, not a per-op dispatch cost.',
  '',
  'Timing: training steps warm up for at least 1.5 s (and 3 calls), so every framework is timed in its',
  'steady state as in a training run, then take up to 41 timed calls within 12 s (the median), then',
  `run back to back for ${SUSTAIN_MS / 1000} s (the sustained mean: garbage collection, worker hand-offs and stalls`,
  'included, which the median of 41 calls leaves out); matmul takes 1–3',
  'warm-up calls, then 5–31 timed calls within 4–12 s (never fewer than 3). Latencies repeat the call in a loop sized to last about',
  '50 ms per sample after at least 0.5 s of warm-up, and take 15 samples. Synchronous calls are looped',
  'without `await`, so frameworks whose calls are synchronous are not charged a microtask per call.',
  '',
  ...targetSection,
  ...relaxedSimdSection,
  '## Notes',
  '',
  '- This machine is a small shared VM; other jobs may have been running (see the load average above),',
  '  and on a loaded machine the same configuration measured up to 2× apart between runs during',
  '  development (compare median with min in the raw results; `--rounds 3` takes the median of three',
  '  interleaved rounds and shows their spread). Read ratios within about ±25 % of 1× as “about the',
  '  same”.',
  '- Threads: backfold runs on the main thread (`backfold, 2 threads`: two); TF.js wasm is set to 1 thread',
  '  (`setThreadsCount(1)`, SIMD on, XNNPACK). jax-js starts `navigator.hardwareConcurrency` Web Workers',
  '  when `SharedArrayBuffer` and a global `Worker` exist. Node has no global `Worker`, so its one-thread',
  '  configurations run its wasm kernels on the main thread; `jax-jit-2-threads` gets a small `Worker`',
  '  over `node:worker_threads` (bench/cases/node-worker.mjs) and `hardwareConcurrency` 2, and the case',
  '  fails unless jax-js really started two worker threads. jax-js runs kernels read back synchronously',
  '  (`dataSync`: the inference and overhead cases) on the main thread, so those cases report it',
  '  unsupported rather than a one-thread figure under a two-thread label.',
  '- TF.js runs without `@tensorflow/tfjs-node` (native TensorFlow bindings), which would be much faster in',
  '  Node but is native code, not a JavaScript/WebAssembly framework; the comparison is between',
  '  portable runtimes. The `@tensorflow/tfjs` umbrella package is loaded because it registers the',
  '  gradients; TF.js timings include `tf.tidy`/`dispose`, which a TF.js program needs to avoid leaks.',
  '- jax-js reads `navigator.userAgent` while generating kernels; Node 20 has no `navigator` (Node 21+',
  '  does), so the harness defines a minimal one before loading it. jax-js only initialises its `wasm`',
  '  device here (`init("wasm")`). Its arrays are lazy: eager ops build expressions that run as wasm',
  '  kernels when a result is needed. Kernel modules are compiled once and cached, but on this',
  '  single-threaded path jax-js 0.1.25 creates a new `WebAssembly.Instance` for every kernel dispatch',
  '  (64 per eager chain call here); that and the tracing bookkeeping are what its eager overhead rows',
  '  measure. `jit` dispatches far fewer kernels.',
  '- One-off cost of the first training step (jit compilation, kernel generation, V8 warm-up; not in the',
  `  medians): ${firstSteps.join('; ') || 'n/a'}.`,
  `- backfold configurations: ${ours.map(labelOf).join(', ') || 'none'}: \`backfold\` is the backend the built`,
  '  package picks by itself (WebAssembly SIMD kernels for matmul and convolutions where WebAssembly is',
  '  available, plain TypeScript loops for everything else); `backfold-reference` forces the plain',
  `  TypeScript reference backend, the fallback elsewhere.${
    frameworks.includes('backfold-reference') && !ours.includes('backfold-reference')
      ? ' ' +
        (cases.map((c) => results[c]?.['backfold-reference']?.error).find((e) => e !== undefined) ??
          'It was not measured.')
      : ''
  }`,
  ...(inconsistent.length > 0
    ? [
        `- **Warning**: the backend changed between rounds for ${inconsistent.join(', ')} (a rebuild during`,
        '  the run?); those figures mix backends. Rerun.',
      ]
    : []),
  ...(failures.length > 0
    ? ['- Configurations that could not run a case:', ...failures.map((f) => `  ${f}`)]
    : []),
  '- A benchmark is not a test: there are no timing assertions anywhere in the test suite.',
  '',
  '## Raw results',
  '',
  '<details><summary>JSON printed by each case</summary>',
  '',
  '```json',
  JSON.stringify({ machine: m, versions, results }, null, 2),
  '```',
  '',
  '</details>',
  '',
]

console.log(['', ...resultsTable, '', ...ratioTable, '', ...agreementTable].join('\n'))
if (out !== undefined) {
  let text = md.join('\n')
  // Format like every other file in the repository, so `prettier --check .` stays clean.
  try {
    const prettier = await import('prettier')
    const config = (await prettier.resolveConfig(out)) ?? {}
    text = await prettier.format(text, { ...config, parser: 'markdown' })
  } catch (error) {
    console.warn(`prettier unavailable, writing unformatted markdown (${error.message})`)
  }
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, text)
  console.log(`wrote ${out}`)
}
// Timings of configurations that compute different things compare nothing: fail the run (after the
// report is written, so the numbers behind the failure can be read).
if (disagreements.length > 0) {
  console.error(
    [
      '',
      'FAILED: the configurations disagree beyond float32 rounding:',
      ...disagreements.map(disagreementText),
    ].join('\n  '),
  )
  process.exitCode = 1
}
