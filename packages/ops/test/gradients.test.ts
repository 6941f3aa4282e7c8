import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  referenceBackend,
  setBackend,
  unsafeTensor,
  wasmAvailable,
  wasmBackend,
  type Backend,
  type Tensor,
} from '@backfold/tensor'
import { checkVjp, grad, mul, registry, sum } from '@backfold/ops'
import { elementwiseRows } from './rows/elementwise'
import { structuralRows } from './rows/structural'
import type { GradRow } from './rows/types'

// The one gradient table: every registered op's VJP against central finite differences (dot-product
// test plus the full Jacobian on these small inputs), and second order where a row asks for it.
const rows: ReadonlyArray<GradRow> = [...elementwiseRows, ...structuralRows]

describe('every registered op has a gradient row', () => {
  it('covers the registry', () => {
    const covered = new Set(rows.map((r) => r.op))
    const missing = Object.keys(registry).filter((name) => !covered.has(name))
    expect(missing).toEqual([])
  })
  it('registry keys are the ops own names', () => {
    for (const [key, op] of Object.entries(registry)) expect(op.name).toBe(key)
  })
})

// The table runs on every backend. The WebAssembly backend accelerates float32 kernels and hands
// float64 to the reference loops, so here it proves the dispatch; its float32 kernels are
// cross-checked against the reference in packages/tensor/test/wasm.
const backends: ReadonlyArray<readonly [string, Backend]> = [
  ['reference', referenceBackend],
  ...(wasmAvailable() ? [['wasm', wasmBackend] as const] : []),
]

describe.each(backends)('on the %s backend', (_backendName, backend) => {
  beforeAll(() => setBackend(backend))
  afterAll(() => setBackend(undefined))

  describe.each(rows.map((r) => [`${r.op}: ${r.label} (${r.domain})`, r] as const))('%s', (_name, row) => {
    it('VJP matches finite differences', () => {
      const report = checkVjp(row.fn, row.args(), {
        ...(row.tolerance === undefined ? {} : { tolerance: row.tolerance }),
        ...(row.secondOrder === false ? { secondOrder: false } : {}),
      })
      expect(report.ok, report.message).toBe(true)
    })
    if (row.secondOrder === true) {
      it('second order: the VJP of the gradient matches finite differences of the gradient', () => {
        const args = row.args()
        // A fixed random weighting makes the output scalar without symmetry that could hide errors.
        const weights = row.fn(...args)
        const w = Float64Array.from(weights.data, (_, i) => Math.sin(i + 1))
        const weighting = unsafeTensor('float64', weights.shape, w)
        const scalarized = (...xs: Tensor[]): Tensor => sum(mul(row.fn(...xs), weighting))
        // Differentiate twice with respect to the first float argument (int32 ones are masks or indices).
        const first = args.findIndex((a) => a.dtype !== 'int32')
        const gradientOfFirst = (...xs: Tensor[]): Tensor => grad(scalarized, { argnums: first })(...xs)
        const report = checkVjp(gradientOfFirst, args, { argnums: [first], tolerance: row.tolerance ?? 1e-5 })
        expect(report.ok, report.message).toBe(true)
      })
    }
  })
})
