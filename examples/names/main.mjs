// The second main job: a character-level language model of English words, trained on Debian's
// wamerican word list (vendored in data/wamerican), then sampled.
//
// Run from the repository root: `pnpm run names` (builds the packages, then runs this file), or
// `node examples/names/main.mjs [flags]` after a build. Flags:
//   --model transformer|lstm   decoder-only transformer (default) or an LSTM with the same embedding and head
//   --layers 4 --heads 4 --dims 128 --context 16   model size (context: longest word + 1)
//   --steps N --batch N --eval-every N --lr X --seed N   training
//   --samples N --temperature X --top-k N   sampling at the end
//   --out DIR   where the files go (default out/names, or out/names-lstm for --model lstm)
// Writes DIR/params.safetensors, DIR/history.json, DIR/training.svg, DIR/model.onnx and
// DIR/samples.txt. Exits with code 1 if the final validation loss is not below the unigram baseline.
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as E from 'fp-ts/lib/Either.js'
import * as N from './names.mjs'

const root = fileURLToPath(new URL('../../', import.meta.url))
const die = (message) => {
  console.error(`names: ${message}`)
  process.exit(1)
}

const { values: flags } = (() => {
  try {
    // `pnpm run names -- --model lstm` passes the `--` on (npm drops it): one leading `--` is skipped,
    // or parseArgs would read every flag after it as a positional argument.
    const argv = process.argv.slice(2)
    return parseArgs({
      args: argv[0] === '--' ? argv.slice(1) : argv,
      options: {
        model: { type: 'string', default: 'transformer' },
        layers: { type: 'string', default: String(N.DEFAULT_JOB.layers) },
        heads: { type: 'string', default: String(N.DEFAULT_JOB.heads) },
        dims: { type: 'string', default: String(N.DEFAULT_JOB.dims) },
        context: { type: 'string', default: String(N.DEFAULT_JOB.context) },
        steps: { type: 'string', default: String(N.DEFAULT_JOB.steps) },
        batch: { type: 'string', default: String(N.DEFAULT_JOB.batchSize) },
        'eval-every': { type: 'string', default: String(N.DEFAULT_JOB.evalEvery) },
        'eval-words': { type: 'string', default: String(N.DEFAULT_JOB.evalWords) },
        lr: { type: 'string' },
        seed: { type: 'string', default: String(N.DEFAULT_JOB.seed) },
        samples: { type: 'string', default: String(N.DEFAULT_JOB.samples) },
        temperature: { type: 'string', default: String(N.DEFAULT_JOB.temperature) },
        'top-k': { type: 'string', default: String(N.DEFAULT_JOB.topK) },
        out: { type: 'string' },
      },
      strict: true,
    })
  } catch (error) {
    return die(`${error.message} (see the flags at the top of examples/names/main.mjs)`)
  }
})()
const int = (name, min) => {
  const v = Number(flags[name])
  if (!Number.isInteger(v) || v < min) die(`--${name} must be an integer >= ${min}, got ${flags[name]}`)
  return v
}
const positive = (name) => {
  const v = Number(flags[name])
  if (!(v > 0 && Number.isFinite(v))) die(`--${name} must be a number > 0, got ${flags[name]}`)
  return v
}
if (flags.model !== 'transformer' && flags.model !== 'lstm')
  die(`--model must be transformer or lstm, got ${flags.model}`)
const modelOptions = {
  model: flags.model,
  layers: int('layers', 1),
  heads: int('heads', 1),
  dims: int('dims', 1),
  context: int('context', 2),
}
const steps = int('steps', 1)
const batchSize = int('batch', 1)
const evalEvery = int('eval-every', 1)
const evalWords = int('eval-words', 1)
const seed = int('seed', 0)
const sampleCount = int('samples', 0)
const temperature = positive('temperature')
const topK = int('top-k', 1)
// Default: 3e-3 for the transformer, 5e-3 for the LSTM (runJob's).
const learningRate = flags.lr === undefined ? undefined : positive('lr')
const outDir = flags.out ?? `${root}out/${flags.model === 'lstm' ? 'names-lstm' : 'names'}/`
const show = (file) => relative(process.cwd(), file) || file

const CLEAR_LINE = '\r\x1b[K'
const live = process.stdout.isTTY === true
let lastDrawn = -Infinity
const drawProgress = (step, total, loss, seconds) => {
  if (step < total && seconds - lastDrawn < 0.1) return
  lastDrawn = seconds
  process.stdout.write(
    `${CLEAR_LINE}step ${step}/${total}  batch loss ${loss.toFixed(4)}  ${(seconds / step).toFixed(2)} s/step`,
  )
}

const job = await N.runJob({
  ...modelOptions,
  steps,
  batchSize,
  evalEvery,
  evalWords,
  seed,
  samples: sampleCount,
  temperature,
  topK,
  ...(learningRate === undefined ? {} : { learningRate }),
  outDir,
  // On a terminal, one line redrawn after every step (at most ten times a second), cleared before
  // each report line; elsewhere (CI logs, pipes) only the report lines.
  log: (line) => console.log((live ? CLEAR_LINE : '') + line),
  ...(live ? { progress: drawProgress } : {}),
  show,
})
if (E.isLeft(job)) die(job.left)
const { validationLoss, baseline } = job.right
if (!(validationLoss < baseline))
  die(`validation loss ${validationLoss} is not below the unigram baseline ${baseline}`)
