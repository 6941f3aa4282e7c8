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
import { CATEGORIES, profileMainJob } from './profile-main-job.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..')
const require = createRequire(import.meta.url)
const CASES = ['matmul', 'mlp', 'cnn', 'transformer', 'inference', 'overhead', 'fit']
/** Not a case file: the example's main job, timed end to end against the build from before issue 12. */
const MAIN_JOB = 'main-job'
const CASE_TIMEOUT_MS = 180_000
/** The transformer block's slowest peers (TF.js cpu, the reference backend) need longer for their 11+ steps. */
const caseTimeoutMs = (name) => (name === 'transformer' ? 300_000 : CASE_TIMEOUT_MS)

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
    timeout: caseTimeoutMs(name),
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
      ? `timed out after ${caseTimeoutMs(name) / 1000} s`
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
  'backfold-eager': 'backfold, eager',
  'backfold-onnxruntime': 'backfold, onnxruntime',
  'backfold-onnxruntime-2-threads': 'backfold, onnxruntime, 2 threads',
  pytorch: 'PyTorch (CPU, 1 thread)',
  'pytorch-2-threads': 'PyTorch (2 threads)',
  'c-openblas': 'C + OpenBLAS',
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
  {
    label: 'WebAssembly SIMD multiply-add limit (f32x4 mul + add loop, one thread)',
    unit: 'GFLOP/s',
    higherIsBetter: true,
    bench: 'matmul',
    value: (r) => r.simdPeak?.gflops,
  },
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
    label: 'transformer block (32×64×128, 4 heads, causal) training step, Adam',
    unit: 'samples/s',
    higherIsBetter: true,
    bench: 'transformer',
    value: (r) => r.samplesPerSecond,
  },
  {
    label: `transformer block training step, sustained mean over ${SUSTAIN_MS / 1000} s`,
    unit: 'samples/s',
    higherIsBetter: true,
    bench: 'transformer',
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
  ...[0, 1].map((i) => ({
    label: [
      '`fit`, digits 64-128-64-10, 30 epochs at batch 32',
      '`fit`, 784-512-10 MLP, 2 epochs of 8,192 at batch 128',
    ][i],
    unit: 's',
    higherIsBetter: false,
    bench: 'fit',
    value: (r) => r.runs?.[i]?.seconds,
  })),
  {
    // jax-js jit's grad figure is jit(grad(f)) already; backfold's is measured beside its eager grad.
    label: 'per-op overhead under jit(grad(f))',
    unit: 'µs/op',
    higherIsBetter: false,
    bench: 'overhead',
    value: (r) =>
      r.jitGradMicrosPerForwardOp ??
      (r.framework?.startsWith('jax-jit') ? r.gradMicrosPerForwardOp : undefined),
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
  const v = row.value(r)
  return v === undefined ? '—' : fmt(v)
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
  ['transformer loss at the initial weights', 'transformer', (r) => r.firstLoss],
  ['transformer loss after one Adam step', 'transformer', (r) => r.lossAfterOneStep],
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
const firstSteps = ['mlp', 'cnn', 'transformer']
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
// Issues 12 and 13's targets, checked against this run, plus the main job timed on both backends.
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
 * before issue 12 (`before`), today's build on the reference backend and on the default backend.
 */
/** The main job's training steps: 30 epochs of ceil(1,438 / 32) = 45 batches (examples/digits/main.mjs). */
const MAIN_JOB_STEPS = 30 * 45
/** Seconds to start Node and import the three built packages (the main job's fixed start-up cost). */
const timeStartup = () => {
  const t0 = performance.now()
  try {
    execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "await import('@backfold/tensor'); await import('@backfold/ops'); await import('@backfold/nn')",
      ],
      { cwd: join(root, 'examples'), stdio: 'ignore', timeout: 60_000 },
    )
    return (performance.now() - t0) / 1000
  } catch {
    return undefined
  }
}
const timeMainJobs = () => {
  const today = fileURLToPath(new URL('../examples/digits/main.mjs', import.meta.url))
  console.log(`main job: preparing the pre-issue build (commit ${BASELINE_COMMIT}) ...`)
  const baseline = prepareBaseline(root)
  if (baseline.error !== undefined) console.log(`main job: ${baseline.error}`)
  const before = baseline.dir === undefined ? undefined : join(baseline.dir, 'examples/digits/main.mjs')
  const times = { before: [], reference: [], default: [], startup: [] }
  for (let i = 0; i < 3; i++) {
    times.startup.push(timeStartup())
    if (before !== undefined) times.before.push(timeMainJob(before, {}))
    times.reference.push(timeMainJob(today, { BACKFOLD_BACKEND: 'reference' }))
    times.default.push(timeMainJob(today, {}))
  }
  const result = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, medianOf(v)]))
  console.log(`main job (median of 3, s): ${JSON.stringify(result)}`)
  // One more run of each build under the CPU profiler, after the timed ones: where the job's time goes.
  const profiles = {
    default: profileMainJob(today),
    before: before === undefined ? undefined : profileMainJob(before),
  }
  for (const [build, p] of Object.entries(profiles)) {
    if (p === undefined) continue
    if (p.error !== undefined) {
      console.log(`main job profile (${build}): ${p.error}`)
      continue
    }
    const { totalMs, ms, leaves } = p.summary
    console.log(
      `main job profile (${build}; ${fmt(p.wallS)} s profiled, ${fmt(totalMs)} ms of profile): ` +
        CATEGORIES.map(({ key }) => `${key} ${fmt(ms[key])}`).join(', ') +
        `; other: ${leaves.other.map((l) => `${l.frame} ${fmt(l.ms)}`).join(', ')}`,
    )
  }
  return { ...result, baselineError: baseline.error, profiles }
}
const mainJob = runMainJob ? timeMainJobs() : undefined
const value = (bench, framework, pick) => {
  const r = results[bench]?.[framework]
  return r === undefined || r.error !== undefined ? undefined : pick(r)
}
const gflopsAt = (framework, n) =>
  value('matmul', framework, (r) => r.results?.find((x) => x.n === n)?.gflops)
