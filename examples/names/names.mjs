// The parts of the names job (examples/names/main.mjs), importable so test/names-example.test.ts
// can run them tiny: the word list decoded and normalised, the fixed split, the models, the
// masked per-character loss, the training loop, the exact validation loss, sampling and the files.
import { mkdirSync } from 'node:fs'
import { TextDecoder } from 'node:util'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts/lib/index.js'
import { PathReporter } from 'io-ts/lib/PathReporter.js'
import * as nn from '@backfold/nn'
import * as nnNode from '@backfold/nn/node'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'

/** The vendored word list (Debian's wamerican 2020.12.07-2, SCOWL; see data/wamerican/README.md). */
export const WORD_LIST = fileURLToPath(new URL('../../data/wamerican/american-english', import.meta.url))

// Vocabulary: token 0 is '.', the start and the end of a word; tokens 1..26 are 'a'..'z'.
export const ALPHABET = 'abcdefghijklmnopqrstuvwxyz'
export const BOUNDARY = 0
export const VOCAB = ALPHABET.length + 1
/** Target of a position past the end of a word: no loss there. */
export const PAD_TARGET = -1

// ---------------------------------------------------------------------------------------------
// Data: every file from outside is decoded at the boundary.

/** One line of the list: non-empty, no whitespace or control characters. */
const Line = t.brand(t.string, (s) => s.length > 0 && !/[\s\p{Cc}]/u.test(s), 'Line')
/** The list: UTF-8 text, one entry per line, ending with a newline. */
const WordListLines = t.array(Line)

/**
 * Decodes the bytes of a word list (UTF-8, one word per line, final newline) into its lines.
 * Invalid UTF-8, an empty line or a line with whitespace is a Left naming the line.
 */
export const decodeWordList = (bytes, source = 'word list') => {
  let text
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return E.left(`${source}: not valid UTF-8`)
  }
  if (!text.endsWith('\n')) return E.left(`${source}: the last line has no newline (truncated file?)`)
  const lines = text.slice(0, -1).split('\n')
  return pipe(
    WordListLines.decode(lines),
    E.mapLeft((errors) => {
      const first = errors[0]
      const index = Number(first?.context[1]?.key)
      return Number.isInteger(index)
        ? `${source}: line ${index + 1} (${JSON.stringify(lines[index])}) is empty or has whitespace`
        : `${source}: ${PathReporter.report(E.left(errors)).join('; ')}`
    }),
  )
}

/** Reads and decodes a word list file; a Left is a message naming the file. */
export const readWordList = async (file = WORD_LIST) => {
  const bytes = await nnNode.readFileBytes(file)
  return E.isLeft(bytes) ? E.left(nn.formatDataError(bytes.left)) : decodeWordList(bytes.right, file)
}

/**
 * Lower-cases, keeps words of only a-z (so possessives "'s", accented words and hyphenated words
 * go), keeps words of at most `maxLength` letters, and drops duplicates (first occurrence kept, the
 * list's order). Returns the words and what was dropped.
 */
export const normaliseWords = (lines, maxLength) => {
  const seen = new Set()
  const words = []
  let notAlphabetic = 0
  let tooLong = 0
  let duplicates = 0
  for (const line of lines) {
    const word = line.toLowerCase()
    if (!/^[a-z]+$/.test(word)) notAlphabetic++
    else if (word.length > maxLength) tooLong++
    else if (seen.has(word)) duplicates++
    else {
      seen.add(word)
      words.push(word)
    }
  }
  return { words, dropped: { notAlphabetic, tooLong, duplicates } }
}

/** FNV-1a, 32 bits, of a string's UTF-16 code units: a fixed hash for the split. */
export const fnv1a = (s) => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

/** The fixed split: a word is in validation when `fnv1a(word) % 100 < validationPercent`. */
export const splitWords = (words, validationPercent = 10) => {
  const train = []
  const validation = []
  for (const w of words) (fnv1a(w) % 100 < validationPercent ? validation : train).push(w)
  return { train, validation }
}

/**
 * Words as next-character examples of length `context`: x = '.', c1 .. cn, '.' padding;
 * y = c1 .. cn, '.', then PAD_TARGET (no loss). Words need n + 1 <= context.
 */
