// The browser test: bundles test/browser/xor.mjs against the BUILT packages for the browser platform,
// runs it in headless Chromium (Debian's `chromium`) and checks that XOR was learned.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { CHROMIUM_FLAGS, chromiumPath } from './chromium.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const chromium = chromiumPath
if (chromium === undefined) {
  console.error("browser test: chromium not found; install Debian's chromium (apt-get install chromium)")
  console.log('0 passed, 1 failed')
  process.exit(1)
}

const bundle = await build({
  entryPoints: [join(root, 'test/browser/xor.mjs')],
  bundle: true,
  platform: 'browser',
  format: 'iife',
  write: false,
  logLevel: 'error',
})
const dir = mkdtempSync(join(tmpdir(), 'backfold-browser-'))
const page = join(dir, 'xor.html')
const script = bundle.outputFiles[0].text.replaceAll('</script', '<\\/script')
writeFileSync(page, `<!doctype html><html><body><script>${script}</script></body></html>`)

const dom = execFileSync(
  chromium,
  [
    ...CHROMIUM_FLAGS,
    '--no-first-run',
    `--user-data-dir=${join(dir, 'profile')}`,
    '--dump-dom',
    `file://${page}`,
  ],
  { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] },
)
const match = /<pre id="result">([\s\S]*?)<\/pre>/.exec(dom)
const decode = (s) =>
  s.replaceAll('&quot;', '"').replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&')
const result = match ? JSON.parse(decode(match[1])) : { ok: false, error: 'no result in the page' }
if (result.ok && result.accuracy === 1 && result.loss < 0.1) {
  console.log(
    `browser test: XOR learned in headless Chromium (loss ${result.loss.toFixed(4)}, ${result.userAgent})`,
  )
} else {
  console.error('browser test failed:', JSON.stringify(result, null, 2))
  console.log('0 passed, 1 failed')
  process.exit(1)
}