const gflops1024 = (framework) => gflopsAt(framework, 1024)
const simdPeak = value('matmul', 'backfold', (r) => r.simdPeak)
const rate = (bench, framework) => value(bench, framework, (r) => r.samplesPerSecond)
const sustainedRate = (bench, framework) => value(bench, framework, (r) => r.sustainedSamplesPerSecond)
const pct = (v) => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${(100 * v).toFixed(v < 0.1 ? 1 : 0)}%`)
/** Why a configuration has no figure for a case: its error, or that it was not run. */
const whyMissing = (bench, framework) => {
  const r = results[bench]?.[framework]
  if (r === undefined) return `${LABELS[framework]} not run`
  return `${LABELS[framework]}: ${r.error}`
}
/** The one-thread JavaScript/WebAssembly peers (issue 12's CNN target is about these). */
const JS_PEERS = ['tfjs-cpu', 'tfjs-wasm', 'jax-jit', 'jax-eager']
/** A target resting on a case whose configurations disagree is not met, whatever the timings say. */
const verdict = (met, bench) =>
  disagreeingCases.has(bench)
    ? `**invalid**: the configurations disagree on ${bench}`
    : met === undefined
      ? 'not measured'
      : met
        ? 'met'
        : '**missed**'

// ---------------------------------------------------------------------------------------------
// Explanations of missed targets, generated from this run's figures (nothing here is fixed text
// about a past run): the step's time against the goal, the profile of backfold's staged graph
// (bench/cases/profile.mjs) and the products' cost at the SIMD limit measured in the same run.

const MATMUL_OPS = new Set(['matmul', 'matmulEpilogue', 'conv2d'])
/**
 * What backfold's profile says about one training step of `bench` in configuration `mine` against
 * the time `neededMs` the goal allows: lines of markdown (a nested list under the target).
 */
const explainStep = (bench, mine, neededMs) => {
  const r = results[bench]?.[mine]
  if (!ok(r)) return [whyMissing(bench, mine)]
  const lines = [
    `backfold (${r.backend}): ${fmt(r.medianMs)} ms per step (median; sustained mean ${fmt(r.sustainedMeanMs)} ms); the goal needs ≤ ${fmt(neededMs)} ms.`,
  ]
  const p = r.profile
  if (p === undefined || p.error !== undefined) {
    lines.push(p?.error === undefined ? 'No profile for this configuration.' : `Profile failed: ${p.error}`)
    return lines
  }
  const top = p.byOp
    .slice(0, 5)
    .map(
      (e) =>
        `${e.op} ×${e.count} ${pct(e.share)}${e.gflops === undefined ? '' : ` (${fmt(e.gflop * 1000)} MFLOP at ${fmt(e.gflops)} GFLOP/s)`}`,
    )
  lines.push(
    `Profile: the staged graph's ${p.equations} equations replayed one at a time took ${fmt(p.replayMs)} ms (${fmtRatio(p.replayMs / r.medianMs)} the jitted step's median${p.replayMs > r.medianMs ? ": the resident executor saves the replay's copies in and out of wasm memory" : ''}): ${top.join(', ')}.`,
  )
  const products = p.byOp.filter((e) => MATMUL_OPS.has(e.op) && e.gflop !== undefined)
  const productMs = products.reduce((a, e) => a + e.ms, 0)
  const productShare = productMs / p.replayMs
  const gflop = products.reduce((a, e) => a + e.gflop, 0)
  const threads = r.backend?.includes('2 threads') ? 2 : 1
  const limit = simdPeak?.gflops === undefined ? undefined : simdPeak.gflops * threads
  if (gflop > 0 && limit !== undefined) {
    const atLimitMs = (gflop * 1000) / limit
    lines.push(
      `Its products (${fmt(gflop * 1000)} MFLOP, ${pct(productShare)} of the replay) at this run's SIMD limit (${fmt(limit)} GFLOP/s on ${threads} thread${threads > 1 ? 's' : ''}) would take ${fmt(atLimitMs)} ms` +
        (atLimitMs >= neededMs
          ? `, more than the goal allows: no 128-bit mul+add kernel reaches it on this engine; FMA (relaxed SIMD, Node 22+) or native kernels (the onnxruntime executor) would.`
          : `; the rest of the replay (${fmt(p.replayMs - productMs)} ms: ${p.byOp
              .filter((e) => !MATMUL_OPS.has(e.op))
              .slice(0, 3)
              .map((e) => `${e.op} ${fmt(e.ms)} ms`)
              .join(
                ', ',
              )}) and the products' distance from the limit (${pct((gflop * 1000) / productMs / limit)} of it) are the gap.`),
    )
  }
  return lines
}