export const encodeWords = (words, context) => {
  const x = new Int32Array(words.length * context)
  const y = new Int32Array(words.length * context).fill(PAD_TARGET)
  words.forEach((word, i) => {
    if (word.length + 1 > context)
      throw new T.ValueError(
        'encodeWords',
        `"${word}" has ${word.length} letters; context ${context} fits ${context - 1}`,
      )
    const row = i * context
    for (let j = 0; j < word.length; j++) {
      const token = word.charCodeAt(j) - 96
      x[row + j + 1] = token
      y[row + j] = token
    }
    y[row + word.length] = BOUNDARY
  })
  return {
    x: T.unsafeTensor('int32', [words.length, context], x),
    y: T.unsafeTensor('int32', [words.length, context], y),
  }
}

/** Tokens (one row) back to a word: the letters up to the first '.'. */
export const decodeTokens = (tokens) => {
  let word = ''
  for (const token of tokens) {
    if (token === BOUNDARY) break
    word += ALPHABET[token - 1]
  }
  return word
}

/** The entropy (nats) of the training characters' frequencies, the end token included: a baseline. */
export const unigramEntropy = (words) => {
  const counts = new Array(VOCAB).fill(0)
  for (const w of words) {
    for (let i = 0; i < w.length; i++) counts[w.charCodeAt(i) - 96]++
    counts[BOUNDARY]++
  }
  const total = counts.reduce((a, b) => a + b, 0)
  return -counts.reduce((h, c) => (c === 0 ? h : h + (c / total) * Math.log(c / total)), 0)
}

// ---------------------------------------------------------------------------------------------
// Models: int32 tokens [N, context] to logits [N, context, VOCAB].

export const DEFAULT_MODEL = { model: 'transformer', layers: 4, heads: 4, dims: 128, context: 16 }

/**
 * The decoder-only transformer (token embedding, learned positions, `layers` pre-norm causal
 * blocks, a final layer norm, a vocabulary projection) or, with `model: 'lstm'`, the same
 * embedding and head around one LSTM of `dims` hidden units.
 */
export const buildModel = (opts = {}) => {
  const o = { ...DEFAULT_MODEL, ...opts }
  if (o.model === 'lstm')
    return nn.layers.sequential(
      nn.layers.embedding(VOCAB, o.dims),
      nn.layers.lstm(o.dims, { returnSequences: true }),
      nn.layers.dense(VOCAB),
    )
  if (o.model !== 'transformer')
    throw new T.ValueError(
      'buildModel',
      `model must be 'transformer' or 'lstm', got ${JSON.stringify(o.model)}`,
    )
  return nn.layers.sequential(
    nn.layers.embedding(VOCAB, o.dims),
    nn.layers.positionalEmbedding({ maxLen: o.context }),
    ...Array.from({ length: o.layers }, () => nn.layers.transformerBlock({ heads: o.heads, causal: true })),
    nn.layers.layerNorm(),
    nn.layers.dense(VOCAB),
  )
}

/** A one-line description of a model's options. */
export const describeModel = (opts = {}) => {
  const o = { ...DEFAULT_MODEL, ...opts }
  return o.model === 'lstm'
    ? `LSTM (${o.dims} hidden, embedding ${o.dims}), context ${o.context}`
    : `transformer (${o.layers} layer${o.layers === 1 ? '' : 's'}, ${o.heads} heads, ${o.dims} dims), context ${o.context}`
}

/**
 * Negative log-likelihood summed over the positions with a target, and their count:
 * logits [N, L, V], targets int32 [N, L] with PAD_TARGET where there is none.
 */
export const sequenceNll = (logits, targets) => ({
  total: nn.sequenceCrossEntropy(logits, targets, { ignoreIndex: PAD_TARGET, reduction: 'sum' }),
  count: O.sum(O.astype(O.notEqual(targets, PAD_TARGET), logits.dtype)),
})

/** The training loss: mean negative log-likelihood per character (nats) over the batch's targets. */
export const sequenceLoss = (logits, targets) =>
  nn.sequenceCrossEntropy(logits, targets, { ignoreIndex: PAD_TARGET })

const staged = new WeakMap()
/** The jitted sum and count of a model's per-character NLL, one per model (so one trace per batch shape). */
const forwardNll = (model, state) => {
  const cached = staged.get(model)
  if (cached !== undefined) return cached
  const forward = O.jit((p, x, y) => {
    const [logits] = model.apply(p, state, x, { training: false })
    const r = sequenceNll(logits, y)
    return [r.total, r.count]
  })
  staged.set(model, forward)
  return forward
}

