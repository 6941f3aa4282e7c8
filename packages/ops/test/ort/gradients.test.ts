// The gradient table under jit's ONNX Runtime executor: every row's jit(f) and jit(grad(f)) with
// `executor: 'onnxruntime'` must give eager mode's values (float64 as the rows are, and float32),
// or fall back to the wasm executor with a reason naming what stopped it (and still give eager's
// values). Rows of ops this branch lowers must really run on ONNX Runtime in float32.
import { afterAll, describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { executorStatus, grad, jit, mul, sum } from '@backfold/ops'
import { elementwiseRows } from '../rows/elementwise'
import { structuralRows } from '../rows/structural'
import { attentionRows } from '../rows/attention'
import { randomRows } from '../rows/random'
import { matmulEpilogueRows } from '../rows/matmulEpilogue'
import { programRows, reductionProgramRows } from '../rows/program'
import type { GradRow } from '../rows/types'

const rows: ReadonlyArray<GradRow> = [
  ...elementwiseRows,
  ...structuralRows,
  ...attentionRows,
  ...randomRows,
  ...matmulEpilogueRows,
  ...programRows,
  ...reductionProgramRows,
]

/**
 * Ops allowed to fall back in float32: the random ops, whose counter-based generator (Threefry-2x32)
 * ONNX opset 17 cannot express. Every other op of the table must run on ONNX Runtime in float32.
 */
const MAY_FALL_BACK = new Set([
  'randomBits',
  'randomSplit',
  'randomFoldIn',
  'randomUniform',
  'randomNormal',
  'randomTruncatedNormal',
  'randomBernoulli',
])
const mustRun = (op: string): boolean => !MAY_FALL_BACK.has(op)

const toFloat32 = (x: Tensor): Tensor => (x.dtype === 'float64' ? T.astype(x, 'float32') : x)

const expectClose = (actual: Tensor, expected: Tensor, rtol: number, atol: number): void => {
  expect(actual.shape).toEqual(expected.shape)
  expect(actual.dtype).toBe(expected.dtype)
  const a = actual.data
  expected.data.forEach((v, i) => {
    const got = a[i]!
    if (Number.isNaN(v)) expect(got).toBeNaN()
    else if (!Number.isFinite(v)) expect(got).toBe(v)
    else
      expect(Math.abs(got - v), `element ${i}: ${got} vs ${v}`).toBeLessThanOrEqual(atol + rtol * Math.abs(v))
  })
}

/** Rows that fell back, with the reason: printed at the end (the list the report asks for). */
const fellBack: string[] = []
let ranOnOrt = 0

const TOLERANCE = { float64: [1e-9, 1e-12], float32: [2e-4, 2e-5] } as const

describe.each(['float64', 'float32'] as const)('the gradient table on onnxruntime, %s', (precision) => {
  describe.each(rows.map((r) => [`${r.op}: ${r.label}`, r] as const))('%s', (name, row) => {
    const args = precision === 'float64' ? row.args() : row.args().map(toFloat32)
    const [rtol, atol] = TOLERANCE[precision]
    const check = (what: string, f: (...xs: Tensor[]) => Tensor, expected: Tensor): void => {
      const jitted = jit(f, { executor: 'onnxruntime' })
      const actual = jitted(...args)
      const status = executorStatus(jitted)
      expect(status.requested).toBe('onnxruntime')
      if (status.running === 'onnxruntime') ranOnOrt++
      else {
        // A fallback always says why, naming the op (or what ONNX Runtime refused).
        expect(status.reason, `${name} ${what} fell back without a reason`).toMatch(
          /^op \w+|onnxruntime refused|onnxruntime failed/,
        )
        fellBack.push(`${precision} ${name} (${what}): ${status.reason!.slice(0, 160)}`)
        // In float32 a row may fall back only for a random op (in the row or in its gradient).
        const blocker = /^op (\w+)/.exec(status.reason!)?.[1]
        if (precision === 'float32' && mustRun(row.op) && (blocker === undefined || mustRun(blocker)))
          expect.fail(`${name} ${what} must run on onnxruntime in float32 but fell back: ${status.reason}`)
      }
      expectClose(actual, expected, rtol, atol)
    }

    it('jit(f) gives eager values', () => {
      check('jit(f)', row.fn, row.fn(...args))
    })

    const first = args.findIndex((a) => a.dtype !== 'int32')
    const eager = row.fn(...args)
    if (first >= 0 && eager.dtype !== 'int32') {
      it('jit(grad(f)) gives eager gradients', () => {
        const weighting = T.astype(
          T.tensor(Array.from({ length: T.sizeOf(eager.shape) }, (_, i) => Math.sin(i + 1))),
          eager.dtype,
        )
        const loss = (...xs: Tensor[]): Tensor => sum(mul(row.fn(...xs), T.reshape(weighting, eager.shape)))
        const g = grad(loss, { argnums: first })
        check('jit(grad(f))', g, g(...args))
      })
    }
  })
})

afterAll(() => {
  console.log(
    `onnxruntime ran ${ranOnOrt} checks; ${fellBack.length} fell back to wasm:\n${fellBack.join('\n')}`,
  )
})
