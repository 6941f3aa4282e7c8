// The web example's static server (node:http, no dependency): bundles examples/web/main.mjs with
// esbuild against the BUILT packages (`pnpm run build` first; fp-ts and the packages resolve
// through examples/node_modules) and serves the page, its script, the digits data and the data's
// attribution. Used by `pnpm run web` (scripts/web.mjs) and the browser test (scripts/web-test.mjs).
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const example = join(root, 'examples/web')

/** The page's script: one ES module with backfold and fp-ts inside. Throws when it cannot be built. */
export const bundleWebExample = async () => {
  const bundle = await build({
    entryPoints: [join(example, 'main.mjs')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'error',
    // Not the repository's tsconfig.json, whose `paths` map @backfold/* to the TypeScript sources:
    // the page runs the built packages, as a user's bundle would.
    tsconfigRaw: '{}',
    metafile: true,
  })
  const sources = Object.keys(bundle.metafile.inputs).filter((path) => /packages\/[^/]+\/src\//.test(path))
  if (sources.length > 0)
    throw new Error(
      `the web example's bundle took package sources instead of the built packages: ${sources.join(', ')}`,
    )
  return bundle.outputFiles[0].text
}

/**
 * Starts the server on 127.0.0.1 (port 0: any free port) and resolves with its URL and a `close`.
 * @param {{ port?: number }} [options]
 */
export const startWebServer = async ({ port = 0 } = {}) => {
  const script = await bundleWebExample()
  // path → [content type, body]; everything else is a 404
  const files = new Map([
    ['/', ['text/html; charset=utf-8', readFileSync(join(example, 'index.html'))]],
    ['/main.js', ['text/javascript; charset=utf-8', script]],
    ['/data/digits.csv.gz', ['application/gzip', readFileSync(join(root, 'data/digits/digits.csv.gz'))]],
    ['/data/README.md', ['text/plain; charset=utf-8', readFileSync(join(root, 'data/digits/README.md'))]],
  ])
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname
    const file = files.get(path === '/index.html' ? '/' : path)
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed')
    } else if (file === undefined) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found')
    } else {
      response.writeHead(200, { 'Content-Type': file[0], 'Cache-Control': 'no-store' })
      response.end(request.method === 'HEAD' ? undefined : file[1])
    }
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}
