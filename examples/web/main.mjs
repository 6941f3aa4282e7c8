// The web example: trains the digits MLP of examples/digits in this page with `fitAsync` (which
// yields to the event loop every `yieldEvery` batches), draws the loss and accuracy as it goes, then
// classifies what a person draws. Bundled by scripts/web-server.mjs from the built packages.
//
// URL parameters (for experiments and the browser test): `epochs` (default 30), `yieldEvery`
// (default 1, fitAsync's option). `globalThis.backfoldWeb` exposes the page's state to the test.
/* global document, location, fetch, Response, URLSearchParams, DecompressionStream, setInterval, requestAnimationFrame */
import * as E from 'fp-ts/lib/Either.js'
import * as nn from '@backfold/nn'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import { CELLS, digitize } from './digitize.mjs'

/** How often the page's own timer fires; its gaps during training measure responsiveness. */
const TICK_MS = 20

const $ = (id) => document.getElementById(id)
const statusLine = $('status')
const chart = $('chart')
const pad = $('pad')

/** What the browser test reads; every field is plain data. */
const page = {
  phase: 'loading', // loading, training, trained, failed
  error: undefined,
  epochs: 0,
  history: [],
  testAccuracy: undefined,
  trainingMs: undefined,
  heartbeat: { ticks: 0, ticksDuringTraining: 0, maxGapDuringTrainingMs: 0 },
  prediction: undefined, // { digit, probabilities, input } of the last drawing
}

const fail = (message) => {
  page.phase = 'failed'
  page.error = message
  statusLine.textContent = `error: ${message}`
  statusLine.style.color = '#b91c1c'
  throw new Error(message)
}

const integerParameter = (name, fallback, min) => {
  const text = new URLSearchParams(location.search).get(name)
  if (text === null) return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value < min)
    fail(`URL parameter ${name} must be an integer >= ${min}, got '${text}'`)
  return value
}

// ---------------------------------------------------------------------------------------------
// the page's timer: it turns the spinner and records the longest gap between its ticks
// ---------------------------------------------------------------------------------------------

let training = false
let lastTick = performance.now()
setInterval(() => {
  const now = performance.now()
  const beat = page.heartbeat
  beat.ticks++
  if (training) {
    beat.ticksDuringTraining++
    beat.maxGapDuringTrainingMs = Math.max(beat.maxGapDuringTrainingMs, now - lastTick)
  }
  lastTick = now
  $('spinner').style.transform = `rotate(${(beat.ticks * 12) % 360}deg)`
  if (training || page.phase === 'trained')
    $('ticks').textContent =
      `page timer (every ${TICK_MS} ms): ${beat.ticksDuringTraining} ticks during training, ` +
      `longest gap ${Math.round(beat.maxGapDuringTrainingMs)} ms`
}, TICK_MS)

// ---------------------------------------------------------------------------------------------
// the chart: loss (left axis) and accuracy (right axis) per epoch, redrawn on animation frames
// ---------------------------------------------------------------------------------------------

const SERIES = [
  { key: 'loss', label: 'train loss', color: '#2563eb', axis: 'loss' },
  { key: 'valLoss', label: 'test loss', color: '#93c5fd', axis: 'loss' },
  { key: 'accuracy', label: 'train accuracy', color: '#15803d', axis: 'accuracy' },
  { key: 'valAccuracy', label: 'test accuracy', color: '#86efac', axis: 'accuracy' },
]
/** The current epoch's running means, drawn as the next points while it trains. */
let running
let chartDirty = true

const drawChart = () => {
  const context = chart.getContext('2d')
  const { width, height } = chart
  const margin = { left: 48, right: 48, top: 28, bottom: 30 }
  const plotWidth = width - margin.left - margin.right
  const plotHeight = height - margin.top - margin.bottom
  context.clearRect(0, 0, width, height)
  context.font = '11px system-ui, sans-serif'
  const points = running === undefined ? page.history : [...page.history, running]
  const maxLoss = Math.max(0.5, ...points.flatMap((r) => [r.loss, r.valLoss ?? 0]))
  const x = (epoch) => margin.left + (plotWidth * epoch) / Math.max(1, page.epochs)
  const yOf = (axis, value) => margin.top + plotHeight * (1 - (axis === 'loss' ? value / maxLoss : value))
  // axes and grid
  context.strokeStyle = '#eee'
  context.fillStyle = '#555'
  for (let i = 0; i <= 4; i++) {
    const y = margin.top + (plotHeight * i) / 4
    context.beginPath()
    context.moveTo(margin.left, y)
    context.lineTo(margin.left + plotWidth, y)
    context.stroke()
    context.textAlign = 'right'
    context.fillText(((maxLoss * (4 - i)) / 4).toFixed(2), margin.left - 6, y + 4)
    context.textAlign = 'left'
    context.fillText(`${(100 * (1 - i / 4)).toFixed(0)}%`, margin.left + plotWidth + 6, y + 4)
  }
  context.textAlign = 'center'
  context.fillText(`epoch (of ${page.epochs})`, margin.left + plotWidth / 2, height - 8)
  // legend
  let legendX = margin.left
  for (const s of SERIES) {
    context.fillStyle = s.color
    context.fillRect(legendX, 8, 12, 10)
    context.fillStyle = '#333'
    context.textAlign = 'left'
    context.fillText(s.label, legendX + 16, 17)
    legendX += context.measureText(s.label).width + 32
  }
  // lines: epoch e's record is plotted at e + 1 (after the epoch), the running point at its fraction
  for (const s of SERIES) {
    const line = points
      .filter((r) => r[s.key] !== undefined)
      .map((r) => [x(r === running ? r.progress : r.epoch + 1), yOf(s.axis, r[s.key])])
    if (line.length === 0) continue
    context.strokeStyle = s.color
    context.lineWidth = 2
    context.beginPath()
    line.forEach(([px, py], i) => (i === 0 ? context.moveTo(px, py) : context.lineTo(px, py)))
    context.stroke()
  }
}

