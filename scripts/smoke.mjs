// Proves the BUILT packages load in plain Node (ESM and CJS), outside vitest, and compute.
import { createRequire } from 'node:module'
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
console.log('smoke: built ESM and CJS packages load in plain Node as one instance and compute')