/** A speed target of backfold's `mine` against peer `theirs` on `bench`: median and sustained must both reach `goal`. */
const speedTarget = (label, goal, bench, mine, theirs) => {
  const median = rate(bench, mine) / rate(bench, theirs)
  const sustained = sustainedRate(bench, mine) / sustainedRate(bench, theirs)
  const measured = Number.isFinite(median)
    ? `${fmtRatio(median)} median, ${fmtRatio(sustained)} sustained`
    : `n/a (${[mine, theirs]
        .filter((f) => rate(bench, f) === undefined)
        .map((f) => whyMissing(bench, f))
        .join('; ')})`
  const met = Number.isFinite(median) ? median >= goal && sustained >= goal : undefined
  const peerMs = value(bench, theirs, (r) => r.medianMs)
  return {
    cells: [label, `≥ ${fmtRatio(goal)}`, measured, verdict(met, bench)],
    explain: met === false ? explainStep(bench, mine, peerMs / goal) : [],
  }
}

/**
 * The main job's own profiles (one run of each build under `node --cpu-prof`, bench/profile-main-job.mjs):
 * where its time goes, how that moved since the pre-issue build, and what would close the gap to the
 * goal. Profile milliseconds are inflated by the profiler; the shares are applied to the medians.
 */
const mainJobProfileLines = () => {
  const now = mainJob.profiles?.default
  if (now === undefined) return []
  if (now.error !== undefined) return [`No profile of the main job: ${now.error}.`]
  const before = mainJob.profiles.before?.error === undefined ? mainJob.profiles.before : undefined
  const cells = (p, key) =>
    p === undefined ? ['', ''] : [fmt(p.summary.ms[key]), pct(p.summary.ms[key] / p.summary.totalMs)]
  const header = [
    'where the time goes',
    'now, ms',
    'now',
    ...(before === undefined ? [] : ['before, ms', 'before']),
  ]
  const columnsOf = (key) => [...cells(now, key), ...(before === undefined ? [] : cells(before, key))]
  const tableLines = [
    `| ${header.join(' | ')} |`,
    `| --- |${' ---: |'.repeat(header.length - 1)}`,
    ...CATEGORIES.map(({ key, label }) => `| ${label} | ${columnsOf(key).join(' | ')} |`),
    `| total of the profile (the profiled process: ${fmt(now.wallS)} s${before === undefined ? '' : `, before ${fmt(before.wallS)} s`}) | ${[
      now,
      before,
    ]
      .filter((p) => p !== undefined)
      .map((p) => `${fmt(p.summary.totalMs)} | 100%`)
      .join(' | ')} |`,
  ]
  const lines = [
    `Where the job's time goes, from its own CPU profile in this run (one run of ${before === undefined ? "today's build" : 'each build'} under \`node --cpu-prof\`, a sample every 250 µs; self time by call-stack ancestry, \`bench/profile-main-job.mjs\`). The profiler's own cost inflates the totals against the unprofiled medians (${fmt(mainJob.default)} s now${before === undefined ? '' : `, ${fmt(mainJob.before)} s before`}), so read the shares:\n\n    ${tableLines.join('\n    ')}`,
  ]
  // Shares of the profile applied to the median end-to-end time, in seconds.
  const s = now.summary
  const seconds = (profileMs) => (profileMs * mainJob.default) / s.totalMs
  const goal = mainJob.before / 2
  const gap = mainJob.default - goal
  const validationJs = s.ms.validation - s.wasmMs.validation
  const perStepJs = seconds(s.ms.step + s.ms.fit + s.ms.gc + validationJs)
  const kernels = seconds(s.ms.gemm + s.ms.wasm + s.wasmMs.validation)
  const withoutJs = mainJob.default - perStepJs
  const withoutKernels = mainJob.default - kernels
  if (before !== undefined) {
    const b = before.summary
    const changes = CATEGORIES.map(({ key, short }) => ({
      short,
      delta: seconds(s.ms[key]) - (b.ms[key] * mainJob.before) / b.totalMs,
    })).sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta))
    lines.push(
      `Since before (each profile's shares applied to its build's median; one profiled run of each, so a difference of about 0.1 s or less may be noise): ${changes
        .slice(0, 4)
        .map(({ short, delta }) => `${short} ${delta < 0 ? '−' : '+'}${fmt(Math.abs(delta))} s`)
        .join(', ')}.`,
    )
  }
  lines.push(
    `What would close the gap (${fmt(gap)} s; the profile's shares applied to the ${fmt(mainJob.default)} s median): ` +
      `the per-step JavaScript and the garbage collector take ${fmt(perStepJs)} s ` +
      `(the step's ${fmt(seconds(s.ms.step))} s, ${fmt((1e6 * seconds(s.ms.step)) / MAIN_JOB_STEPS)} µs per step against ${fmt((1e6 * seconds(s.ms.gemm)) / MAIN_JOB_STEPS)} µs of GEMM; fit's loop ${fmt(seconds(s.ms.fit))} s; validation's JavaScript ${fmt(seconds(validationJs))} s; the collector ${fmt(seconds(s.ms.gc))} s). ` +
      `Without any of it the job would take ${fmt(withoutJs)} s (start-up, set-up, kernels, staging, outputs), ` +
      (withoutJs <= goal
        ? `within the goal: removing ${pct(gap / perStepJs)} of that JavaScript closes the gap. `
        : `still over the goal: start-up or the kernels must shrink too. `) +
      `The wasm kernels take ${fmt(kernels)} s (GEMM ${fmt(seconds(s.ms.gemm))} s, other programs ${fmt(seconds(s.ms.wasm))} s${s.leaves.wasm.length === 0 ? '' : `, of which one wasm function alone ${fmt(seconds(s.leaves.wasm[0].ms))} s`}, validation's ${fmt(seconds(s.wasmMs.validation))} s); ` +
      `infinitely fast kernels would leave ${fmt(withoutKernels)} s, ${withoutKernels <= goal ? 'within' : 'over'} the goal.` +
      (mainJob.startup === undefined
        ? ''
        : ` Start-up alone (Node and the three packages, timed above) spends ${pct(mainJob.startup / goal)} of the goal's ${fmt(goal)} s.`),
  )
  lines.push(MAIN_JOB_LEVERS)
  return lines
}

