import { readFileSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Plugin } from 'esbuild'
import { defineConfig, packageConfig } from '../../tsup.base'

// Two builds run side by side, so neither may clean `dist` (one would delete the other's output):
// it is emptied once, here.
rmSync(new URL('./dist', import.meta.url), { recursive: true, force: true })

// `export * as random` (src/index.ts) bundles to a namespace object filled by an esbuild helper call
// (`__export(random_exports, ...)`), which a user's bundler must keep: every bundle of the package
// shipped all of random.ts (13.7 KB minified), used or not. The JavaScript build therefore gets the
// same object written as `/* @__PURE__ */ Object.freeze({ key, split, ... })`, which a bundler drops
// when `random` is unused. Its members are exactly random.ts's value exports, read from esbuild's
// metafile, so the object cannot miss one; types and declarations still come from index.ts itself.
const RANDOM_NAMESPACE = "export * as random from './random'\n"
const indexPath = fileURLToPath(new URL('./src/index.ts', import.meta.url))
const randomPath = fileURLToPath(new URL('./src/random.ts', import.meta.url))
const shakeableRandom: Plugin = {
  name: 'shakeable-random',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]index\.ts$/ }, async (args) => {
      if (args.path !== indexPath) return undefined
      const source = readFileSync(indexPath, 'utf8')
      if (!source.includes(RANDOM_NAMESPACE))
        throw new Error(`tsup.config.ts: src/index.ts no longer reads ${JSON.stringify(RANDOM_NAMESPACE)}`)
      const probe = await build.esbuild.build({
        entryPoints: [randomPath],
        bundle: false,
        write: false,
        metafile: true,
        format: 'esm',
        outdir: 'random-exports',
        logLevel: 'silent',
      })
      const names = Object.values(probe.metafile.outputs).flatMap((output) => output.exports)
      if (names.length === 0) throw new Error('tsup.config.ts: found no export of src/random.ts')
      const replacement =
        `import { ${names.map((name) => `${name} as random_${name}`).join(', ')} } from './random'\n` +
        `export const random = /* @__PURE__ */ Object.freeze({ ${names.map((name) => `${name}: random_${name}`).join(', ')} })\n`
      return {
        contents: source.replace(RANDOM_NAMESPACE, replacement),
        loader: 'ts',
        resolveDir: dirname(indexPath),
      }
    })
  },
}

const base = packageConfig(new URL('./package.json', import.meta.url), { index: 'src/index.ts' })
const main = { ...base, esbuildPlugins: [...(base.esbuildPlugins ?? []), shakeableRandom] }

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
