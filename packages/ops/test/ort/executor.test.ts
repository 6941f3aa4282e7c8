// jit's executor option: ONNX Runtime when it can, the wasm executor with a stated reason when it
// cannot (a missing or broken onnxruntime-node, simulated with setOnnxRuntimeLoader or the
// BACKFOLD_ONNXRUNTIME environment variable; an op without a lowering), a thrown error with
// `fallback: false`, and the process-wide default.
import { afterEach, describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import {
  TraceError,
  applyOp,
  batchElementwise,
  defineOp,
  executorStatus,
  exp,
  getDefaultExecutor,
  jit,
  matmul,
  sameAsInput,
  setDefaultExecutor,
  setOnnxRuntimeLoader,
  sum,
  tanh,
} from '@backfold/ops'

const f = (x: Tensor, w: Tensor): Tensor => sum(tanh(matmul(x, w)), { axis: 1 })
const x = T.tensor([
  [0.5, -1, 2],
  [1, 0.25, -0.5],
])
const w = T.tensor([
  [0.1, 0.2],
  [-0.3, 0.4],
  [0.5, -0.6],
])
/** f's value from the formula: Σ_j tanh(Σ_k x[i,k] w[k,j]). */
const expected = [0, 1].map((i) =>
  [0, 1].reduce(
    (s, j) => s + Math.tanh([0, 1, 2].reduce((t, k) => t + x.data[i * 3 + k]! * w.data[k * 2 + j]!, 0)),
    0,
  ),
)
const expectValues = (y: Tensor): void => y.data.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5))

afterEach(() => {
  setOnnxRuntimeLoader(undefined)
  setDefaultExecutor('wasm')
  delete process.env['BACKFOLD_ONNXRUNTIME']
})

describe("jit(f, { executor: 'onnxruntime' })", () => {
  it('runs on onnxruntime, one session per signature, reused by later calls', () => {
    const jf = jit(f, { executor: 'onnxruntime' })
    expectValues(jf(x, w))
    expect(jf.stats().lastRun).toBe('onnxruntime')
    const status = executorStatus(jf)
    expect(status).toMatchObject({ requested: 'onnxruntime', running: 'onnxruntime' })
    expect(status.reason).toBeUndefined()
    expect(status.sessionCreateMs).toBeGreaterThan(0)
    expectValues(jf(x, w))
    expect(jf.stats()).toMatchObject({ traces: 1, hits: 1 })
    expect(executorStatus().onnxruntime).toEqual({ available: true, version: '1.23.2' })
  })

  it('a missing onnxruntime-node: wasm, with the loader’s message as the reason', () => {
    setOnnxRuntimeLoader(() => {
      throw new Error('Cannot find module onnxruntime-node')
    })
    const jf = jit(f, { executor: 'onnxruntime' })
    expectValues(jf(x, w))
    expect(jf.stats().lastRun).not.toBe('onnxruntime')
    expect(executorStatus(jf)).toEqual({
      requested: 'onnxruntime',
      running: 'wasm',
      reason: 'onnxruntime-node could not be loaded: Cannot find module onnxruntime-node',
    })
    expect(executorStatus().onnxruntime).toEqual({
      available: false,
      reason: 'onnxruntime-node could not be loaded: Cannot find module onnxruntime-node',
    })
  })

  it('a broken onnxruntime-node (no session class): wasm, with the reason; fallback: false throws it', () => {
    setOnnxRuntimeLoader(() => ({ version: '1.23.2' }) as never)
    const jf = jit(f, { executor: 'onnxruntime' })
    expectValues(jf(x, w))
    expect(executorStatus(jf).reason).toMatch(/could not be loaded: the loader returned no InferenceSession/)
    const strict = jit(f, { executor: 'onnxruntime', fallback: false })
    expect(() => strict(x, w)).toThrow(TraceError)
    expect(() => strict(x, w)).toThrow(
      /^jit: function f asked for executor 'onnxruntime' with fallback: false, but onnxruntime-node could not be loaded/,
    )
  })

  it('BACKFOLD_ONNXRUNTIME=off turns it off, with that reason', () => {
    process.env['BACKFOLD_ONNXRUNTIME'] = 'off'
    const jf = jit(f, { executor: 'onnxruntime' })
    expectValues(jf(x, w))
    expect(executorStatus(jf).reason).toBe('disabled by the environment variable BACKFOLD_ONNXRUNTIME=off')
  })

  it('a user op without an onnx rule: wasm, the reason naming the op', () => {
    const myExpOp = defineOp<'myExp', [Tensor]>({
      name: 'myExp',
      forward: ([v]) => T.exp(v),
      vjp: (ct) => [ct],
      batch: batchElementwise,
      abstract: sameAsInput,
    })
    const g = (v: Tensor): Tensor => exp(applyOp(myExpOp, [v], undefined))
    const jg = jit(g, { executor: 'onnxruntime' })
    const y = jg(T.tensor([0, 1]))
    y.data.forEach((v, i) => expect(v).toBeCloseTo([Math.E, Math.exp(Math.E)][i]!, 5))
    expect(executorStatus(jg).reason).toBe('op myExp has no ONNX lowering (its defineOp has no `onnx` rule)')
    expect(() => jit(g, { executor: 'onnxruntime', fallback: false })(T.tensor([0, 1]))).toThrow(
      /op myExp has no ONNX lowering/,
    )
  })

  it('setDefaultExecutor: jit without an executor follows it from the next call on; an explicit option wins', () => {
    const jf = jit(f)
    const pinned = jit(f, { executor: 'wasm' })
    expectValues(jf(x, w))
    expect(executorStatus(jf)).toEqual({ requested: 'wasm', running: 'wasm' })
    setDefaultExecutor('onnxruntime')
    expect(getDefaultExecutor()).toBe('onnxruntime')
    expectValues(jf(x, w))
    expectValues(pinned(x, w))
    expect(executorStatus(jf)).toMatchObject({ requested: 'onnxruntime', running: 'onnxruntime' })
    expect(executorStatus(pinned)).toEqual({ requested: 'wasm', running: 'wasm' })
    expect(() => setDefaultExecutor('gpu' as never)).toThrow(/executor must be 'wasm' or 'onnxruntime'/)
    expect(() => jit(f, { executor: 'gpu' as never })).toThrow(/executor/)
  })

  it('a new thread count makes a new session with that many intra-op threads', () => {
    const jf = jit(f, { executor: 'onnxruntime' })
    const before = T.getThreads()
    try {
      jf(x, w)
      const first = executorStatus(jf).sessionCreateMs
      T.setThreads(before === 1 ? 2 : 1)
      expectValues(jf(x, w))
      expect(executorStatus(jf).running).toBe('onnxruntime')
      expect(executorStatus(jf).sessionCreateMs).not.toBe(first)
    } finally {
      T.setThreads(before)
    }
  })
})