/** Every `stride`-th example of a data set (the lists are alphabetical: a stride spreads a subset over it). */
export const everyNth = (data, count) => {
  const n = data.x.shape[0]
  if (count >= n) return data
  const stride = n / count
  const indices = T.unsafeTensor(
    'int32',
    [count],
    Int32Array.from({ length: count }, (_, i) => Math.floor(i * stride)),
  )
  return { x: T.gather(data.x, indices, 0), y: T.gather(data.y, indices, 0) }
}

/** Exact nats per character over a whole data set (sum over every target / number of targets). */
export const nllPerCharacter = (model, params, state, data, batchSize = 512) => {
  const n = data.x.shape[0]
  let total = 0
  let count = 0
  const forward = forwardNll(model, state)
  for (let start = 0; start < n; start += batchSize) {
    const stop = Math.min(n, start + batchSize)
    const [tot, cnt] = forward(params, T.slice(data.x, [{ start, stop }]), T.slice(data.y, [{ start, stop }]))
    total += T.item(tot)
    count += T.item(cnt)
  }
  return total / count
}

// ---------------------------------------------------------------------------------------------
// Training: the library's jitted step (makeTrainStep) with AdamW and a cosine decay; every
// `evalEvery` steps the mean training loss since the last report and the exact validation loss.

/**
 * Trains `model` on `train` for `steps` steps of `batchSize` words (reshuffled, from `key`, at
 * every pass over the data), reporting every `evalEvery` steps: `loss` is the nats per character of
 * `trainProbe` (a fixed subset of the training words, in evaluation mode; without it, the mean batch
 * loss since the last report) and `valLoss` that of `validation`; `progress(step, steps, batchLoss,
 * seconds)` is called after every step (a live display). Returns the parameters and a
 * History (one record per report; `epoch` is the report's index, `step` the steps done).
 */
export const trainModel = (opts) => {
  const { model, train, validation, trainProbe, steps, batchSize, evalEvery, key } = opts
  const log = opts.log ?? (() => {})
  const progress = opts.progress ?? (() => {})
  const lr = opts.learningRate ?? 3e-3
  const [initKey, shuffleKey] = T.random.split(key, 2)
  const context = train.x.shape[1]
  const built = model.init(initKey, [context])
  if (E.isLeft(built)) throw new Error(nn.formatLayerError(built.left))
  const warmup = Math.max(1, Math.min(100, Math.floor(steps / 10)))
  const optimizer = nn.adamw(
    nn.warmupCosineDecay({
      init: 0,
      peak: lr,
      warmupSteps: warmup,
      decaySteps: Math.max(steps, warmup + 1),
      end: lr / 10,
    }),
    { weightDecay: opts.weightDecay ?? 0.01, include: nn.weightsOnly },
  )
  const step = nn.makeTrainStep({ model, loss: sequenceLoss, optimizer })
  let params = built.right.params
  let state = built.right.state
  let optState = optimizer.init(params)
  const n = train.x.shape[0]
  const perPass = Math.floor(n / batchSize)
  if (perPass < 1)
    throw new T.ValueError('trainModel', `batchSize ${batchSize} exceeds the ${n} training words`)
  const history = []
  const started = performance.now()
  let order
  let lossSum = 0
  let lossCount = 0
  for (let s = 0; s < steps; s++) {
    const pass = Math.floor(s / perPass)
    const b = s % perPass
    if (b === 0) order = T.random.permutation(T.random.foldIn(shuffleKey, pass), n).data
    const indices = T.unsafeTensor('int32', [batchSize], order.slice(b * batchSize, (b + 1) * batchSize))
    const batch = { x: T.gather(train.x, indices, 0), y: T.gather(train.y, indices, 0) }
    const result = step(params, state, optState, batch)
    params = result.params
    state = result.state
    optState = result.optState
    lossSum += result.metrics.loss
    lossCount++
    progress(s + 1, steps, result.metrics.loss, (performance.now() - started) / 1000)
    if (!Number.isFinite(result.metrics.loss)) throw new Error(`training diverged at step ${s + 1}`)
    if ((s + 1) % evalEvery === 0 || s + 1 === steps) {
      const valLoss = validation === undefined ? undefined : nllPerCharacter(model, params, state, validation)
      const trainLoss =
        trainProbe === undefined ? undefined : nllPerCharacter(model, params, state, trainProbe)
      const seconds = (performance.now() - started) / 1000
      const record = {
        epoch: history.length,
        loss: trainLoss ?? lossSum / lossCount,
        ...(valLoss === undefined ? {} : { valLoss }),
        seconds,
        samples: lossCount * batchSize,
        step: s + 1,
      }
      history.push(record)
      log(record, { steps, epochs: (s + 1) / perPass })
      lossSum = 0
      lossCount = 0
    }
  }
  return { params, state, history, seconds: (performance.now() - started) / 1000, traces: step.stats() }
}

