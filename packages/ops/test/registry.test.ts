import { readdirSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { registry } from '@backfold/ops'

// The registry is complete by construction only if nothing escapes it: `OpName` is written out in
// registry.ts and the registry's type demands exactly those names, so what is left to check is that
// no op module exports an op the list forgot. Every module of every op folder is loaded here.
const src = fileURLToPath(new URL('../src', import.meta.url))
const opFolders = readdirSync(src, { withFileTypes: true })
  .filter((d) => d.isDirectory() && !['core', 'internal', 'transforms', 'check'].includes(d.name))
  .map((d) => d.name)

const isOp = (value: unknown): value is { readonly name: string } =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { name?: unknown }).name === 'string' &&
  ['forward', 'vjp'].every((rule) => typeof (value as Record<string, unknown>)[rule] === 'function')

const modules = opFolders.flatMap((folder) =>
  readdirSync(join(src, folder))
    .filter((file) => file.endsWith('.ts') && file !== 'index.ts')
    .map((file) => join(src, folder, file)),
)

describe('the op registry', () => {
  it('finds op modules to check', () => {
    expect(modules.length).toBeGreaterThan(60)
  })

  it.each(modules.map((path) => [basename(path), path] as const))(
    '%s: every op it exports is registered under its name, and the file is named after it',
    async (file, path) => {
      const exported = Object.values((await import(path)) as Record<string, unknown>).filter(isOp)
      for (const op of exported) {
        expect(
          Object.prototype.hasOwnProperty.call(registry, op.name),
          `${op.name} is not in the registry`,
        ).toBe(true)
        expect((registry as Record<string, unknown>)[op.name]).toBe(op)
        expect(file).toBe(`${op.name}.ts`)
      }
    },
  )
})
