import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'

// Worker threads are started from eval'd source; by default they inherit the process's flags
// (execArgv), and under `node --input-type=module -e …` that flag turned the worker's program into
// a module without `require`, so no worker ever started while threadPoolStatus showed nothing wrong.
// This runs the package (bundled from its sources) exactly that way, in a child process.

const source = fileURLToPath(new URL('../../src/index.ts', import.meta.url))
let dir = ''
let bundle = ''

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'backfold-worker-start-'))
  bundle = join(dir, 'tensor.mjs')
  await build({
    entryPoints: [source],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: bundle,
    logLevel: 'error',
  })
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs `code` (which imports the bundle as `T`) under the given flags; returns its printed JSON. */
const runChild = (flags: ReadonlyArray<string>, code: string): unknown => {
  const program = `import * as T from ${JSON.stringify(pathToFileURL(bundle).href)}\n${code}`
  const child = spawnSync(process.execPath, [...flags, '-e', program], { encoding: 'utf8', timeout: 60_000 })
  expect({ status: child.status, stderr: child.stderr }).toEqual({ status: 0, stderr: '' })
  return JSON.parse(child.stdout)
}

const pooledProduct = `
T.setThreads(2)
const a = T.fromFlat(new Float32Array(256 * 256).map((_, i) => Math.sin(i)), [256, 256])
if (a._tag === 'Left') throw new Error(a.left.message)
T.matmul(a.right, a.right)
for (let waited = 0; waited < 10_000; waited += 10) {
  const s = T.threadPoolStatus()
  if (s.readyWorkers > 0 || s.failedWorkers > 0) break
  await new Promise((resolve) => setTimeout(resolve, 10))
}
const before = T.threadPoolStatus().parallelJobs
for (let i = 0; i < 20; i++) T.matmul(a.right, a.right)
console.log(JSON.stringify({ ...T.threadPoolStatus(), jobs: T.threadPoolStatus().parallelJobs - before }))
`

describe('worker threads under node --input-type=module -e', () => {
  it('start and take part in products (they do not inherit execArgv)', () => {
    const status = runChild(['--input-type=module'], pooledProduct)
    expect(status).toMatchObject({ threads: 2, workers: 1, readyWorkers: 1, failedWorkers: 0, jobs: 20 })
    expect(status).not.toHaveProperty('reason')
  })
})
