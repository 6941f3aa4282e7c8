import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Plugin } from 'esbuild'
import { defineConfig, packageConfig } from '../../tsup.base'

// Two builds run side by side, so neither may clean `dist` (one would delete the other's output):
// it is emptied once, here.
rmSync(new URL('./dist', import.meta.url), { recursive: true, force: true })

const main = packageConfig(new URL('./package.json', import.meta.url), { index: 'src/index.ts' })

// The whole package again, whose automatic backend choice is the reference backend: `./automatic`
// resolves to `src/automatic.reference.ts`, which imports nothing of the WebAssembly backend.
// package.json's `backfold-reference` export condition points `@backfold/tensor` at it, for every
// importer of the bundle (ops and nn too), so a process or bundle still loads one copy.
const referenceAutomatic: Plugin = {
  name: 'reference-automatic',
  setup(build) {
    build.onResolve({ filter: /^\.\/automatic$/ }, () => ({
      path: fileURLToPath(new URL('./src/automatic.reference.ts', import.meta.url)),
    }))
  },
}

export default defineConfig([
  { ...main, clean: false },
  {
    ...main,
    entry: { 'reference/index': 'src/index.ts' },
    format: ['esm'],
    // Its types are the main build's (the same API): package.json points the condition at them.
    dts: false,
    clean: false,
    esbuildPlugins: [...(main.esbuildPlugins ?? []), referenceAutomatic],
    onSuccess: undefined,
  },
])
