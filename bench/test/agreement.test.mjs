// node --test bench/test/
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AGREEMENT_TOLERANCE, compareConfigurations } from '../agreement.mjs'

const checks = [['MLP loss at the initial weights', 'mlp', (r) => r.firstLoss]]
const configurations = ['backfold', 'jax-jit', 'tfjs-cpu']
const resultsWith = (losses) => ({
  mlp: Object.fromEntries(configurations.map((f, i) => [f, { firstLoss: losses[i] }])),
})

test('float32 rounding differences agree', () => {
  const [entry] = compareConfigurations(checks, configurations, resultsWith([2.617229, 2.617228, 2.6172285]))
  assert.equal(entry.disagrees, false)
  assert.ok(entry.spread > 0 && entry.spread < AGREEMENT_TOLERANCE)
})

test('a loss off by more than rounding disagrees and names the configuration and the spread', () => {
  const [entry] = compareConfigurations(checks, configurations, resultsWith([2.617229, 2.6, 2.617228]))
  assert.equal(entry.disagrees, true)
  assert.equal(entry.bench, 'mlp')
  assert.equal(entry.lowest.framework, 'jax-jit')
  assert.equal(entry.highest.framework, 'backfold')
  assert.ok(Math.abs(entry.spread - (2.617229 - 2.6) / 2.617229) < 1e-12)
})

test('NaN from one configuration disagrees', () => {
  const [entry] = compareConfigurations(checks, configurations, resultsWith([2.617229, Number.NaN, 2.617229]))
  assert.equal(entry.disagrees, true)
  assert.deepEqual(entry.nonFinite, [{ framework: 'jax-jit', value: Number.NaN }])
})

test('configurations that did not run the case are left out; one value alone cannot disagree', () => {
  const results = resultsWith([2.617229, 9, 2.617229])
  results.mlp['jax-jit'] = { error: 'unsupported' }
  delete results.mlp['tfjs-cpu']
  const [entry] = compareConfigurations(checks, configurations, results)
  assert.deepEqual(entry.values, [2.617229, undefined, undefined])
  assert.equal(entry.spread, undefined)
  assert.equal(entry.disagrees, false)
})

test('equal values agree, zeros included', () => {
  const [entry] = compareConfigurations(checks, configurations, resultsWith([0, 0, 0]))
  assert.equal(entry.spread, 0)
  assert.equal(entry.disagrees, false)
})