/**
 * The levers behind the categories above, from profiles of the job and its training step taken while
 * writing this (2026-12-05, not re-measured per run): what a change would have to remove.
 */
const MAIN_JOB_LEVERS =
  'Levers, by category (from profiles of the job and of its step loop, not re-measured per run): ' +
  "(1) the step's JavaScript is spread thin: the executable's run (writing the batch in, handing results out, " +
  "its bookkeeping of what each buffer holds) about half, jit's wrapper (flattening and unflattening 21 leaves each way, " +
  'the signature check) about a third, invalidating the donated leaves and reading the metrics the rest; ' +
  'no small change removes most of it; the structural one is a run plan compiled per signature that walks no trees per call; ' +
  "(2) the largest wasm function is Adam's update program: float64 lanes with three divisions and a square root " +
  'per parameter (exact against the reference interpreter), where the pre-issue hand-written kernel took half or less; ' +
  "PyTorch's formulation (two divisions) or float32 lanes where exactness allows would shrink it; " +
  '(3) start-up: Node 20 keeps no compiled code between runs for ES modules (Node 22 has `module.enableCompileCache()`), ' +
  'and minified bundles loaded no faster in a test on this machine (0.26 s either way).'

const mainJobTarget = () => {
  const ratio = mainJob === undefined ? undefined : mainJob.before / mainJob.default
  const met = ratio === undefined || !Number.isFinite(ratio) ? undefined : ratio >= 2
  return {
    cells: [
      `main job (\`pnpm start\`), before issue 12 (commit ${BASELINE_COMMIT}) → now`,
      '≥ 2× faster',
      mainJob === undefined
        ? `not run (\`--cases\` without ${MAIN_JOB})`
        : mainJob.default === undefined || mainJob.before === undefined
          ? `n/a${mainJob.baselineError === undefined ? '' : ` (${mainJob.baselineError})`}`
          : `${fmt(mainJob.before)} s → ${fmt(mainJob.default)} s (${fmtRatio(ratio)})`,
      verdict(met),
    ],
    explain:
      met === false
        ? [
            `End to end ${fmt(mainJob.default)} s now against ${fmt(mainJob.before)} s before; the goal needs ≤ ${fmt(mainJob.before / 2)} s.` +
              (mainJob.reference === undefined
                ? ''
                : ` Today's build on the reference backend: ${fmt(mainJob.reference)} s.`) +
              (mainJob.startup === undefined
                ? ''
                : ` Starting Node and loading the three packages alone takes ${fmt(mainJob.startup)} s (${pct(mainJob.startup / mainJob.default)} of the job now).`) +
              ` The job trains ${MAIN_JOB_STEPS} steps (30 epochs of 45 batches of 32): at most ${fmt((1000 * mainJob.default) / MAIN_JOB_STEPS)} ms per step now, data loading and evaluation included.`,
            ...mainJobProfileLines(),
          ]
        : [],
  }
}

const overheadTarget = () => {
  const mine = value('overhead', 'backfold', (r) => r.jitGradMicrosPerForwardOp)
  const theirs = value('overhead', 'jax-jit', (r) => r.gradMicrosPerForwardOp)
  const eagerGrad = value('overhead', 'backfold', (r) => r.gradMicrosPerForwardOp)
  const met = mine === undefined || theirs === undefined ? undefined : mine <= theirs
  return {
    cells: [
      'per-op overhead under `jit(grad(f))`, vs jax-js jit',
      '≤ jax-js jit',
      mine === undefined || theirs === undefined
        ? `n/a (${[mine === undefined ? whyMissing('overhead', 'backfold') : '', theirs === undefined ? whyMissing('overhead', 'jax-jit') : ''].filter(Boolean).join('; ')})`
        : `${fmt(mine)} µs/op vs ${fmt(theirs)} µs/op (backfold eager grad: ${fmt(eagerGrad)})`,
      verdict(met, 'overhead'),
    ],
    explain:
      met === false
        ? [
            (() => {
              const equations = value('overhead', 'backfold', (r) => r.jitGradEquations)
              const steps = value('overhead', 'backfold', (r) => r.jitGradSteps)
              const call = mine * 64
              return (
                `One jitted call of the 64-op chain's gradient costs ${fmt(call)} µs in backfold against ${fmt(theirs * 64)} µs in jax-js (whose jit compiles the chain and its gradient into one kernel).` +
                (equations === undefined
                  ? ''
                  : ` backfold's staged gradient is ${equations} equation${equations === 1 ? '' : 's'} of ${steps ?? '?'} steps on 4-element tensors: ${fmt(call / equations)} µs per equation, ${fmt(steps === undefined ? NaN : (1000 * call) / steps)} ns per step.` +
                    (equations <= 3
                      ? " With the chain already fused, the gap is jit's own call (signature lookup, argument checks, the result's allocation) and the fused program's per-step cost (float64 range reduction and polynomials for sin and tanh, forward and backward), not dispatch between equations."
                      : ' Each equation pays dispatch, argument checks and its result allocation: fusing more of them (or a cheaper call) closes it.'))
              )
            })(),
          ]
        : [],
  }
}

