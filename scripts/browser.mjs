// The browser test. Bundles test/browser/page.mjs against the BUILT packages for the browser (a
// Node built-in reaching @backfold/tensor, ops or nn's main entry fails the bundle), serves it from
// 127.0.0.1 as three kinds of page, opens each in headless Chromium (Debian's `chromium`, driven by
// playwright-core; scripts/ensure-chromium.mjs installs it) and checks:
//   ordinary                 wasm backend; threads quietly 1, and threadPoolStatus says why
//   strict CSP               `Content-Security-Policy: script-src 'self'` (no 'wasm-unsafe-eval'):
//                            the reference backend, and backendStatus says why
//   cross-origin isolated    COOP + COEP: two threads, the Web Worker computing parts of products
//                            bit-identically to one thread (test/browser/threads.mjs)
// Every page runs test/browser/computation.mjs (a 256² float32 matmul, the gradient of an MLP's
// loss, one epoch of `fit` at batch 256), and its values must match the same computation run here
// in Node within TOLERANCE (see there).
import { Buffer } from 'node:buffer'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'
import { CHROMIUM_FLAGS, chromiumPath } from './chromium.mjs'
import { compute } from '../test/browser/computation.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
/** How long a page may take to report (its own waits for a worker stop after 10 s). */
const RESULT_TIMEOUT_MS = 60_000

/**
 * Largest difference allowed between a page's value and Node's, relative to the largest magnitude
 * in that result (per result: the matmul, the gradient, the fitted parameters). Pages on the wasm
 * backend run the same float32 kernels as Node and differ at most where the engines' Math.exp/log
 * do (last bits). The reference backend (the strict-CSP page) sums float32 products in another
 * order: a dot product of length k = 256 then differs by up to k·u·Σ|aᵢbᵢ| ≈ 1.5e-5 (u = 2^-24)
 * relative to its terms in the worst case, √k·u ≈ 1e-6 typically, and the two SGD steps of the
 * epoch carry such differences on without amplifying them. 1e-4 leaves margin above that worst case,
 * while a real fault (a wrong part, a missing block, a wrong backend) is off by O(1).
 */
const TOLERANCE = 1e-4

const results = []
const check = (page, name, passed, detail) => {
  results.push({ page, name, passed })
  console.log(`${passed ? 'ok  ' : 'FAIL'} ${page}: ${name}${detail === undefined ? '' : ` (${detail})`}`)
}

const executablePath = chromiumPath
if (executablePath === undefined) {
  console.error(
    "browser test: chromium not found; run `node scripts/ensure-chromium.mjs` (installs Debian's chromium) or set CHROMIUM_PATH",
  )
  console.log('0 passed, 1 failed')
  process.exit(1)
}

const bundle = await build({
  entryPoints: [join(root, 'test/browser/page.mjs')],
  bundle: true,
  platform: 'browser',
  format: 'iife',
  write: false,
  logLevel: 'error',
  // Not the repository's tsconfig.json: its `paths` map @backfold/* to the TypeScript sources, and
  // the bundle would mix sources and builds (two copies of @backfold/tensor). The built packages only.
  tsconfigRaw: '{}',
  metafile: true,
})
const sources = Object.keys(bundle.metafile.inputs).filter((path) => /packages\/[^/]+\/src\//.test(path))
if (sources.length > 0) {
  console.error(
    `browser test: the bundle took package sources instead of the built packages: ${sources.join(', ')}`,
  )
  console.log('0 passed, 1 failed')
  process.exit(1)
}
const script = bundle.outputFiles[0].text

// The same computation here, from the same built packages (wasm backend, default threads).
const expected = compute()

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
}
const PAGES = {
  ordinary: {},
  'strict CSP': { 'Content-Security-Policy': "script-src 'self'" },
  'cross-origin isolated': ISOLATION,
}
const slug = (kind) => kind.replaceAll(' ', '-')
const html = (kind) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>backfold: ${kind} page</title></head>` +
  '<body><script src="page.js"></script></body></html>'

const server = createServer((request, response) => {
  const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname
  const [, dir, file] = path.split('/')
  const kind = Object.keys(PAGES).find((k) => slug(k) === dir)
  const headers = { ...(kind === undefined ? {} : PAGES[kind]), 'Cache-Control': 'no-store' }
  if (kind !== undefined && file === '') {
    response.writeHead(200, { ...headers, 'Content-Type': 'text/html; charset=utf-8' }).end(html(kind))
  } else if (kind !== undefined && file === 'page.js') {
    response.writeHead(200, { ...headers, 'Content-Type': 'text/javascript; charset=utf-8' }).end(script)
  } else {
    response.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found')
  }
})
await new Promise((resolve, reject) => {
  server.once('error', reject)
  server.listen(0, '127.0.0.1', resolve)
})
const origin = `http://127.0.0.1:${server.address().port}`

