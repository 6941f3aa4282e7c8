// The main job's own CPU profile: one run of examples/digits/main.mjs under `node --cpu-prof`, and a
// pure summary of the resulting .cpuprofile into where the job's time went (self time per category).
//
// Categories are decided by call-stack ancestry, not by leaf names alone: a sample belongs to the
// phase of its nearest phase frame (fit, validation, outputs, set-up; module loading), and within
// training to the kind of work of its nearest frame (a GEMM kernel, another generated wasm program,
// tracing and compiling, the step's JavaScript, fit's own loop). WebAssembly frames
// (`wasm-function[N]`, url `wasm://...`) carry no name worth matching: they are classified by their
// nearest JavaScript ancestor. Function names are matched with an optional numeric suffix, since the
// bundler renames duplicates (`run2`, `gemm2`); both today's build and the pre-issue-12 one are covered.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'

/** The categories, in report order: key, the label of the report's table and a short name. */
export const CATEGORIES = [
  ['startup', 'Node start-up and module loading (before main.mjs runs)', 'start-up'],
  ['setup', 'set-up: reading and splitting the CSV, initialising the model', 'set-up'],
  ['gemm', 'GEMM kernels (wasm under the GEMM entry points)', 'GEMM'],
  ['wasm', 'other generated wasm programs (elementwise, reductions, Adam)', 'other wasm programs'],
  ['compile', 'tracing and compiling the step (first calls)', 'staging'],
  [
    'step',
    "the step's JavaScript: jit and the executable (before: eager op dispatch and copies)",
    "the step's JavaScript",
  ],
  ['fit', "fit's loop: batches, metrics, progress display", "fit's loop"],
  ['validation', 'validation and evaluation (kernels and JavaScript)', 'validation'],
  ['outputs', 'writing the outputs (safetensors, history, chart, ONNX)', 'outputs'],
  ['gc', 'garbage collector', 'garbage collector'],
  ['idle', 'idle (waiting for I/O or worker threads)', 'idle'],
  ['other', 'other (native code, Node internals outside any phase)', 'other'],
].map(([key, label, short]) => ({ key, label, short }))

const named = (...names) => new RegExp(`^(${names.join('|')})\\d*$`)
/** Phase frames: the nearest one on the stack decides the phase. */
const PHASES = [
  ['outputs', named('saveSafetensors', 'writeFileAtomic', 'writeHistoryChart', 'saveOnnx', 'exportOnnx')],
  ['validation', named('evaluateWithPass', 'evaluate', 'evaluateWith', 'predict', 'predictWith')],
  ['fit', named('fit', 'fitLoop', 'runSync')],
  ['setup', named('loadCsv', 'readFileBytes', 'parseCsvBytes', 'parseCsvLines')],
]
/**
 * Within training, a JavaScript sample under any of these frames is staging work (a first call's
 * trace runs the user's step function, whose frames must not count as the step's bookkeeping).
 */
const COMPILE = named(
  'named',
  'makeGraph',
  'optimize',
  'fuseEpilogues',
  'compileResident',
  'instantiate',
  'encodeModule',
)
/** Otherwise the nearest of these decides its kind (no such frame: fit's loop). */
const TRAINING = [
  ['fit', named('countCorrect', 'gatherRows', 'takeBatch', 'onEpochEnd', 'firstNonFinite')],
  ['step', named('jitted', 'step', 'run', 'backward', 'applyGradients', 'applyOp')],
]
/** A wasm frame whose nearest JavaScript ancestor has one of these names is a GEMM kernel. */
const GEMM_ENTRY = /gemm|matmul|linear/i

const isUser = (frame) => frame.url.startsWith('file://')
const isWasm = (frame) => frame.url.startsWith('wasm://')
const isModuleLoader = (frame) => /^node:internal\/(modules|main|bootstrap)\//.test(frame.url)
/** A module's top-level code (an anonymous function at line 0, column 0), other than the entry's. */
const isModuleBody = (frame) =>
  frame.functionName === '' && frame.lineNumber === 0 && frame.columnNumber === 0

/**
 * Self time per category of a V8 .cpuprofile (`node --cpu-prof`) of the main job. Every sample lasts
 * until the next one (the last until `endTime`); the gap before the first sample counts as start-up,
 * so the categories sum exactly to `totalMs = (endTime - startTime) / 1000`.
 *
 * @param {{ nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number, columnNumber: number }, children?: number[] }>, startTime: number, endTime: number, samples: number[], timeDeltas: number[] }} profile
 * @param {{ entry?: string }} [options] the entry script's url ends with `entry` (default `examples/digits/main.mjs`)
 * @returns {{ totalMs: number, ms: Record<string, number>, wasmMs: Record<string, number>, leaves: Record<string, Array<{ frame: string, ms: number }>> }}
 *   `ms[key]` per category of CATEGORIES, `wasmMs[key]` the part of it spent in wasm frames, and
 *   `leaves[key]` its five largest leaf frames (function and file), to show what it holds.
 */
