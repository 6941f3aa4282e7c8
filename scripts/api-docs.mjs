// Builds the API reference (TypeDoc, configured by typedoc.json: the entry points of @backfold/tensor,
// @backfold/ops, @backfold/nn and @backfold/nn/node) into out/api, and fails on any warning: a broken
// {@link}, an export without documentation, a referenced type that is not exported.
// `pnpm run docs` runs it; so does the test chain, so the reference always builds.
//
// Usage: node scripts/api-docs.mjs
import { dirname, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as td from 'typedoc'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
process.chdir(root)

const app = await td.Application.bootstrapWithPlugins({ options: resolve(root, 'typedoc.json') }, [
  new td.TypeDocReader(),
  new td.TSConfigReader(),
])
const failed = (stage) => {
  console.error(
    `api-docs: ${stage} gave ${app.logger.errorCount} errors and ${app.logger.warningCount} warnings ` +
      '(above); fix them: every export needs a JSDoc comment and every {@link} a target',
  )
  process.exit(1)
}
if (app.logger.hasErrors() || app.logger.hasWarnings()) failed('reading typedoc.json')
const project = await app.convert()
if (project === undefined || app.logger.hasErrors() || app.logger.hasWarnings())
  failed('converting the sources')
app.validate(project)
if (app.logger.hasErrors() || app.logger.hasWarnings() || app.logger.validationWarningCount > 0)
  failed('validation')
const out = app.options.getValue('out')
await app.generateOutputs(project)
if (app.logger.hasErrors() || app.logger.hasWarnings()) failed('writing the pages')
const documented = project.getReflectionsByKind(td.ReflectionKind.SomeExport).length
console.log(`api-docs: ${documented} documented exports, no warning; open ${relative(root, out)}/index.html`)