/** Opens one kind of page in its own browser context; returns what it reported, and its console. */
const visit = async (browser, kind) => {
  const log = []
  let pageError = false
  const context = await browser.newContext()
  try {
    const page = await context.newPage()
    page.on('console', (message) => log.push(`console.${message.type()}: ${message.text()}`))
    page.on('pageerror', (error) => {
      pageError = true
      log.push(`page error: ${error.message}`)
    })
    await page.goto(`${origin}/${slug(kind)}/`, { waitUntil: 'load', timeout: 15_000 })
    const deadline = Date.now() + RESULT_TIMEOUT_MS
    for (;;) {
      // page.evaluate runs over the DevTools protocol, which a page's CSP does not restrict.
      const result = await page.evaluate(() => globalThis.backfoldResult ?? null)
      if (result !== null) return { result, log }
      if (pageError) return { result: { ok: false, error: 'the page threw before reporting' }, log }
      if (Date.now() > deadline) {
        return { result: { ok: false, error: `no result within ${RESULT_TIMEOUT_MS} ms` }, log }
      }
      await sleep(100)
    }
  } finally {
    await context.close().catch(() => undefined)
  }
}

const decode = (text) => {
  const bytes = Buffer.from(text, 'base64')
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
}

/** Compares a page's float32 result with Node's: max |difference| relative to Node's largest magnitude. */
const compare = (page, name, actual, wanted) => {
  if (actual.length !== wanted.length) {
    check(page, `${name} matches Node`, false, `${actual.length} values, Node has ${wanted.length}`)
    return
  }
  let scale = 0
  let worst = 0
  let identical = 0
  for (let i = 0; i < wanted.length; i++) {
    scale = Math.max(scale, Math.abs(wanted[i]))
    const difference = Math.abs(actual[i] - wanted[i])
    worst = Number.isNaN(difference) ? Infinity : Math.max(worst, difference)
    if (Object.is(actual[i], wanted[i])) identical++
  }
  const relative = worst / scale
  check(
    page,
    `${name} matches Node`,
    relative <= TOLERANCE,
    `max |Δ| ${worst.toExponential(2)} = ${relative.toExponential(2)} of max |value| (tolerance ${TOLERANCE}); ` +
      `${identical}/${wanted.length} bit-identical`,
  )
}

const expectations = {
  ordinary: (r) => {
    check('ordinary', 'not cross-origin isolated', r.crossOriginIsolated === false)
    check('ordinary', 'wasm backend', r.backend.backend === 'wasm', JSON.stringify(r.backend))
    check(
      'ordinary',
      'threads quietly 1 (2 requested) and threadPoolStatus says why',
      r.threads === 1 &&
        r.pool.threads === 1 &&
        r.pool.requested === 2 &&
        r.pool.workers === 0 &&
        /not cross-origin isolated/.test(r.pool.reason ?? ''),
      `threads ${r.threads}, reason: ${r.pool.reason}`,
    )
  },
  'strict CSP': (r) => {
    check(
      'strict CSP',
      'reference backend, and backendStatus says wasm was refused',
      r.backend.backend === 'reference' &&
        r.backend.chosenBy === 'automatic' &&
        /refuses to compile WebAssembly/.test(r.backend.wasmUnavailable ?? ''),
      `wasmUnavailable: ${r.backend.wasmUnavailable}`,
    )
  },
  'cross-origin isolated': (r) => {
    check('cross-origin isolated', 'cross-origin isolated', r.crossOriginIsolated === true)
    check('cross-origin isolated', 'wasm backend', r.backend.backend === 'wasm', JSON.stringify(r.backend))
    check(
      'cross-origin isolated',
      'two threads, one ready Web Worker, none failed; the computation used the pool',
      r.threads === 2 &&
        r.pool.workers === 1 &&
        r.pool.readyWorkers === 1 &&
        r.pool.failedWorkers === 0 &&
        r.computeParallelJobs > 0,
      `threads ${r.threads}, pool ${JSON.stringify(r.pool)}, computation: ${r.computeParallelJobs} pooled products, ` +
        `${r.computeWorkerParts} worker parts`,
    )
    const t = r.threadCheck
    check(
      'cross-origin isolated',
      'Web Worker computed parts of every product, bit-identical to one thread',
      t?.ok === true,
      t?.ok === true
        ? `${t.products} products, ${t.attempts} runs, worker ready after ${t.readyMs} ms`
        : JSON.stringify(t),
    )
  },
}

let browser
try {
  browser = await chromium.launch({ executablePath, timeout: 30_000, args: CHROMIUM_FLAGS })
  for (const kind of Object.keys(PAGES)) {
    const { result, log } = await visit(browser, kind)
    check(kind, 'page ran', result.ok === true, result.ok === true ? `${result.ms} ms` : result.error)
    if (result.ok !== true) {
      if (log.length > 0) console.error(log.join('\n'))
      continue
    }
    expectations[kind](result)
    compare(kind, '256² float32 matmul', decode(result.matmul), expected.matmul)
    compare(kind, 'gradient of the MLP loss', decode(result.gradient), expected.gradient)
    compare(kind, 'parameters after one epoch of fit (batch 256)', decode(result.fitted), expected.fitted)
    const lossDifference = Math.abs(result.loss - expected.loss) / Math.abs(expected.loss)
    check(
      kind,
      "epoch's mean loss matches Node",
      lossDifference <= TOLERANCE,
      `${result.loss} vs ${expected.loss}`,
    )
  }
  console.log(`browser: ${(await browser.version?.()) ?? 'chromium'}`)
} catch (error) {
  check('browser', 'Chromium ran', false, error.message)
} finally {
  await browser?.close().catch(() => undefined)
  server.close()
}

const failed = results.filter((r) => !r.passed).length
console.log(`${results.length - failed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