/** Where backfold's 1024³ call goes, from the matmul case's own breakdown (bench/cases/matmul.mjs). */
const matmulSplit = () => {
  const split = value('matmul', 'backfold', (r) => r.split)
  const g = gflops1024('backfold')
  if (split === undefined || g === undefined || simdPeak === undefined)
    return ' What the call adds to the loop: packing the panels, loads from L2 and beyond, the copies into and out of wasm memory.'
  return (
    ` Measured interleaved in one loop after the timed runs: the eager call ${fmt(split.callMs)} ms; the same product jitted, its result left in wasm memory (operands in place, nothing copied), ${fmt(split.kernelMs)} ms = ${fmt(split.residentGflops)} GFLOP/s (${pct(split.residentGflops / simdPeak.gflops)} of the limit).` +
    (split.callMs - split.kernelMs > 0.05 * split.callMs
      ? ` The rest (${fmt(split.callMs - split.kernelMs)} ms) is the call's copies into and out of wasm memory: every configuration ends holding the product as host data, a new 4 MiB array; a copy into a fresh array took ${fmt(split.freshCopyMs)} ms against ${fmt(split.rewriteMs)} ms into an array written before (first-touch page faults: this VM hands freed pages back to its host).`
      : ` The eager call cost no more than the product alone in that loop (${fmt((2 * 1024 ** 3) / (split.callMs * 1e6))} GFLOP/s), against ${fmt(g)} GFLOP/s as the median of the timed runs: the difference lies between calls, not in the GEMM: first touches of each call's fresh result array (a copy into a fresh array took ${fmt(split.freshCopyMs)} ms in that loop against ${fmt(split.rewriteMs)} ms into one written before; faults come in bursts when the engine returns freed memory) and time the machine gave elsewhere.`) +
    ' Closing it needs result buffers that are already touched (a pool of recycled arrays), which immutable tensors owned by the garbage collector do not allow today.'
  )
}

const matmulPeakTarget = () => {
  const g = gflops1024('backfold')
  const share = g === undefined || simdPeak === undefined ? undefined : g / simdPeak.gflops
  const met = share === undefined ? undefined : share >= 0.85
  return {
    cells: [
      'matmul 1024³, one thread, vs the WebAssembly SIMD limit measured in this run',
      '≥ 85%',
      share === undefined
        ? `n/a (${g === undefined ? whyMissing('matmul', 'backfold') : 'no SIMD limit measured'})`
        : `${fmt(g)} of ${fmt(simdPeak.gflops)} GFLOP/s (${pct(share)})`,
      verdict(met, 'matmul'),
    ],
    explain:
      met === false
        ? [
            `The limit is the best of ${simdPeak.variants.length} generated loops of K independent f32x4 accumulators, operands in L1, no packing (${simdPeak.variants.map((v) => `K = ${v.accumulators}${v.fma ? ' FMA' : ''}: ${fmt(v.gflops)}`).join(', ')} GFLOP/s; best K = ${simdPeak.accumulators}${simdPeak.fma ? ', fused multiply-add' : ', mul + add'}). The GEMM by size: ${[128, 256, 512, 1024].map((n) => `${n}: ${fmt(gflopsAt('backfold', n))} (${pct(gflopsAt('backfold', n) / simdPeak.gflops)})`).join(', ')}.` +
              matmulSplit() +
              ([128, 256, 512, 1024].some((n) => gflopsAt('backfold', n) > simdPeak.gflops)
                ? ' A size above 100% means the machine ran at different speeds while the limit and that product were measured (load from elsewhere): rerun on a quiet machine.'
                : ''),
          ]
        : [],
  }
}

/** Issue 13: matmul 1024³ through a jitted function on ONNX Runtime against the C + OpenBLAS program. */
const onnxMatmulTarget = () => {
  const mine = gflops1024('backfold-onnxruntime')
  const c = gflops1024('c-openblas')
  const share = mine === undefined || c === undefined ? undefined : mine / c
  const met = share === undefined ? undefined : share >= 0.8
  return {
    cells: [
      'matmul 1024³ through `jit(f, { executor: "onnxruntime" })`, one thread, vs C + OpenBLAS',
      '≥ 80%',
      share === undefined
        ? `n/a (${[mine === undefined ? whyMissing('matmul', 'backfold-onnxruntime') : '', c === undefined ? whyMissing('matmul', 'c-openblas') : ''].filter(Boolean).join('; ')})`
        : `${fmt(mine)} of ${fmt(c)} GFLOP/s (${pct(share)})`,
      verdict(met, 'matmul'),
    ],
    explain:
      met === false
        ? [
            `Every call copies both 4 MiB operands in and the product out (the jitted function's inputs and outputs are fresh tensors); PyTorch's 1024³ in this run: ${fmt(gflops1024('pytorch'))} GFLOP/s. By size (ONNX Runtime / C): ${[128, 256, 512, 1024].map((n) => `${n}: ${fmt(gflopsAt('backfold-onnxruntime', n))} / ${fmt(gflopsAt('c-openblas', n))}`).join(', ')}.`,
          ]
        : [],
  }
}

