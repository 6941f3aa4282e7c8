// Every ```ts program of docs/custom-layers.md runs as written (each is a complete module; they
// throw on any Left or failed checkVjp). The snippets are written next to this file so that their
// imports resolve as in the package (fp-ts, io-ts), run, and removed.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it, vi } from 'vitest'

const here = dirname(fileURLToPath(import.meta.url))
const guide = readFileSync(join(here, '..', '..', '..', 'docs', 'custom-layers.md'), 'utf8')
const snippets = [...guide.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!)
const dir = join(here, '.docs-snippets')

describe('docs/custom-layers.md', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('has the four programs of the guide', () => {
    expect(snippets.length).toBe(4)
  })

  it.each(snippets.map((code, i) => [i + 1, code] as const))('program %i runs', async (i, code) => {
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `program-${i}.ts`)
    writeFileSync(file, code)
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined)
    try {
      await import(pathToFileURL(file).href)
    } finally {
      log.mockRestore()
    }
  })
})
