// Prints the closing line of `pnpm test`: vitest's counts plus the checks that run outside it, which
// have passed if this script runs at all. Those checks are counted from the chain itself (the root
// package.json's "test": each `node scripts/<name>.mjs` step but this one and the setup steps, and
// each `node --test` step), so a check added to the chain is counted without editing this file.
import { readFileSync } from 'node:fs'

const SETUP = new Set(['summary', 'ensure-chromium'])
const chain = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts.test
// `node --test <dir>/test/` steps (the benchmark harness's own tests) count as one check each, named
// after the directory.
const checks = [...chain.matchAll(/\bnode (?:scripts\/([\w-]+)\.mjs|--test ([\w-]+)\/test\/?)(?=\s|$)/g)]
  .map(([, script, dir]) => script ?? `${dir}-harness`)
  .filter((name) => !SETUP.has(name))

const results = JSON.parse(readFileSync(new URL('../.vitest-results.json', import.meta.url), 'utf8'))
const passed = results.numPassedTests + checks.length
const failed = results.numFailedTests
const skipped = results.numPendingTests + results.numTodoTests
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
console.log(
  `(vitest's ${results.numPassedTests} and ${checks.length} checks outside it: ${checks.join(', ')})`,
)