/** Issue 13: a step on ONNX Runtime against PyTorch (the best of `theirs`), `goal` × its rate. */
const onnxStepTarget = (label, goal, bench, mine, theirs) => {
  const best = theirs
    .filter((f) => rate(bench, f) !== undefined)
    .reduce((a, f) => (a === undefined || rate(bench, f) > rate(bench, a) ? f : a), undefined)
  if (best === undefined)
    return {
      cells: [
        label,
        `≥ ${fmtRatio(goal)}`,
        `n/a (${theirs.map((f) => whyMissing(bench, f)).join('; ')})`,
        verdict(undefined),
      ],
      explain: [],
    }
  const t = speedTarget(label, goal, bench, mine, best)
  const cells = [...t.cells]
  if (theirs.length > 1 && rate(bench, mine) !== undefined)
    cells[2] = `${cells[2]} (against ${LABELS[best]}, the faster setting)`
  const r = results[bench]?.[mine]
  const c = value(bench, 'c-openblas', (x) => x.medianMs)
  const explain =
    t.explain.length === 0
      ? []
      : [
          `ONNX Runtime step ${fmt(r?.medianMs)} ms (median; first step ${fmt(r?.firstStepMs)} ms) against ${LABELS[best]} ${fmt(value(bench, best, (x) => x.medianMs))} ms` +
            (c === undefined
              ? '.'
              : ` and C + OpenBLAS ${fmt(c)} ms (the same products and loops without a framework).`) +
            ' Every step copies the parameters and optimizer state in and the new ones out (no buffers bound across steps).',
        ]
  return { cells, explain }
}

const ratioRow = (label, bench, mine, theirs) => {
  const r = rate(bench, mine) / rate(bench, theirs)
  return {
    cells: [
      label,
      'reported',
      Number.isFinite(r)
        ? `${fmtRatio(r)} (${fmt(rate(bench, mine))} vs ${fmt(rate(bench, theirs))} samples/s)`
        : `n/a (${[mine, theirs]
            .filter((f) => rate(bench, f) === undefined)
            .map((f) => whyMissing(bench, f))
            .join('; ')})`,
      '',
    ],
    explain: [],
  }
}

/** Session creation per signature: the first step (tracing, lowering, the session) minus a steady step. */
const sessionRow = () => {
  const parts = ['mlp', 'cnn', 'transformer']
    .filter((b) => cases.includes(b))
    .flatMap((b) =>
      ['backfold-onnxruntime', 'backfold']
        .filter((f) => ok(results[b]?.[f]))
        .map((f) => {
          const r = results[b][f]
          const session = r.executorStatus?.sessionCreateMs
          return `${b} ${f === 'backfold' ? 'wasm executor' : 'ONNX Runtime'} ${fmt(r.firstStepMs - r.medianMs)} ms${typeof session === 'number' ? ` (session creation alone, as the executor reports it: ${fmt(session)} ms)` : ''}`
        }),
    )
  const reason = ok(results.mlp?.['backfold-onnxruntime'])
    ? ''
    : ` (${whyMissing(cases.includes('mlp') ? 'mlp' : cases[0], 'backfold-onnxruntime')})`
  return {
    cells: [
      'session creation per signature (first step − steady step)',
      'reported',
      parts.length === 0 ? 'n/a' : parts.join('; ') + reason,
      '',
    ],
    explain: [],
  }
}

const fitRow = () => {
  const r = results.fit?.['backfold-onnxruntime']
  const w = results.fit?.backfold
  const runs = ok(r) && ok(w) ? r.runs.map((x, i) => ({ ...x, wasm: w.runs[i] })) : undefined
  return {
    cells: [
      '`fit` on digits and on a 784-512-10 MNIST-shaped MLP: ONNX Runtime vs the wasm executor',
      'reported',
      runs === undefined
        ? `n/a (${!cases.includes('fit') ? 'the fit case was not run' : [ok(w) ? '' : whyMissing('fit', 'backfold'), ok(r) ? '' : whyMissing('fit', 'backfold-onnxruntime')].filter(Boolean).join('; ')})`
        : runs
            .map(
              (x) =>
                `${x.name}: ${fmt(x.wasm.seconds)} s → ${fmt(x.seconds)} s (${fmtRatio(x.wasm.seconds / x.seconds)})`,
            )
            .join('; '),
      '',
    ],
    explain: [],
  }
}

const cnnTarget = () => {
  const peers = JS_PEERS.filter((f) => rate('cnn', f) !== undefined)
  const fastest = peers.reduce(
    (a, f) => (a === undefined || rate('cnn', f) > rate('cnn', a) ? f : a),
    undefined,
  )
  if (fastest === undefined)
    return {
      cells: [
        'CNN step vs the fastest one-thread JavaScript peer',
        '≥ 10×',
        'n/a (no peer measured)',
        verdict(undefined),
      ],
      explain: [],
    }
  const t = speedTarget('CNN step vs the fastest one-thread JavaScript peer', 10, 'cnn', 'backfold', fastest)
  t.cells[2] = `${t.cells[2]} (${LABELS[fastest]})`
  return t
}

/** Issue 12's "a training step allocates nothing in steady state": the MLP step's traffic, as the executable reports it. */
const residentRow = () => {
  const e = value('mlp', 'backfold', (r) => r.executable)
  const kb = (b) => `${fmt(b / 1024)} KB`
  return {
    cells: [
      'MLP step (donating its parameters): bytes copied into / out of wasm memory per steady step',
      'reported',
      e === undefined
        ? `n/a (${cases.includes('mlp') ? whyMissing('mlp', 'backfold') : 'the mlp case was not run'})`
        : `${kb(e.bytesIn)} in, ${kb(e.bytesOut)} out (parameters ${kb(e.paramBytes)}); ${e.residentSteps} equations resident, ${e.fallbackSteps} by their op (each allocates its result)`,
      '',
    ],
    explain: [],
  }
}

