// Runs a staged function's ONNX lowering in onnxruntime-node and compares it with eager mode, for
// tests of op lowerings (`Op.onnx`). Self-contained: it builds the ModelProto with onnx-proto (the
// protobufjs encoding generated from ONNX's schema, independent of backfold's own encoder) and runs
// it in a fresh ONNX Runtime session. Both packages are dev dependencies of @backfold/nn, so they
// are resolved from there. onnxruntime-node's native module loads in one thread per process, so
// sessions run in a child process (./ortProcess.mjs), whatever vitest pool runs this file.
import { fork, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { expect } from 'vitest'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import { makeGraph, type Graph } from '../../src/staging/graph'
import type { OnnxAttribute, OnnxAttributes, OnnxBuilder, OnnxDType } from '../../src/staging/onnx/builder'
import { OnnxUnsupported } from '../../src/staging/onnx/builder'

const nnRequire = createRequire(new URL('../../../nn/package.json', import.meta.url))

// The member of onnx-proto used here (it is not a dependency of @backfold/ops, so its own types do
// not resolve from this file).
interface ProtoModule {
  readonly onnx: {
    readonly ModelProto: {
      encode(m: unknown): { finish(): Uint8Array }
    }
  }
}
const proto = nnRequire('onnx-proto') as ProtoModule

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

/** `TensorProto.DataType` of each dtype a lowering writes. */
const dataType: Record<OnnxDType, number> = { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 }

const rawBytes = (values: ReadonlyArray<number>, dtype: OnnxDType): Uint8Array => {
  const width = dtype === 'float64' || dtype === 'int64' ? 8 : dtype === 'bool' ? 1 : 4
  const bytes = new Uint8Array(values.length * width)
  const view = new DataView(bytes.buffer)
  values.forEach((v, i) => {
    if (dtype === 'float32') view.setFloat32(i * 4, v, true)
    else if (dtype === 'float64') view.setFloat64(i * 8, v, true)
    else if (dtype === 'int32') view.setInt32(i * 4, v, true)
    else if (dtype === 'int64') view.setBigInt64(i * 8, BigInt(v), true)
    else view.setUint8(i, v ? 1 : 0)
  })
  return bytes
}

const attribute = (name: string, value: OnnxAttribute): Record<string, unknown> => {
  if (typeof value === 'number') return { name, type: 2, i: value }
  if (typeof value === 'string') return { name, type: 3, s: new TextEncoder().encode(value) }
  if (Array.isArray(value)) return { name, type: 7, ints: value }
  if ('float' in value) return { name, type: 1, f: value.float }
  if ('floats' in value) return { name, type: 6, floats: value.floats }
  throw new Error(`attribute ${name}: unknown value`)
}

/** An `OnnxBuilder` writing protobufjs objects; `graphNodes` and `initializers` are the graph's. */
class TestBuilder implements OnnxBuilder {
  readonly opset = 17
  readonly graphNodes: Record<string, unknown>[] = []
  readonly initializers: Record<string, unknown>[] = []
  private count = 0

  fresh(prefix: string): string {
    return `${prefix}_${this.count++}`
  }

  node(opType: string, inputs: ReadonlyArray<string>, attributes?: OnnxAttributes): string {
    return this.nodes_(opType, inputs, 1, attributes)[0]!
  }

  nodes(
    opType: string,
    inputs: ReadonlyArray<string>,
    outputs: number,
    attributes?: OnnxAttributes,
  ): string[] {
    return this.nodes_(opType, inputs, outputs, attributes)
  }

  private nodes_(
    opType: string,
    inputs: ReadonlyArray<string>,
    outputs: number,
    attributes: OnnxAttributes = {},
  ): string[] {
    const output = Array.from({ length: outputs }, () => this.fresh(opType))
    this.graphNodes.push({
      name: this.fresh(`n_${opType}`),
      opType,
      input: [...inputs],
      output,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    })
    return output
  }

  constant(values: number | ReadonlyArray<number>, dtype: OnnxDType, shape?: ReadonlyArray<number>): string {
    const flat = typeof values === 'number' ? [values] : [...values]
    const dims = shape ?? (typeof values === 'number' ? [] : [flat.length])
    const name = this.fresh('const')
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: dataType[dtype],
      rawData: rawBytes(flat, dtype),
    })
    return name
  }

  scalar(value: number, dtype: OnnxDType): string {
    return this.constant(value, dtype)
  }

  int64s(values: ReadonlyArray<number>): string {
    return this.constant(values, 'int64')
  }

  cast(x: string, from: OnnxDType, dtype: OnnxDType): string {
    return from === dtype ? x : this.node('Cast', [x], { to: dataType[dtype] })
  }

  unsupported(reason: string): never {
    throw new OnnxUnsupported(reason)
  }
}

const valueInfo = (name: string, dtype: DType, shape: ReadonlyArray<number>) => ({
  name,
  type: { tensorType: { elemType: dataType[dtype], shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
})

/** The ONNX model of `graph`, each equation through its op's `onnx` rule. */
export const lowerForTest = (graph: Graph): Uint8Array => {
  const b = new TestBuilder()
  const names = new Map<number, string>()
  graph.inputs.forEach((v, i) => names.set(v.id, `input_${i}`))
  for (const c of graph.constants)
    names.set(c.variable.id, b.constant(Array.from(c.value.data), c.value.dtype, c.value.shape))
  for (const eq of graph.equations) {
    const lower = eq.op.onnx as
      ((b: OnnxBuilder, inputs: ReadonlyArray<string>, p: unknown, avals: unknown) => string) | undefined
    if (lower === undefined) throw new Error(`op ${eq.op.name} has no ONNX lowering`)
    const out = lower(
      b,
      eq.inputs.map((v) => names.get(v.id)!),
      eq.params,
      {
        inputs: eq.inputs.map((v) => ({ shape: v.shape, dtype: v.dtype })),
        output: { shape: eq.output.shape, dtype: eq.output.dtype },
      },
    )
    names.set(eq.output.id, out)
  }
  // Each graph output gets its own name (an Identity), so an output may be an input or repeat.
  const outputs = graph.outputs.map((v, i) => {
    b.graphNodes.push({
      name: `out_${i}`,
      opType: 'Identity',
      input: [names.get(v.id)!],
      output: [`output_${i}`],
    })
    return valueInfo(`output_${i}`, v.dtype, v.shape)
  })
  return proto.onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'backfold-test',
    opsetImport: [{ domain: '', version: b.opset }],
    graph: {
      name: 'test',
      node: b.graphNodes,
      initializer: b.initializers,
      input: graph.inputs.map((v, i) => valueInfo(`input_${i}`, v.dtype, v.shape)),
      output: outputs,
    },
  }).finish()
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
  const feeds: Record<string, unknown> = {}
  args.forEach((x, i) => {
    const data =
      x.dtype === 'float32'
        ? Float32Array.from(x.data)
        : x.dtype === 'float64'
          ? Float64Array.from(x.data)
          : Int32Array.from(x.data)
    feeds[`input_${i}`] = { type: x.dtype, data, dims: [...x.shape] }
  })
  const out = await runInChild(lowerForTest(graph), feeds)
  return graph.outputs.map((_, i) => {
    const t = out[`output_${i}`]!
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
    lowerForTest(makeGraph(f)(...args))
  } catch (error) {
    if (error instanceof OnnxUnsupported) return error.reason
    throw error
  }
  throw new Error('the function lowered to ONNX; expected an unsupported marker')
}

export { T }