const frame = () => {
  if (chartDirty) {
    chartDirty = false
    drawChart()
  }
  requestAnimationFrame(frame)
}
requestAnimationFrame(frame)

// ---------------------------------------------------------------------------------------------
// data and model: the same as examples/digits/main.mjs
// ---------------------------------------------------------------------------------------------

const orFail = (either, format) => (E.isLeft(either) ? fail(format(either.left)) : either.right)

const loadDigits = async () => {
  const response = await fetch('data/digits.csv.gz')
  if (!response.ok) fail(`data/digits.csv.gz: HTTP ${response.status}`)
  const unzipped = response.body.pipeThrough(new DecompressionStream('gzip'))
  const bytes = new Uint8Array(await new Response(unzipped).arrayBuffer())
  const csv = orFail(
    nn.parseCsvBytes(bytes, { source: 'digits.csv.gz', labelColumn: 'last' }),
    nn.formatDataError,
  )
  const labels = orFail(nn.validateLabels(csv.y, 10, { source: 'digits.csv.gz' }), nn.formatDataError)
  return { raw: csv.x, digits: { x: O.div(csv.x, 16), y: labels } }
}

const model = nn.layers.sequential(
  nn.layers.dense(128, { activation: 'relu' }),
  nn.layers.dense(64, { activation: 'relu' }),
  nn.layers.dense(10),
)
let trained

const train = async () => {
  const epochs = integerParameter('epochs', 30, 1)
  const yieldEvery = integerParameter('yieldEvery', 1, 1)
  const batchSize = 32
  page.epochs = epochs
  const { digits } = await loadDigits()
  const { train: trainSet, test } = nn.stratifiedSplit(digits, { testFraction: 0.2, key: T.random.key(0) })
  const [initKey, fitKey] = T.random.split(T.random.key(1), 2)
  const initial = orFail(model.init(initKey, [64]), nn.formatLayerError)
  const backend = T.backendStatus().backend
  const describe = (text) => {
    statusLine.textContent = `${text} (${nn.numExamples(trainSet)} training images, ${nn.numExamples(test)} test images; ${backend} backend)`
  }
  page.phase = 'training'
  describe(`training: epoch 1 of ${epochs}`)
  training = true
  lastTick = performance.now()
  const started = performance.now()
  const result = await nn.fitAsync({
    model,
    loss: nn.crossEntropy,
    optimizer: nn.adam(
      nn.cosineDecay({ init: 2e-3, decaySteps: epochs * Math.ceil(nn.numExamples(trainSet) / batchSize) }),
    ),
    params: initial.params,
    state: initial.state,
    data: trainSet,
    validationData: test,
    epochs,
    batchSize,
    key: fitKey,
    yieldEvery,
    reporter: {
      batch: ({ epoch, batch, batchesPerEpoch, loss, accuracy }) => {
        running = { epoch, progress: epoch + (batch + 1) / batchesPerEpoch, loss, accuracy }
        chartDirty = true
      },
      epoch: (record) => {
        running = undefined
        page.history.push(record)
        chartDirty = true
        describe(
          `epoch ${record.epoch + 1} of ${epochs}: loss ${record.loss.toFixed(4)}, ` +
            `test accuracy ${(100 * record.valAccuracy).toFixed(2)}%`,
        )
      },
    },
  })
  training = false
  // the gap from the last tick to the end counts too: a page that never ticked has one long gap
  page.heartbeat.maxGapDuringTrainingMs = Math.max(
    page.heartbeat.maxGapDuringTrainingMs,
    performance.now() - lastTick,
  )
  page.trainingMs = performance.now() - started
  trained = result
  const evaluation = nn.evaluate(model, result.params, result.state, test)
  page.testAccuracy = evaluation.accuracy
  page.phase = 'trained'
  describe(
    `trained in ${(page.trainingMs / 1000).toFixed(1)} s: test accuracy ${(100 * evaluation.accuracy).toFixed(2)}%`,
  )
  pad.classList.remove('disabled')
  // for the browser test: the test images, as the data's 0..16 values, with their labels
  const testRaw = O.mul(test.x, 16).data
  page.testImages = Array.from({ length: nn.numExamples(test) }, (_, i) => ({
    pixels: Array.from(testRaw.subarray(64 * i, 64 * i + 64), Math.round),
    label: test.y.data[i],
  }))
}

