// The browser threads test: bundles test/browser/threads.mjs against the BUILT packages, serves it
// from 127.0.0.1 with the headers that make a page cross-origin isolated (COOP + COEP; file:// pages
// never are, so SharedArrayBuffer and the wasm backend's Web Worker pool would be off), opens it in
// headless Chromium (Debian's `chromium`, driven by playwright-core) and checks that 2-thread
// float32 matmuls ran partly on a Web Worker and match 1 thread bit for bit.
import { createServer } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'
import { CHROMIUM_FLAGS, chromiumPath } from './chromium.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
/** How long the page may take to report (it gives up on its worker after 10 s itself). */
const RESULT_TIMEOUT_MS = 30_000

const fail = (reason, details) => {
  console.error(`browser threads test failed: ${reason}`)
  if (details !== undefined) console.error(details)
  console.log('0 passed, 1 failed')
  process.exit(1)
}

const executablePath = chromiumPath
if (executablePath === undefined) {
  fail("chromium not found; install Debian's chromium (apt-get install chromium)")
}

const bundle = await build({
  entryPoints: [join(root, 'test/browser/threads.mjs')],
  bundle: true,
  platform: 'browser',
  format: 'iife',
  write: false,
  logLevel: 'error',
})
const files = {
  '/': {
    type: 'text/html; charset=utf-8',
    body: '<!doctype html><html><head><meta charset="utf-8"><title>backfold threads</title></head><body><script src="/threads.js"></script></body></html>',
  },
  '/threads.js': { type: 'text/javascript; charset=utf-8', body: bundle.outputFiles[0].text },
}

const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
}
const server = createServer((request, response) => {
  const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname
  const file = files[path]
  if (path === '/favicon.ico') {
    response.writeHead(204, isolation).end()
    return
  }
  if (file === undefined) {
    response.writeHead(404, { ...isolation, 'Content-Type': 'text/plain' }).end('not found')
    return
  }
  response.writeHead(200, { ...isolation, 'Content-Type': file.type }).end(file.body)
})
await new Promise((resolve, reject) => {
  server.once('error', reject)
  server.listen(0, '127.0.0.1', resolve)
})
const url = `http://127.0.0.1:${server.address().port}/`

const log = []
let browser
let result
try {
  browser = await chromium.launch({
    executablePath,
    timeout: 30_000,
    args: CHROMIUM_FLAGS,
  })
  const page = await browser.newPage()
  page.on('console', (message) => log.push(`console.${message.type()}: ${message.text()}`))
  page.on('pageerror', (error) => log.push(`page error: ${error.message}`))
  page.on('worker', (worker) => log.push(`worker started: ${worker.url().slice(0, 60)}`))
  await page.goto(url, { waitUntil: 'load', timeout: 15_000 })
  try {
    const handle = await page.waitForFunction(() => globalThis.backfoldThreadsResult, undefined, {
      timeout: RESULT_TIMEOUT_MS,
      polling: 50,
    })
    result = await handle.jsonValue()
  } catch (error) {
    result = { ok: false, error: `no result from the page within ${RESULT_TIMEOUT_MS} ms (${error.message})` }
  }
} catch (error) {
  result = { ok: false, error: `could not run Chromium: ${error.message}` }
} finally {
  await browser?.close().catch(() => undefined)
  server.close()
}

if (result.ok) {
  console.log(
    `browser threads test: ${result.products} float32 matmuls on 2 threads (page + Web Worker) in a ` +
      `cross-origin-isolated page match 1 thread bit for bit, and the worker computed parts of every ` +
      `one (${result.attempts} runs; worker ready after ${result.readyMs} ms; ${result.userAgent})`,
  )
} else {
  fail(result.error, JSON.stringify({ ...result, log }, null, 2))
}