/** `count` words sampled with `generate` (temperature, top-k), each from the start token. */
export const sampleWords = (model, params, state, { count, context, temperature, topK, key }) => {
  const prompt = T.unsafeTensor('int32', [count, 1], new Int32Array(count).fill(BOUNDARY))
  const tokens = nn.generate(model, params, state, prompt, {
    steps: context - 1,
    temperature,
    ...(topK === undefined ? {} : { topK }),
    key,
    context,
  })
  const rows = T.toNested(tokens)
  return rows.map((row) => decodeTokens(row.slice(1)))
}

// ---------------------------------------------------------------------------------------------
// The whole job, as main.mjs runs it: data, training, final loss, samples, files.

/** The job's defaults (main.mjs's flags). */
export const DEFAULT_JOB = {
  ...DEFAULT_MODEL,
  steps: 600,
  batchSize: 32,
  evalEvery: 100,
  evalWords: 1024,
  seed: 0,
  samples: 20,
  temperature: 0.8,
  topK: 10,
}

/**
 * Runs the job: reads and splits the words, trains, measures the validation loss on every
 * validation word, samples, and writes params.safetensors, history.json, samples.txt, model.onnx
 * and training.svg to `outDir`. `log` gets each line of the report, `progress` each step (see
 * trainModel). A Left is a message (an
 * unreadable word list, a model that does not build, a file that cannot be written).
 */