const issue12 = [
  speedTarget('MLP step vs jax-js jit, one thread each', 2, 'mlp', 'backfold', 'jax-jit'),
  speedTarget(
    'MLP step vs jax-js jit, two threads each',
    3,
    'mlp',
    'backfold-2-threads',
    'jax-jit-2-threads',
  ),
  overheadTarget(),
  cnnTarget(),
  speedTarget(
    'transformer block step vs jax-js jit, one thread each',
    1,
    'transformer',
    'backfold',
    'jax-jit',
  ),
  matmulPeakTarget(),
  mainJobTarget(),
  ratioRow('MLP step vs PyTorch (CPU), one thread each', 'mlp', 'backfold', 'pytorch'),
  ratioRow('MLP step vs PyTorch (CPU), two threads each', 'mlp', 'backfold-2-threads', 'pytorch-2-threads'),
  residentRow(),
]
const issue13 = [
  onnxStepTarget(
    'MLP step on ONNX Runtime vs PyTorch + OpenBLAS, one thread',
    0.8,
    'mlp',
    'backfold-onnxruntime',
    ['pytorch'],
  ),
  onnxStepTarget(
    'MLP step on ONNX Runtime, two threads, vs PyTorch + OpenBLAS on two threads',
    0.8,
    'mlp',
    'backfold-onnxruntime-2-threads',
    ['pytorch-2-threads', 'pytorch'],
  ),
  onnxStepTarget('CNN step on ONNX Runtime vs PyTorch, one thread', 1, 'cnn', 'backfold-onnxruntime', [
    'pytorch',
  ]),
  onnxMatmulTarget(),
  sessionRow(),
  fitRow(),
]
const targetTable = (targets) => [
  '| target | goal | measured | |',
  '| --- | --- | --- | --- |',
  ...targets.map((t) => `| ${t.cells.join(' | ')} |`),
]
/** For each missed target: its name and the profile lines that explain it. */
const explanations = (targets) =>
  targets
    .filter((t) => t.explain.length > 0)
    .flatMap((t) => [`- **${t.cells[0]}** (${t.cells[2]}):`, ...t.explain.map((line) => `  - ${line}`)])
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
  '- **The SIMD limit** (bench/simd-peak.mjs) measures relaxed_madd loops too where the engine has relaxed',
  '  SIMD, so there the matmul target is a share of the fused multiply-add limit (about twice the mul + add',
  "  one), which backfold's mul + add GEMM cannot reach without an FMA kernel.",
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
  '- **PyTorch and C + OpenBLAS**: native code, outside WebAssembly; relaxed SIMD does not concern them',
  "  (they already use the CPU's FMA where their kernels have it).",
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

