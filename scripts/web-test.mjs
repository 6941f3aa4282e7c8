// The web example's browser test: serves examples/web (scripts/web-server.mjs, the BUILT packages),
// opens it in headless Chromium (Debian's `chromium` driven by playwright-core, as scripts/browser.mjs;
// scripts/ensure-chromium.mjs installs it) and checks that
//   - the page trains the digits MLP for 30 epochs to >= 95% test accuracy;
//   - it stays responsive while it trains: the page's own 20 ms timer keeps firing (a minimum
//     rate, a maximum gap), and this script's calls into the page keep being answered;
//   - test images painted onto the drawing pad as ink (each 8x8 cell a 32 px square of ink
//     value/16: synthetic drawn digits) are classified as their labels (>= 93% of them);
//   - a stroke drawn with the mouse gives an 8x8 input and a prediction;
// and saves a screenshot: to out/web.png, and to docs/web.png (the README's picture) with
// --update-screenshot, so an ordinary test run leaves the tracked files as they are.
/* global document */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { chromium } from 'playwright-core'
import { CHROMIUM_FLAGS, chromiumPath } from './chromium.mjs'
import { startWebServer } from './web-server.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const SCREENSHOT = process.argv.includes('--update-screenshot') ? 'docs/web.png' : 'out/web.png'
/** Training takes ~10-30 s on a shared 2-core machine; a blocked or broken page never finishes. */
const TRAINING_TIMEOUT_MS = 10 * 60_000
const REQUIRED_ACCURACY = 0.95
/** The page's timer period (examples/web/main.mjs). */
const TICK_MS = 20
/**
 * Responsiveness. A page that trains without yielding sees no tick during training, one gap as long
 * as the whole run (20 s here), and answers nothing until it ends. One batch takes a few
 * milliseconds, so an idle machine shows gaps of a few tens of milliseconds; on a loaded 2-core
 * machine (load 18) the measured worst was 410 ms between ticks and 800 ms for a round trip, at
 * 0.44 of the nominal rate. The bounds leave room for that and still fail a page that blocks for
 * a second.
 */
const MAX_TICK_GAP_MS = 1000
const MIN_TICK_RATE = 0.2 // of the nominal 1 / TICK_MS
const MAX_PROBE_MS = 2000 // this script's round trip into the page while it trains
/** Test images painted onto the pad and read as drawings (see below). */
const REQUIRED_DRAWN_ACCURACY = 0.93

const results = []
const check = (name, passed, detail) => {
  results.push({ name, passed })
  console.log(`${passed ? 'ok  ' : 'FAIL'} web: ${name}${detail === undefined ? '' : ` (${detail})`}`)
}
const finish = () => {
  const failed = results.filter((r) => !r.passed).length
  console.log(`${results.length - failed} passed, ${failed} failed`)
  process.exit(failed === 0 ? 0 : 1)
}

if (chromiumPath === undefined) {
  console.error(
    "web test: chromium not found; run `node scripts/ensure-chromium.mjs` (installs Debian's chromium) or set CHROMIUM_PATH",
  )
  check('Chromium found', false)
  finish()
}