// ---------------------------------------------------------------------------------------------
// drawing and prediction
// ---------------------------------------------------------------------------------------------

/** Class probabilities for one image of 64 values 0..16. */
const classify = (pixels) => {
  const x = T.unsafeTensor(
    'float32',
    [1, 64],
    Float32Array.from(pixels, (v) => v / 16),
  )
  const logits = nn.predict(model, trained.params, trained.state, x)
  return Array.from(O.softmax(logits, { axis: -1 }).data)
}

const showInput = (pixels) => {
  const context = $('input').getContext('2d')
  const image = context.createImageData(CELLS, CELLS)
  pixels.forEach((v, i) => {
    const level = 255 - Math.round((255 * v) / 16)
    image.data.set([level, level, level, 255], 4 * i)
  })
  context.putImageData(image, 0, 0)
}

const showPrediction = (probabilities) => {
  const bars = $('bars')
  bars.replaceChildren()
  const digit = probabilities.indexOf(Math.max(...probabilities))
  probabilities.forEach((p, i) => {
    const label = document.createElement('span')
    label.textContent = String(i)
    const track = document.createElement('span')
    const bar = document.createElement('div')
    bar.className = 'bar'
    bar.style.width = `${Math.max(1, Math.round(120 * p))}px`
    if (i !== digit) bar.style.background = '#93c5fd'
    track.append(bar)
    const value = document.createElement('span')
    value.textContent = `${(100 * p).toFixed(1)}%`
    bars.append(label, track, value)
  })
  $('digit').textContent = String(digit)
  return digit
}

/** Reads the drawing pad, shows what the model sees and its prediction. */
const classifyPad = () => {
  if (trained === undefined) return undefined
  const { width, height } = pad
  const alpha = pad.getContext('2d').getImageData(0, 0, width, height).data
  const ink = new Float32Array(width * height)
  for (let i = 0; i < ink.length; i++) ink[i] = alpha[4 * i + 3] / 255
  const input = digitize(ink, width, height)
  if (input === undefined) {
    $('digit').textContent = '?'
    $('bars').replaceChildren()
    page.prediction = undefined
    return undefined
  }
  showInput(input)
  const probabilities = classify(input)
  const digit = showPrediction(probabilities)
  page.prediction = { digit, probabilities, input }
  return page.prediction
}

const clearPad = () => {
  pad.getContext('2d').clearRect(0, 0, pad.width, pad.height)
  showInput(new Array(CELLS * CELLS).fill(0))
  classifyPad()
}

{
  const context = pad.getContext('2d')
  let drawing = false
  const at = (event) => {
    const box = pad.getBoundingClientRect()
    return [
      ((event.clientX - box.left) * pad.width) / box.width,
      ((event.clientY - box.top) * pad.height) / box.height,
    ]
  }
  pad.addEventListener('pointerdown', (event) => {
    if (trained === undefined) return
    drawing = true
    pad.setPointerCapture(event.pointerId)
    context.lineWidth = 18
    context.lineCap = 'round'
    context.lineJoin = 'round'
    context.strokeStyle = '#000'
    context.beginPath()
    context.moveTo(...at(event))
    context.lineTo(...at(event))
    context.stroke()
  })
  pad.addEventListener('pointermove', (event) => {
    if (!drawing) return
    context.lineTo(...at(event))
    context.stroke()
  })
  const end = () => {
    if (!drawing) return
    drawing = false
    classifyPad()
  }
  pad.addEventListener('pointerup', end)
  pad.addEventListener('pointercancel', end)
  $('clear').addEventListener('click', clearPad)
}

globalThis.backfoldWeb = { page, classifyPad, clearPad, classify }

train().catch((error) => {
  training = false
  if (page.phase !== 'failed') {
    page.phase = 'failed'
    page.error = String(error && error.stack ? error.stack : error)
    statusLine.textContent = `error: ${error.message ?? error}`
    statusLine.style.color = '#b91c1c'
  }
})
