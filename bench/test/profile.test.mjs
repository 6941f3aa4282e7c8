// node --test bench/test/ (after a build: the profile runs on the built packages)
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { profileGraph } from '../cases/profile.mjs'

test("a staged graph's profile counts every equation once and the products' FLOP from their shapes", async () => {
  const T = await import('@backfold/tensor')
  const O = await import('@backfold/ops')
  const f = O.jit((x, w) => O.sum(O.tanh(O.matmul(x, w, { transposeA: true }))))
  f(T.zeros([5, 3]), T.zeros([5, 4])) // xᵀ·w: [3, 5]·[5, 4], 2·3·4·5 FLOP
  const graph = f.stats().lastGraph
  const profile = profileGraph(T, graph, { rounds: 2 })
  assert.equal(profile.equations, graph.equations.length)
  assert.equal(
    profile.byOp.reduce((n, e) => n + e.count, 0),
    graph.equations.length,
  )
  const products = profile.byOp.filter((e) => e.op === 'matmul' || e.op === 'matmulEpilogue')
  assert.equal(Math.round(products.reduce((a, e) => a + e.gflop, 0) * 1e9), 2 * 3 * 4 * 5)
  assert.ok(Math.abs(profile.byOp.reduce((a, e) => a + e.share, 0) - 1) < 1e-9)
})