export const summariseProfile = (profile, { entry = 'examples/digits/main.mjs' } = {}) => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const stackOf = (id) => {
    const frames = []
    for (let at = id; at !== undefined; at = parent.get(at)) frames.push(byId.get(at).callFrame)
    return frames // leaf first
  }
  const isEntry = (frame) => frame.url.endsWith(entry)

  // The phase of a stack: the nearest phase frame, the entry's own code, module loading or nothing.
  const phaseOf = (stack) => {
    for (const frame of stack) {
      if (isModuleLoader(frame)) return 'startup'
      if (!isUser(frame)) continue
      if (isEntry(frame)) return 'setup'
      if (isModuleBody(frame)) return 'startup'
      const phase = PHASES.find(([, re]) => re.test(frame.functionName))
      if (phase !== undefined) return phase[0]
    }
    return undefined
  }
  const kindInTraining = (stack) => {
    if (isWasm(stack[0])) {
      const js = stack.find((f) => isUser(f))
      return js !== undefined && GEMM_ENTRY.test(js.functionName) ? 'gemm' : 'wasm'
    }
    if (stack.some((f) => isUser(f) && COMPILE.test(f.functionName))) return 'compile'
    for (const frame of stack) {
      if (!isUser(frame)) continue
      const kind = TRAINING.find(([, re]) => re.test(frame.functionName))
      if (kind !== undefined) return kind[0]
    }
    return 'fit'
  }
  const classify = (stack, beforeEntry) => {
    const leaf = stack[0].functionName
    if (leaf === '(garbage collector)') return 'gc'
    if (beforeEntry) return 'startup'
    if (leaf === '(idle)') return 'idle'
    const phase = phaseOf(stack)
    if (phase === 'fit') return kindInTraining(stack)
    return phase ?? 'other'
  }

  const ms = Object.fromEntries(CATEGORIES.map(({ key }) => [key, 0]))
  const wasmMs = Object.fromEntries(CATEGORIES.map(({ key }) => [key, 0]))
  const leaves = Object.fromEntries(CATEGORIES.map(({ key }) => [key, new Map()]))
  const times = []
  let t = profile.startTime
  for (const d of profile.timeDeltas) times.push((t += d))
  const n = profile.samples.length
  const entryAt = profile.samples.findIndex((id) => stackOf(id).some(isEntry))
  ms.startup += ((n > 0 ? times[0] : profile.endTime) - profile.startTime) / 1000
  const cache = new Map()
  for (let i = 0; i < n; i++) {
    const id = profile.samples[i]
    const beforeEntry = entryAt < 0 || i < entryAt
    const cacheKey = `${id}:${beforeEntry}`
    let key = cache.get(cacheKey)
    const stack = stackOf(id)
    if (key === undefined) cache.set(cacheKey, (key = classify(stack, beforeEntry)))
    const dt = ((i + 1 < n ? times[i + 1] : profile.endTime) - times[i]) / 1000
    ms[key] += dt
    if (isWasm(stack[0])) wasmMs[key] += dt
    const f = stack[0]
    const frame = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}`.trim()
    leaves[key].set(frame, (leaves[key].get(frame) ?? 0) + dt)
  }
  return {
    totalMs: (profile.endTime - profile.startTime) / 1000,
    ms,
    wasmMs,
    leaves: Object.fromEntries(
      Object.entries(leaves).map(([key, m]) => [
        key,
        [...m]
          .map(([frame, t]) => ({ frame, ms: t }))
          .sort((a, b) => b.ms - a.ms)
          .slice(0, 5),
      ]),
    ),
  }
}

/**
 * Runs `script` once under the CPU profiler (one sample every 250 µs) and summarises its profile:
 * `{ wallS, summary }`, or `{ error }` when the run or the profile failed.
 */
export const profileMainJob = (script, env = {}) => {
  const dir = mkdtempSync(join(os.tmpdir(), 'backfold-main-job-profile-'))
  try {
    const t0 = performance.now()
    execFileSync(
      process.execPath,
      ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval', '250', script],
      { env: { ...process.env, ...env }, stdio: 'ignore', timeout: 300_000 },
    )
    const wallS = (performance.now() - t0) / 1000
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
    if (file === undefined) return { error: 'node --cpu-prof wrote no profile' }
    return { wallS, summary: summariseProfile(JSON.parse(readFileSync(join(dir, file), 'utf8'))) }
  } catch (error) {
    return { error: `the profiled run failed: ${error.message.split('\n')[0]}` }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