const missed12 = explanations(issue12)
const missed13 = explanations(issue13)
const targetSection = [
  '## Targets',
  '',
  'The performance targets of issue 12 (staged execution) and issue 13 (the ONNX Runtime executor),',
  'checked against the numbers above, from the same run. Speed targets compare the same number of',
  'threads on both sides (jax-js on two workers, PyTorch with `torch.set_num_threads(2)`) and are met',
  `only when both the median step and the sustained mean (back-to-back steps over ${SUSTAIN_MS / 1000} s, every slow step`,
  'included) reach the goal. A target resting on a case whose configurations disagree (see "Same',
  'computation everywhere") is invalid, whatever its timings. The main job is timed end to end',
  '(process start included; median of three interleaved runs): "before" is the repository at',
  `${BASELINE_COMMIT}, the last commit before issue 12's work began (the next commit on main, 04c47a9, starts the`,
  "staging core), extracted with `git archive` and built beside today's build (bench/baseline.mjs); it",
  'runs only when `main-job` is among the cases (the default). Once per run, after the timed runs, each',
  'build runs the main job once more under `node --cpu-prof --cpu-prof-interval 250` (a sample every',
  "250 µs); `bench/profile-main-job.mjs` sums the samples' self time into categories by call-stack",
  "ancestry (start-up, GEMM kernels, other wasm programs, the jit's bookkeeping, fit's loop, validation,",
  "outputs, garbage collector), which the main job's explanation quotes when its target is missed.",
  '',
  '### Issue 12: staged execution',
  '',
  ...targetTable(issue12),
  '',
  '### Issue 13: ONNX Runtime',
  '',
  ...targetTable(issue13),
  '',
  ...(missed12.length + missed13.length === 0
    ? ['Every measured target is met.', '']
    : [
        '### Why the missed targets are missed',
        '',
        "Generated from this run's figures: the step against the time the goal allows, the profile of",
        "backfold's staged graph (`bench/cases/profile.mjs`: each equation replayed alone on the step's own",
        'arguments, median of 3–7 rounds, summed by op) and the cost of its products at the SIMD limit measured',
        'in the same run.',
        '',
        ...missed12,
        ...missed13,
        '',
      ]),
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
  'Float32 throughout, one thread everywhere except the configurations named for two (`backfold, 2',
  'threads`, `jax-js jit, 2 workers`, `PyTorch (2 threads)`, `backfold, onnxruntime, 2 threads`). Every figure is the median of the timed runs after warm-up, except the',
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
  '  The `backfold` row "WebAssembly SIMD multiply-add limit" is bench/simd-peak.mjs in the same process:',
  '  generated wasm loops of f32x4 mul + add into K = 4…14 independent accumulators (`acc[k] += x · row[k]`,',
  '  rows loaded from L1), the best K, measured before and after the products (the higher); the matmul',
  '  target is a share of it. The onnxruntime configurations multiply through `jit((a, b) => matmul(a, b),',
  "  { executor: 'onnxruntime' })`; PyTorch `torch.mm` into a preallocated output; C `cblas_sgemm`.",
  '- **MLP step**: 784-256-128-10, relu, softmax cross-entropy averaged over batch 128, plain SGD (lr 0.01).',
  '  backfold: the whole step (`valueAndGrad` of plain ops, `matmul` + `add` + `relu`, then `p − lr·g`)',
  '  staged with `jit` (`backfold, eager`: the same function op by op; onnxruntime: `jit(step, { executor:',
  "  'onnxruntime' })`). TF.js: `tf.train.sgd(lr).minimize(loss, true)` over `tf.variable`s. PyTorch: `addmm`,",
  '  `relu`, `log_softmax`, `backward()` and an in-place `sub_`. C: `cblas_sgemm` for the 8 products, loops',
  '  for bias, ReLU, the loss and the update (bench/external/openblas.c). jax-js:',
  '  `valueAndGrad` + `tree.map` SGD, the whole update wrapped in `jit` (jit) or not (eager). A timed step',
  '  ends with the loss read back and, for jax-js, `blockUntilReady` on the new parameters (its arrays are lazy).',
  '- **CNN step**: 1×28×28 inputs, conv 8@3×3 → relu → maxpool 2 → conv 16@3×3 → relu → maxpool 2 → dense',
  '  10, batch 32, same loss and SGD. backfold and jax-js use NCHW/OIHW, TF.js its NHWC/HWIO layout',
  '  (weights permuted so the numbers match). jax-js max pooling is `lax.reduceWindow` with `np.max`.',
  '  backfold stages the step with `jit` as for the MLP. C: im2col + `cblas_sgemm` per example, loops for',
  '  pooling (first maximum of each window) and the rest.',
  '- **Transformer block step** (issue 15): one pre-norm block, batch 32, sequence 64, width 128, 4 heads,',
  '  MLP ratio 4 with exact (erf) GELU, causal, layer norms of eps 1e-5, mean squared error against a',
  '  seeded target, Adam (lr 1e-3, bias-corrected, ε 1e-8 outside the square root). backfold:',
  '  `layers.transformerBlock({ heads: 4, causal: true })` with `adam` and `applyGradients`, the step',
  '  staged with `jit`. Every peer writes the same block by hand from the same parameter arrays',
  "  (PyTorch's `TransformerEncoderLayer` names and layouts) and Adam by hand (TF.js's own Adam puts ε",
  '  elsewhere); TF.js and jax-js take the mean of row means (a float32 running mean over 262,144 values',
  '  drifted by 7e-5 in both). C has no version of it.',
  '- **fit** (backfold only): `fit` on the digits MLP (as the main job, 30 epochs) and on a 784-512-10',
  '  MLP (8,192 seeded MNIST-shaped examples, 2 epochs), seconds of `fit` alone, for the wasm executor',
  "  (the default) and `executor: 'onnxruntime'`.",
  '- **Inference**: the digits MLP 64-128-64-10 (relu, softmax) on one example; µs per call including',
  '  reading the 10 probabilities back (`dataSync` for TF.js and jax-js, inside `tf.tidy` for TF.js).',
  '- **Per-op overhead**: a chain of 64 elementwise ops (mul, sin, add, tanh ×16) on a 4-element tensor,',
  '  eager and under `grad` (of its sum); µs per forward op, the grad figure including recording, the',
  '  backward pass and the sum. One read-back per chain. For jax-js jit the chain is fused into one',
  '  kernel, so its figure is call cost ÷ 64: what jit saves, not a per-op dispatch cost. backfold is also',
  "  measured under `jit(grad(f))` (the row of that name), which is what jax-js jit's grad row measures.",
  '  Not measured for PyTorch and C.',
  '- **PyTorch and C + OpenBLAS** run outside Node (bench/cases/external.mjs): the case writes its seeded',
  '  inputs as raw float32 files, then runs `/usr/bin/python3 bench/external/torch_cases.py` (Debian',
  '  python3-torch, its BLAS OpenBLAS) or the C program (gcc -O3 -march=native, OpenBLAS), which time',
  '  with the same protocol (warm-up, median of up to 41, sustained mean) and print the same JSON;',
  '  `torch.set_num_threads` and OMP/OPENBLAS_NUM_THREADS give each its thread count. Installed by',
  '  `node bench/setup.mjs` (run by `pnpm run bench`); missing, they are reported unsupported.',
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
  '- backfold training steps carry a profile in the raw results (`profile`): the staged graph replayed',
  '  equation by equation (bench/cases/profile.mjs); the Targets section quotes it under missed targets.',
  '- One-off cost of the first training step (jit compilation, kernel generation, V8 warm-up; not in the',
  `  medians): ${firstSteps.join('; ') || 'n/a'}.`,
  `- backfold configurations: ${ours.map(labelOf).join(', ') || 'none'}: \`backfold\` is the backend the built`,
  '  package picks by itself (WebAssembly SIMD kernels where WebAssembly is available, plain TypeScript',
  '  loops for everything else), training steps staged with `jit`; `backfold-eager` runs them op by op;',
  "  `backfold-onnxruntime` uses `jit(f, { executor: 'onnxruntime' })` (issue 13) and is reported",
  '  unsupported, with the reason, while the build has no such executor or its status says it fell back;',
  `  \`backfold-reference\` forces the plain TypeScript reference backend, the fallback elsewhere.${
    frameworks.includes('backfold-reference') && !ours.includes('backfold-reference')
      ? ' ' +
        (cases.map((c) => results[c]?.['backfold-reference']?.error).find((e) => e !== undefined) ??
          'It was not measured.')
      : ''
  }`,
  ...['backfold-onnxruntime', 'backfold-onnxruntime-2-threads', 'backfold-eager', 'backfold-2-threads']
    .filter((f) => frameworks.includes(f) && !ours.includes(f))
    .map(
      (f) =>
        `- \`${f}\` did not run: ${cases.map((c) => results[c]?.[f]?.error).find((e) => e !== undefined) ?? 'not measured'}.`,
    ),
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
