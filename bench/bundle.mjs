// Bundles the tensor and ops sources of a source tree (this checkout, or another commit's tree
// exported with `git archive <commit> | tar -x -C <dir>`) into one ES module exporting `T` and `O`,
// for BACKFOLD_BUNDLE in bench/executor.mjs: before/after measurements without building packages.
// Usage: node bench/bundle.mjs <tree> <out.mjs>
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { build } from 'esbuild'

const [tree = '.', out = '/tmp/backfold-bundle.mjs'] = process.argv.slice(2)
const root = resolve(tree)
const entry = `${out}.entry.ts`
writeFileSync(
  entry,
  `export * as T from '${root}/packages/tensor/src/index.ts'\nexport * as O from '${root}/packages/ops/src/index.ts'\n`,
)
await build({
  entryPoints: [entry],
  bundle: true,
  format: 'esm',
  platform: 'node',
  outfile: out,
  alias: { '@backfold/tensor': `${root}/packages/tensor/src/index.ts` },
  nodePaths: [
    resolve('node_modules'),
    resolve('packages/ops/node_modules'),
    resolve('packages/tensor/node_modules'),
  ],
  logLevel: 'warning',
})
console.log(out)
