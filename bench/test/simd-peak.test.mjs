// node --test bench/test/
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hasRelaxedSimd, peakModule } from '../simd-peak.mjs'

// The limit counts 8 FLOP per accumulator per iteration (one f32x4 mul and one f32x4 add): check that
// the generated loop really does K multiply-adds per iteration, reading K distinct rows.
test('the peak loop adds x · row[k] into each of its K accumulators once per iteration', () => {
  // The fused (relaxed_madd) loops only where the engine has relaxed SIMD (node --experimental-wasm-relaxed-simd, Node 22+).
  for (const [k, fma] of [4, 6, 10, 14].flatMap((k) =>
    hasRelaxedSimd()
      ? [
          [k, false],
          [k, true],
        ]
      : [[k, false]],
  )) {
    const { run, memory } = new globalThis.WebAssembly.Instance(
      new globalThis.WebAssembly.Module(peakModule(k, { fma })),
    ).exports
    // Row k of every buffer slot holds k + 1 in each lane; x is 1, so after n iterations
    // accumulator k holds n·(k + 1) and lane 0 of their sum n·K(K + 1)/2.
    const f32 = new Float32Array(memory.buffer)
    for (let slot = 0; slot < 32; slot++)
      for (let row = 0; row < k; row++) f32.fill(row + 1, (slot * k + row) * 4, (slot * k + row + 1) * 4)
    assert.equal(run(100), (100 * k * (k + 1)) / 2)
  }
})

test('every variant is a valid WebAssembly module', () => {
  for (const k of [4, 6, 8, 10, 12, 14]) assert.ok(globalThis.WebAssembly.validate(peakModule(k)))
})
