import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { referenceBackend, setBackend, wasmAvailable, wasmBackend, type Backend } from '@backfold/tensor'
import { checkVjp, registry } from '@backfold/ops'
import { elementwiseRows } from './rows/elementwise'
import { structuralRows } from './rows/structural'
import type { GradRow } from './rows/types'

// The one gradient table: every registered op's VJP against central finite differences (dot-product
// test plus the full Jacobian on these small inputs), and second order (the VJP differentiated) by
// the same checkVjp call, once per row and backend.
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
    // One mechanism for both orders: checkVjp's second-order check differentiates the VJP itself
    // (with respect to every float argument and the cotangent). A row that claims second order
    // forces it, whatever the input size; a row that disclaims it turns it off; the others get
    // checkVjp's default (on for small inputs).
    it(
      row.secondOrder === true
        ? 'VJP and its derivative match finite differences'
        : 'VJP matches finite differences',
      () => {
        const report = checkVjp(row.fn, row.args(), {
          ...(row.tolerance === undefined ? {} : { tolerance: row.tolerance }),
          ...(row.secondOrder === undefined ? {} : { secondOrder: row.secondOrder }),
        })
        expect(report.ok, report.message).toBe(true)
        if (row.secondOrder === true) expect(report.secondOrder?.outcome).toBe('compared')
        if (row.secondOrder === false) expect(report.secondOrder).toBeUndefined()
      },
    )
  })
})
