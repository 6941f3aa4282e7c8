import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it, vi } from 'vitest'
import type { DuplicatePackageError } from '@backfold/tensor'
import { grad, mul, sum, type Tensor } from '@backfold/ops'
import * as T from '@backfold/tensor'

// Two copies of @backfold/ops in one process (npm nesting another version under a dependent, or
// an ES module build beside a CommonJS one) each number their own trace levels and have their own
// Tracer class: a tracer of one passed through the other's ops as a constant, and the gradient
// came out zero. The second copy now refuses to load. (scripts/two-copies.mjs does the same with
// npm-installed packages.)
const source = fileURLToPath(new URL('../src', import.meta.url))
const copies: string[] = []
afterAll(() => copies.forEach((dir) => rmSync(dir, { recursive: true, force: true })))

describe('a second copy of @backfold/ops', () => {
  it('this copy recorded itself when it loaded', () => {
    const record: unknown = Reflect.get(globalThis, Symbol.for('@backfold/ops'))
    expect(record).toMatchObject({ location: pathToFileURL(join(source, 'core/trace.ts')).href })
  })

  it('the same module evaluated again (a test runner re-running it) loads', async () => {
    vi.resetModules()
    const again = await import('../src/core/trace')
    expect(typeof again.openTrace).toBe('function')
  })

  it('refuses to load from another place, naming both copies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backfold-ops-copy-'))
    copies.push(dir)
    cpSync(source, join(dir, 'src'), { recursive: true })
    const copy = join(dir, 'src/index.ts')
    let thrown: unknown
    try {
      await import(/* @vite-ignore */ pathToFileURL(copy).href)
    } catch (error) {
      thrown = error
    }
    // By kind: after vi.resetModules above, the tensor module that threw is a fresh instance too.
    expect(thrown).toMatchObject({ kind: 'DuplicatePackageError', name: 'DuplicatePackageError' })
    const message = (thrown as DuplicatePackageError).message
    expect(message).toContain('@backfold/ops: two copies loaded in one process')
    expect(message).toContain(pathToFileURL(join(source, 'core/trace.ts')).href)
    expect(message).toContain(pathToFileURL(join(dir, 'src/core/trace.ts')).href)
  })

  it('so gradients keep flowing through the one copy', () => {
    const x = T.tensor([1, 2, 3], 'float64')
    expect(Array.from(grad((v: Tensor) => sum(mul(v, v)))(x).data)).toEqual([2, 4, 6])
  })
})
