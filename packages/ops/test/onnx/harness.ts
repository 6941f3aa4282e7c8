// Runs a staged function's ONNX lowering in onnxruntime-node and compares it with eager mode, for
// tests of op lowerings (`Op.onnx`). The model is what the executor runs: `lowerGraph`, each
// equation through its op's rule and the shared encoder. onnxruntime-node is a dev dependency of
// @backfold/nn and its native module loads in one thread per process, so sessions run in a child
// process (./ortProcess.mjs), whatever vitest pool runs this file.
import { fork, type ChildProcess } from 'node:child_process'
import { expect } from 'vitest'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import { makeGraph } from '../../src/staging/graph'
import { OnnxUnsupported } from '../../src/staging/onnx/builder'
import { lowerGraph } from '../../src/staging/onnx/lower'

/** An output as ./ortProcess.mjs sends it back. */
interface OrtOutput {
  readonly type: string
  readonly dims: ReadonlyArray<number>
  readonly data: ReadonlyArray<number>
}
type Reply =
  | { readonly id: number; readonly outputs: Record<string, OrtOutput> }
  | { readonly id: number; readonly error: string }

let child: ChildProcess | undefined
let nextId = 0
const pending = new Map<number, (reply: Reply) => void>()

/** Runs `model` on `feeds` in the ONNX Runtime child process (started on first use). */
const runInChild = (
  model: Uint8Array,
  feeds: Record<string, unknown>,
): Promise<Record<string, OrtOutput>> => {
  if (child === undefined) {
    child = fork(new URL('./ortProcess.mjs', import.meta.url), [], { serialization: 'advanced' })
    child.on('message', (reply: Reply) => {
      pending.get(reply.id)?.(reply)
      pending.delete(reply.id)
    })
    // Neither the process nor its channel keeps the test worker alive.
    child.unref()
    child.channel?.unref()
  }
  const id = nextId++
  return new Promise((resolve, reject) => {
    pending.set(id, (reply) => ('error' in reply ? reject(new Error(reply.error)) : resolve(reply.outputs)))
    child!.send({ id, model, feeds })
  })
}

/** What ONNX Runtime returned for one output: shape, backfold dtype and values. */
export interface OrtResult {
  readonly shape: ReadonlyArray<number>
  readonly dtype: DType
  readonly data: ReadonlyArray<number>
}

const ortTypes: Record<string, DType> = { float32: 'float32', float64: 'float64', int32: 'int32' }

/** `f` staged on `args`, lowered with each op's `onnx` rule and run in onnxruntime-node. */
export const runOnOrt = async (
  f: (...xs: Tensor[]) => Tensor | Tensor[],
  ...args: Tensor[]
): Promise<OrtResult[]> => {
  const graph = makeGraph(f)(...args)
  const model = lowerGraph(graph)
  const feeds: Record<string, unknown> = {}
  args.forEach((x, i) => {
    const data =
      x.dtype === 'float32'
        ? Float32Array.from(x.data)
        : x.dtype === 'float64'
          ? Float64Array.from(x.data)
          : Int32Array.from(x.data)
    feeds[model.inputNames[i]!] = { type: x.dtype, data, dims: [...x.shape] }
  })
  const out = await runInChild(model.bytes, feeds)
  return graph.outputs.map((_, i) => {
    const t = out[model.outputNames[i]!]!
    const dtype = ortTypes[t.type]
    if (dtype === undefined) throw new Error(`output ${i} has ONNX type ${t.type}, not a backfold dtype`)
    return { shape: [...t.dims], dtype, data: t.data }
  })
}

/**
 * Whether `a` and `b` agree: both NaN, two zeros of the same sign, the same infinity, or finite and
 * within `tol` (relative; absolute below 1).
 */
const agree = (a: number, b: number, tol: number): boolean => {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b)
  if (a === 0 && b === 0) return Object.is(a, b)
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b))
}

/**
 * Runs `f` eagerly and on ONNX Runtime and expects every output to have the same shape and dtype
 * and the same values: NaN where eager has NaN, the same sign of zero, others within `tol`
 * (relative, absolute below 1). Returns the ONNX Runtime results.
 */
export const expectSameAsEager = async (
  f: (...xs: Tensor[]) => Tensor | Tensor[],
  args: ReadonlyArray<Tensor>,
  tol = 1e-6,
): Promise<OrtResult[]> => {
  const eager = f(...args)
  const expected = Array.isArray(eager) ? eager : [eager]
  const got = await runOnOrt(f, ...args)
  expect(got.length).toBe(expected.length)
  got.forEach((g, i) => {
    const e = expected[i]!
    expect(g.shape).toEqual([...e.shape])
    expect(g.dtype).toBe(e.dtype)
    const bad: string[] = []
    g.data.forEach((v, j) => {
      const w = e.data[j]!
      if (!agree(v, w, tol)) bad.push(`[${j}] onnx ${v} eager ${w}`)
    })
    expect(bad.slice(0, 8), `output ${i}: ${bad.length} of ${g.data.length} values differ`).toEqual([])
  })
  return got
}

/** The reason `f`'s lowering gives up with (fails the test when it lowers). */
export const unsupportedReason = (f: (...xs: Tensor[]) => Tensor | Tensor[], ...args: Tensor[]): string => {
  try {
    lowerGraph(makeGraph(f)(...args))
  } catch (error) {
    if (error instanceof OnnxUnsupported) return error.reason
    throw error
  }
  throw new Error('the function lowered to ONNX; expected an unsupported marker')
}

export { T }