export const runJob = async (options) => {
  const o = { ...DEFAULT_JOB, ...options }
  const log = o.log ?? (() => {})
  const learningRate = o.learningRate ?? (o.model === 'lstm' ? 5e-3 : 3e-3)
  const modelOptions = { model: o.model, layers: o.layers, heads: o.heads, dims: o.dims, context: o.context }
  const show = o.show ?? ((f) => f)
  const outDir = o.outDir.endsWith('/') ? o.outDir : `${o.outDir}/`
  const started = performance.now()

  // Data: decode, normalise, split by hash, encode.
  const lines = await readWordList(o.wordList ?? WORD_LIST)
  if (E.isLeft(lines)) return lines
  const { words, dropped } = normaliseWords(lines.right, o.context - 1)
  const split = splitWords(words)
  log(
    `words: ${lines.right.length} lines of ${show(o.wordList ?? WORD_LIST)}; ${words.length} distinct lower-case a-z words of ` +
      `at most ${o.context - 1} letters kept (dropped: ${dropped.notAlphabetic} with other characters, ` +
      `${dropped.tooLong} longer, ${dropped.duplicates} duplicates after lower-casing)`,
  )
  log(
    `split (fixed, by FNV-1a hash of the word): ${split.train.length} train, ${split.validation.length} validation; ` +
      `vocabulary ${VOCAB} tokens ('.' = start/end, a-z)`,
  )
  const train = encodeWords(split.train, o.context)
  const validation = encodeWords(split.validation, o.context)
  const baseline = unigramEntropy(split.train)
  log(
    `baseline: unigram entropy of the training characters ${baseline.toFixed(4)} nats/char (uniform: ${Math.log(VOCAB).toFixed(4)})`,
  )

  // Model and training.
  const model = buildModel(modelOptions)
  const [trainKey, sampleKey] = T.random.split(T.random.key(o.seed), 2)
  const probe = model.init(trainKey, [o.context])
  if (E.isLeft(probe)) return E.left(nn.formatLayerError(probe.left))
  log(
    `model: ${describeModel(modelOptions)}, ${nn.tree.size(probe.right.params)} parameters; ` +
      `AdamW (peak lr ${learningRate}, warm-up then cosine decay), batch ${o.batchSize} words, ${o.steps} steps`,
  )
  const digits = String(o.steps).length
  const result = trainModel({
    model,
    train,
    validation: everyNth(validation, o.evalWords),
    trainProbe: everyNth(train, o.evalWords),
    steps: o.steps,
    batchSize: o.batchSize,
    evalEvery: o.evalEvery,
    learningRate,
    key: trainKey,
    ...(o.progress === undefined ? {} : { progress: o.progress }),
    log: (r, info) =>
      log(
        `step ${String(r.step).padStart(digits)}/${info.steps}  epoch ${info.epochs.toFixed(2)}  ` +
          `train ${r.loss.toFixed(4)}  val ${r.valLoss.toFixed(4)} nats/char (${o.evalWords}-word subsets)  ${r.seconds.toFixed(1)} s`,
      ),
  })
  const validationLoss = nllPerCharacter(model, result.params, result.state, validation)
  const trainLoss = result.history[result.history.length - 1].loss
  log(
    `final: validation ${validationLoss.toFixed(4)} nats/char on all ${split.validation.length} validation words ` +
      `(${(validationLoss / Math.LN2).toFixed(3)} bits; train ${trainLoss.toFixed(4)} on ${Math.min(o.evalWords, split.train.length)} training words), ` +
      `unigram baseline ${baseline.toFixed(4)}; training ${result.seconds.toFixed(1)} s`,
  )

  // Samples.
  const trainSet = new Set(split.train)
  const allWords = new Set(words)
  const samples = sampleWords(model, result.params, result.state, {
    count: o.samples,
    context: o.context,
    temperature: o.temperature,
    topK: o.topK,
    key: sampleKey,
  })
  const novel = samples.filter((w) => !trainSet.has(w)).length
  const inValidation = samples.filter((w) => !trainSet.has(w) && allWords.has(w)).length
  if (o.samples > 0) {
    log(`samples (temperature ${o.temperature}, top-k ${o.topK}):`)
    log('  ' + samples.map((w) => (w === '' ? '(empty)*' : trainSet.has(w) ? w : `${w}*`)).join(' '))
    log(
      `  ${novel} of ${samples.length} not in the training set (* above), ` +
        `${inValidation} of those are validation words`,
    )
  }

  // Outputs, each written atomically.
  mkdirSync(outDir, { recursive: true })
  const files = {
    params: `${outDir}params.safetensors`,
    history: `${outDir}history.json`,
    samples: `${outDir}samples.txt`,
    onnx: `${outDir}model.onnx`,
    chart: `${outDir}training.svg`,
  }
  const metadata = {
    model: describeModel(modelOptions),
    data: 'wamerican 2020.12.07-2',
    validationNatsPerChar: validationLoss.toFixed(4),
    steps: String(o.steps),
  }
  const writes = [
    [files.params, () => nnNode.saveSafetensors(files.params, result.params, { metadata })],
    [
      files.history,
      () => nnNode.writeFileAtomic(files.history, JSON.stringify(result.history, null, 2) + '\n'),
    ],
    [
      files.samples,
      () => nnNode.writeFileAtomic(files.samples, samples.join('\n') + (samples.length > 0 ? '\n' : '')),
    ],
    [
      files.onnx,
      () => nnNode.saveOnnx(files.onnx, model, result.params, result.state, { inputShape: [o.context] }),
    ],
    [
      files.chart,
      () =>
        nnNode.writeHistoryChart(files.chart, result.history, {
          title: `names: ${describeModel(modelOptions)}`,
          labels: { loss: 'training loss (nats/char)', valLoss: 'validation loss (nats/char)' },
          xLabel: 'training step',
          x: (record) => record.step,
        }),
    ],
  ]
  for (const [file, write] of writes) {
    const written = await write()
    if (E.isLeft(written)) return E.left(`cannot write ${file}: ${written.left.message}`)
  }
  log(
    `wrote ${Object.values(files).map(show).join(', ')}; ${((performance.now() - started) / 1000).toFixed(1)} s in all`,
  )
  return E.right({
    model,
    modelOptions,
    params: result.params,
    state: result.state,
    history: result.history,
    validationLoss,
    baseline,
    samples,
    novel,
    split,
    files,
    trainingSeconds: result.seconds,
  })
}
