// Prints the closing line of `pnpm test`: vitest's counts plus the five checks that run outside it
// (the plain-Node smoke test, the two-copies packaging test, the browser test, scripts/browser.mjs:
// three kinds of page, the API reference built with no warning, scripts/api-docs.mjs, and the type
// check of the documentation's code, scripts/check-snippets.mjs), which have passed if this script runs at all.
import { readFileSync } from 'node:fs'

const results = JSON.parse(readFileSync(new URL('../.vitest-results.json', import.meta.url), 'utf8'))
const passed = results.numPassedTests + 5
const failed = results.numFailedTests
const skipped = results.numPendingTests + results.numTodoTests
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