let server
let browser
try {
  server = await startWebServer()
  browser = await chromium.launch({ executablePath: chromiumPath, timeout: 30_000, args: CHROMIUM_FLAGS })
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } })
  const page = await context.newPage()
  const log = []
  page.on('console', (message) => log.push(`console.${message.type()}: ${message.text()}`))
  page.on('pageerror', (error) => log.push(`page error: ${error.message}`))
  await page.goto(server.url, { waitUntil: 'load', timeout: 30_000 })

  // Poll until trained. Each poll is a round trip into the page's main thread: while training it
  // measures, from outside, how long the page takes to answer.
  const deadline = Date.now() + TRAINING_TIMEOUT_MS
  let state
  let probes = 0
  let slowestProbeMs = 0
  let epochsSeenWhileTraining = new Set()
  for (;;) {
    const sent = performance.now()
    state = await page.evaluate(() => {
      const p = globalThis.backfoldWeb?.page
      return p === undefined ? undefined : { phase: p.phase, error: p.error, epochs: p.history.length }
    })
    const probeMs = performance.now() - sent
    if (state?.phase === 'training') {
      probes++
      slowestProbeMs = Math.max(slowestProbeMs, probeMs)
      epochsSeenWhileTraining.add(state.epochs)
    }
    if (state?.phase === 'trained' || state?.phase === 'failed') break
    if (Date.now() > deadline) break
    await sleep(50)
  }
  if (state?.phase !== 'trained') {
    if (log.length > 0) console.error(log.join('\n'))
    check(
      'the page trained',
      false,
      state?.phase === 'failed' ? state.error : `phase ${state?.phase} after ${TRAINING_TIMEOUT_MS} ms`,
    )
    throw undefined
  }
  const trained = await page.evaluate(() => {
    const p = globalThis.backfoldWeb.page
    return {
      epochs: p.epochs,
      history: p.history,
      testAccuracy: p.testAccuracy,
      trainingMs: p.trainingMs,
      heartbeat: p.heartbeat,
      testImages: p.testImages,
    }
  })
  const last = trained.history.at(-1)
  check(
    `trained ${trained.epochs} epochs to >= ${100 * REQUIRED_ACCURACY}% test accuracy`,
    trained.history.length === 30 &&
      trained.testAccuracy >= REQUIRED_ACCURACY &&
      last.valAccuracy === trained.testAccuracy,
    `${trained.history.length} epochs in ${(trained.trainingMs / 1000).toFixed(1)} s, test accuracy ` +
      `${(100 * trained.testAccuracy).toFixed(2)}%, train loss ${last.loss.toFixed(4)}`,
  )

  const { ticksDuringTraining, maxGapDuringTrainingMs } = trained.heartbeat
  const rate = (ticksDuringTraining * TICK_MS) / trained.trainingMs
  check(
    `the page's ${TICK_MS} ms timer kept firing while it trained (rate >= ${MIN_TICK_RATE}, gaps <= ${MAX_TICK_GAP_MS} ms)`,
    rate >= MIN_TICK_RATE && maxGapDuringTrainingMs <= MAX_TICK_GAP_MS,
    `${ticksDuringTraining} ticks in ${Math.round(trained.trainingMs)} ms (rate ${rate.toFixed(2)} of nominal), ` +
      `longest gap ${Math.round(maxGapDuringTrainingMs)} ms`,
  )
  check(
    `the page answered this script while it trained, each time within ${MAX_PROBE_MS} ms, and its history grew`,
    probes >= 10 && slowestProbeMs <= MAX_PROBE_MS && epochsSeenWhileTraining.size >= 5,
    `${probes} calls, slowest ${Math.round(slowestProbeMs)} ms, ${epochsSeenWhileTraining.size} distinct epoch counts seen`,
  )

  // Synthetic drawn digits: every test image painted onto the pad as ink (each 8x8 cell a square of
  // ink value/16) and read back by the page as a drawing (bounding box to full height, centre of
  // mass to the middle column, 16 x mean ink per cell). Most images move by a fraction of a cell, so
  // a few that the model gets right from their own values are lost: 96% stay right (97.5% from the
  // values themselves); centring the bounding box instead gives 92.5%, a wrong scale or a transposed
  // or inverted image far less.
  const painted = await page.evaluate((images) => {
    const { clearPad, classifyPad, classify } = globalThis.backfoldWeb
    const pad = document.getElementById('pad')
    const context = pad.getContext('2d')
    const cell = pad.width / 8
    const argmax = (values) => values.indexOf(Math.max(...values))
    let right = 0
    let rightFromValues = 0
    let shownAsPredicted = 0
    for (const { pixels, label } of images) {
      clearPad()
      pixels.forEach((v, i) => {
        context.fillStyle = `rgba(0, 0, 0, ${v / 16})`
        context.fillRect((i % 8) * cell, Math.floor(i / 8) * cell, cell, cell)
      })
      const prediction = classifyPad()
      if (prediction?.digit === label) right++
      if (document.getElementById('digit').textContent === String(prediction?.digit)) shownAsPredicted++
      if (argmax(classify(pixels)) === label) rightFromValues++
    }
    return { right, rightFromValues, shownAsPredicted, total: images.length }
  }, trained.testImages)
  check(
    `test images painted onto the drawing pad are classified as their labels (>= ${100 * REQUIRED_DRAWN_ACCURACY}%)`,
    painted.total === trained.testImages.length &&
      painted.total > 300 &&
      painted.right / painted.total >= REQUIRED_DRAWN_ACCURACY &&
      painted.shownAsPredicted === painted.total,
    `${painted.right}/${painted.total} right as drawings (${((100 * painted.right) / painted.total).toFixed(1)}%), ` +
      `${painted.rightFromValues} from their 8x8 values; the page showed every prediction`,
  )

  // A digit drawn with the mouse: a 7 (a bar and a slanted stroke), through the pad's pointer events.
  await page.evaluate(() => globalThis.backfoldWeb.clearPad())
  const box = await page.locator('#pad').boundingBox()
  const stroke = async (points) => {
    await page.mouse.move(box.x + points[0][0], box.y + points[0][1])
    await page.mouse.down()
    for (const [x, y] of points.slice(1)) await page.mouse.move(box.x + x, box.y + y, { steps: 12 })
    await page.mouse.up()
  }
  await stroke([
    [70, 50],
    [190, 50],
    [160, 120],
    [120, 215],
  ])
  const mouse = await page.evaluate(() => {
    const p = globalThis.backfoldWeb.page.prediction
    return {
      digit: p?.digit,
      shown: document.getElementById('digit').textContent,
      ink: p === undefined ? 0 : p.input.reduce((a, b) => a + b, 0),
    }
  })
  check(
    'a digit drawn with the mouse gives an 8x8 input and a shown prediction',
    mouse.ink > 0 && mouse.shown === String(mouse.digit),
    `drew a 7, the page shows ${mouse.shown}`,
  )

  mkdirSync(`${root}${dirname(SCREENSHOT)}`, { recursive: true })
  await page.screenshot({ path: `${root}${SCREENSHOT}`, fullPage: true })
  console.log(`web: screenshot saved to ${SCREENSHOT}`)
  const errors = log.filter((line) => line.startsWith('page error') || line.startsWith('console.error'))
  check('no page errors or console errors', errors.length === 0, errors.join('; ') || undefined)
} catch (error) {
  if (error !== undefined) check('the browser test ran', false, error.stack ?? String(error))
} finally {
  await browser?.close().catch(() => undefined)
  await server?.close()
}
finish()
