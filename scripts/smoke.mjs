// Proves the BUILT packages load in plain Node (ESM and CJS), outside vitest, and compute.
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import assert from 'node:assert/strict'

const require = createRequire(import.meta.url)
const T = await import('@backfold/tensor')
const O = await import('@backfold/ops')
const N = await import('@backfold/nn')

const a = T.tensor([
  [1, 2],
  [3, 4],
])
assert.deepEqual(T.toArray(T.matmul(a, a)), [7, 10, 15, 22])

const g = O.grad((x) => O.sum(O.mul(x, x)))(T.tensor([1, 2, 3]))
assert.deepEqual(T.toArray(g), [2, 4, 6])

const model = N.layers.sequential(N.layers.dense(3), N.layers.relu(), N.layers.dense(2))
const init = model.init(T.random.key(0), [4])
assert.equal(init._tag, 'Right')
assert.deepEqual(init.right.outShape, [2])

const NN = await import('@backfold/nn/node')
const esmBuilds = { '@backfold/tensor': T, '@backfold/ops': O, '@backfold/nn': N, '@backfold/nn/node': NN }
for (const [name, esm] of Object.entries(esmBuilds)) {
  const cjs = require(name)
  assert.ok(Object.keys(cjs).length > 0, `${name} (CommonJS) exports nothing`)
  // One instance per process: require gives the ES module itself, not a second copy with its own
  // trace levels, Tracer class and backend settings.
  assert.equal(cjs, esm, `${name}: require and import load two different copies`)
}
// A raw kernel on a traced value throws instead of silently giving a zero gradient.
assert.throws(
  () => O.grad((x) => O.sum(T.mul(x, x)))(T.tensor([1, 2, 3])),
  (error) => error.kind === 'TraceError' && /^mul: /.test(error.message),
)
// The default build chooses WebAssembly where it can run.
assert.match(import.meta.resolve('@backfold/tensor'), /\/tensor\/dist\/index\.js$/)
assert.equal(T.getBackend().name, T.wasmAvailable() ? 'wasm' : 'reference')

// Under the `backfold-reference` export condition every importer (ops and nn too) gets the build
// whose automatic choice is the reference backend: one copy, in ESM and CJS, and it computes.
const referenceRun = `
import { createRequire } from 'node:module'
import assert from 'node:assert/strict'
const require = createRequire(import.meta.url)
assert.match(import.meta.resolve('@backfold/tensor'), /\\/tensor\\/dist\\/reference\\/index\\.js$/)
const T = await import('@backfold/tensor')
const O = await import('@backfold/ops')
const N = await import('@backfold/nn')
assert.equal(require('@backfold/tensor'), T, 'require and import load two different copies')
assert.equal(require('@backfold/ops'), O)
assert.equal(T.getBackend().name, 'reference')
const status = T.backendStatus()
assert.equal(status.chosenBy, 'automatic')
assert.match(status.wasmUnavailable, /backfold-reference/)
const g = O.grad((x) => O.sum(O.mul(x, x)))(T.tensor([1, 2, 3]))
assert.deepEqual(T.toArray(g), [2, 4, 6])
const init = N.layers.dense(2).init(T.random.key(0), [3])
assert.deepEqual(init.right.outShape, [2])
T.setBackend(T.wasmBackend)
assert.equal(T.getBackend().name, 'wasm')
assert.deepEqual(T.toArray(T.matmul(T.tensor([[1, 2], [3, 4]]), T.tensor([[1, 2], [3, 4]]))), [7, 10, 15, 22])
`
execFileSync(
  process.execPath,
  ['--conditions=backfold-reference', '--input-type=module', '--eval', referenceRun],
  { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: 'inherit' },
)
console.log(
  'smoke: built ESM and CJS packages load in plain Node as one instance and compute (also under backfold-reference)',
)
