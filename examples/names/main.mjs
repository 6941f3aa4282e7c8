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
import { mkdirSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as E from 'fp-ts/lib/Either.js'
import * as nn from '@backfold/nn'
import * as nnNode from '@backfold/nn/node'
import * as T from '@backfold/tensor'
import * as N from './names.mjs'

const root = fileURLToPath(new URL('../../', import.meta.url))
const die = (message) => {
  console.error(`names: ${message}`)
  process.exit(1)
}

const { values: flags } = (() => {
  try {
    return parseArgs({
      options: {
        model: { type: 'string', default: 'transformer' },
        layers: { type: 'string', default: '4' },
        heads: { type: 'string', default: '4' },
        dims: { type: 'string', default: '128' },
        context: { type: 'string', default: '16' },
        steps: { type: 'string', default: '1000' },
        batch: { type: 'string', default: '32' },
        'eval-every': { type: 'string', default: '100' },
        'eval-words': { type: 'string', default: '1024' },
        lr: { type: 'string' },
        seed: { type: 'string', default: '0' },
        samples: { type: 'string', default: '20' },
        temperature: { type: 'string', default: '0.8' },
        'top-k': { type: 'string', default: '10' },
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
// The LSTM learns faster with a larger step.
const learningRate = flags.lr === undefined ? (flags.model === 'lstm' ? 5e-3 : 3e-3) : positive('lr')
const outDir = flags.out ?? `${root}out/${flags.model === 'lstm' ? 'names-lstm' : 'names'}/`
const show = (file) => relative(process.cwd(), file) || file

const started = performance.now()

// Data: decode, normalise, split by hash, encode.
const lines = await N.readWordList()
if (E.isLeft(lines)) die(lines.left)
const { words, dropped } = N.normaliseWords(lines.right, modelOptions.context - 1)
const split = N.splitWords(words)
console.log(
  `words: ${lines.right.length} lines of ${show(N.WORD_LIST)}; ${words.length} distinct lower-case a-z words of ` +
    `at most ${modelOptions.context - 1} letters kept (dropped: ${dropped.notAlphabetic} with other characters, ` +
    `${dropped.tooLong} longer, ${dropped.duplicates} duplicates after lower-casing)`,
)
console.log(
  `split (fixed, by FNV-1a hash of the word): ${split.train.length} train, ${split.validation.length} validation; ` +
    `vocabulary ${N.VOCAB} tokens ('.' = start/end, a-z)`,
)
const train = N.encodeWords(split.train, modelOptions.context)
const validation = N.encodeWords(split.validation, modelOptions.context)
const baseline = N.unigramEntropy(split.train)
console.log(
  `baseline: unigram entropy of the training characters ${baseline.toFixed(4)} nats/char (uniform: ${Math.log(N.VOCAB).toFixed(4)})`,
)

// Model and training.
const model = N.buildModel(modelOptions)
const [trainKey, sampleKey] = T.random.split(T.random.key(seed), 2)
const probe = model.init(trainKey, [modelOptions.context])
if (E.isLeft(probe)) die(nn.formatLayerError(probe.left))
console.log(
  `model: ${N.describeModel(modelOptions)}, ${nn.tree.size(probe.right.params)} parameters; ` +
    `AdamW (peak lr ${learningRate}, warm-up then cosine decay), batch ${batchSize} words, ${steps} steps`,
)
const digits = String(steps).length
const result = N.trainModel({
  model,
  train,
  validation: N.everyNth(validation, evalWords),
  trainProbe: N.everyNth(train, evalWords),
  steps,
  batchSize,
  evalEvery,
  learningRate,
  key: trainKey,
  log: (r, info) =>
    console.log(
      `step ${String(r.step).padStart(digits)}/${info.steps}  epoch ${info.epochs.toFixed(2)}  ` +
        `train ${r.loss.toFixed(4)}  val ${r.valLoss.toFixed(4)} nats/char (${evalWords}-word subsets)  ${r.seconds.toFixed(1)} s`,
    ),
})
const finalVal = N.nllPerCharacter(model, result.params, result.state, validation)
const trainNll = result.history[result.history.length - 1].loss
console.log(
  `final: validation ${finalVal.toFixed(4)} nats/char on all ${split.validation.length} validation words ` +
    `(${(finalVal / Math.LN2).toFixed(3)} bits; train ${trainNll.toFixed(4)} on ${Math.min(evalWords, split.train.length)} training words), ` +
    `unigram baseline ${baseline.toFixed(4)}; training ${result.seconds.toFixed(1)} s`,
)

// Samples.
const trainSet = new Set(split.train)
const allWords = new Set(words)
const samples = N.sampleWords(model, result.params, result.state, {
  count: sampleCount,
  context: modelOptions.context,
  temperature,
  topK,
  key: sampleKey,
})
if (sampleCount > 0) {
  const inTrain = samples.filter((w) => trainSet.has(w)).length
  const inValidation = samples.filter((w) => !trainSet.has(w) && allWords.has(w)).length
  console.log(`samples (temperature ${temperature}, top-k ${topK}):`)
  console.log('  ' + samples.map((w) => (w === '' ? '(empty)*' : trainSet.has(w) ? w : `${w}*`)).join(' '))
  console.log(
    `  ${samples.length - inTrain} of ${samples.length} not in the training set (* above), ` +
      `${inValidation} of those are validation words`,
  )
}

// Outputs, each written atomically.
mkdirSync(outDir, { recursive: true })
const written = []
const check = (either, file) => {
  if (E.isLeft(either)) die(`cannot write ${file}: ${either.left.message}`)
  written.push(file)
}
const file = (name) => `${outDir}${outDir.endsWith('/') ? '' : '/'}${name}`
const metadata = {
  model: N.describeModel(modelOptions),
  data: 'wamerican 2020.12.07-2',
  validationNatsPerChar: finalVal.toFixed(4),
  steps: String(steps),
}
check(
  await nnNode.saveSafetensors(file('params.safetensors'), result.params, { metadata }),
  file('params.safetensors'),
)
check(
  await nnNode.writeFileAtomic(file('history.json'), JSON.stringify(result.history, null, 2) + '\n'),
  file('history.json'),
)
check(
  await nnNode.writeFileAtomic(file('samples.txt'), samples.join('\n') + (samples.length > 0 ? '\n' : '')),
  file('samples.txt'),
)
check(
  await nnNode.saveOnnx(file('model.onnx'), model, result.params, result.state, {
    inputShape: [modelOptions.context],
  }),
  file('model.onnx'),
)
check(
  await nnNode.writeHistoryChart(file('training.svg'), result.history, {
    title: `names: ${N.describeModel(modelOptions)}`,
    labels: { loss: 'training loss (nats/char)', valLoss: 'validation loss (nats/char)' },
    xLabel: 'training step',
    x: (record) => record.step,
  }),
  file('training.svg'),
)
console.log(
  `wrote ${written.map(show).join(', ')}; ${((performance.now() - started) / 1000).toFixed(1)} s in all`,
)

if (!(finalVal < baseline)) die(`validation loss ${finalVal} is not below the unigram baseline ${baseline}`)
