// The one tsup configuration of the three packages; each package's tsup.config.ts names its entries.
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import type { Plugin } from 'esbuild'
import { defineConfig, type Options } from 'tsup'

// One instance per process: a CommonJS caller gets the ES module build itself (require(esm), which
// Node >= 20.19, our engines floor, does natively), never a second copy of the code with its own
// state. tsup still builds the cjs format for its .d.cts declarations; its JavaScript is replaced.
const cjsReexportsEsm = (name: string): string =>
  "'use strict'\n" +
  '// The ES module build is the package; see tsup.base.ts (one instance per process).\n' +
  `module.exports = require('./${name}.js')\n`

// fp-ts's CommonJS build (`fp-ts/lib/*`, which the sources import because Node cannot load its ES
// build) is opaque to bundlers: a user who needs `left` and `right` ships all of fp-ts/lib/Either and
// its imports (27 KB minified). Bundled from fp-ts's ES build instead, only the functions used stay.
// Types still come from fp-ts (a dependency), so our Either is fp-ts's Either.
const fpTsEsm: Plugin = {
  name: 'fp-ts-esm',
  setup(build) {
    build.onResolve({ filter: /^fp-ts\/lib\// }, async (args) => {
      const es6 = args.path.replace(/^fp-ts\/lib\//, 'fp-ts/es6/')
      const resolved = await build.resolve(es6, { resolveDir: args.resolveDir, kind: args.kind })
      return resolved.errors.length > 0 ? { errors: resolved.errors } : { path: resolved.path }
    })
  },
}

/** The build of one package: `packageJsonUrl` gives its version, `entry` its entry points. */
export const packageConfig = (packageJsonUrl: URL, entry: Readonly<Record<string, string>>): Options => {
  const packageJson: unknown = JSON.parse(readFileSync(packageJsonUrl, 'utf8'))
  const version =
    typeof packageJson === 'object' && packageJson !== null && 'version' in packageJson
      ? String(packageJson.version)
      : 'unknown'
  return {
    entry: { ...entry },
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'es2022',
    treeshake: true,
    // The version a loaded copy reports (claimSingleCopy): in the message naming two copies.
    define: { __BACKFOLD_VERSION__: JSON.stringify(version) },
    noExternal: [/^fp-ts\//],
    esbuildPlugins: [fpTsEsm],
    esbuildOptions: (options, { format }) => {
      // The cjs JavaScript is discarded (above), so its empty import.meta does not matter.
      if (format === 'cjs') options.logOverride = { ...options.logOverride, 'empty-import-meta': 'silent' }
    },
    onSuccess: async () => {
      for (const name of Object.keys(entry)) {
        writeFileSync(`dist/${name}.cjs`, cjsReexportsEsm(name))
        rmSync(`dist/${name}.cjs.map`, { force: true })
      }
    },
  }
}

export { defineConfig }
