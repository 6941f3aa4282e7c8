// A staged graph as an ONNX model: each equation through its op's `onnx` lowering (builder.ts), the
// graph's inputs as the model's inputs (`x0`, `x1`, ...), its constants as initializers and its
// outputs as `y0`, `y1`, ... Encoded with the shared protobuf writer (wire.ts, proto.ts).
import type { DType, Shape } from '@backfold/tensor'
import type { Graph, Var } from '../graph'
import {
  OnnxUnsupported,
  type OnnxAttribute,
  type OnnxAttributes,
  type OnnxBuilder,
  type OnnxDType,
} from './builder'
import {
  AttributeType,
  DataType,
  encodeModel,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './proto'

/** The `ai.onnx` opset lowerings write to (IR version 8 goes with it). */
export const ONNX_OPSET = 17

const ELEM_TYPES: Readonly<Record<OnnxDType, DataType>> = {
  float32: DataType.FLOAT,
  float64: DataType.DOUBLE,
  int32: DataType.INT32,
  int64: DataType.INT64,
  bool: DataType.BOOL,
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Little-endian bytes of `values` as ONNX's `raw_data` of `dtype` stores them. */
const rawBytes = (values: ArrayLike<number>, dtype: OnnxDType): Uint8Array => {
  const n = values.length
  if (dtype === 'bool') return Uint8Array.from(values, (v) => (v !== 0 ? 1 : 0))
  const typed =
    dtype === 'float32'
      ? Float32Array.from(values)
      : dtype === 'float64'
        ? Float64Array.from(values)
        : dtype === 'int32'
          ? Int32Array.from(values)
          : BigInt64Array.from(Array.from(values, (v) => BigInt(v)))
  if (littleEndian) return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength)
  const size = typed.BYTES_PER_ELEMENT
  const bytes = new Uint8Array(n * size)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < n; i++) {
    if (dtype === 'float32') view.setFloat32(i * 4, values[i]!, true)
    else if (dtype === 'float64') view.setFloat64(i * 8, values[i]!, true)
    else if (dtype === 'int32') view.setInt32(i * 4, values[i]!, true)
    else view.setBigInt64(i * 8, BigInt(values[i]!), true)
  }
  return bytes
}

const attribute = (name: string, value: OnnxAttribute): AttributeProto => {
  if (typeof value === 'string')
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value))
      throw new RangeError(
        `ONNX attribute ${name}: ${value} is not an integer; write a FLOAT attribute as { float: ${value} }`,
      )
    return { name, type: AttributeType.INT, i: value }
  }
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float }
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: [...value.floats] }
  const ints = value as ReadonlyArray<number>
  if (!ints.every(Number.isSafeInteger))
    throw new RangeError(
      `ONNX attribute ${name}: [${ints.join(', ')}] are not all integers; write floats as { floats }`,
    )
  return { name, type: AttributeType.INTS, ints: [...ints] }
}

/** The builder lowerings write to: nodes and initializers of one model, with fresh value names. */
class ModelBuilder implements OnnxBuilder {
  readonly opset = ONNX_OPSET
  readonly graphNodes: NodeProto[] = []
  readonly initializers: TensorProto[] = []
  /** Names of values made by nodes (a graph output may take one of these directly). */
  readonly produced = new Set<string>()
  private count = 0
  /** The op being lowered, for the messages of `unsupported`. */
  current = ''

  private fresh(prefix: string): string {
    return `${prefix}${this.count++}`
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
    attributes: OnnxAttributes | undefined,
  ): string[] {
    const name = this.fresh(`${this.current}/${opType}_`)
    const output = Array.from({ length: outputs }, () => this.fresh('v'))
    for (const o of output) this.produced.add(o)
    const attribute_ = Object.entries(attributes ?? {}).map(([key, value]) => attribute(key, value))
    this.graphNodes.push({ name, opType, input: [...inputs], output, attribute: attribute_ })
    return output
  }

  constant(values: number | ReadonlyArray<number>, dtype: OnnxDType, shape?: Shape): string {
    const data = typeof values === 'number' ? [values] : values
    const dims = shape ?? (typeof values === 'number' ? [] : [data.length])
    const name = this.fresh('k')
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: ELEM_TYPES[dtype],
      rawData: rawBytes(data, dtype),
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
    return from === dtype ? x : this.node('Cast', [x], { to: ELEM_TYPES[dtype] })
  }

  unsupported(reason: string): never {
    throw new OnnxUnsupported(reason)
  }

  /** An initializer holding a tensor's data as it is. */
  tensor(name: string, dtype: DType, shape: Shape, data: ArrayLike<number>): void {
    this.initializers.push({
      name,
      dims: [...shape],
      dataType: ELEM_TYPES[dtype],
      rawData: rawBytes(data, dtype),
    })
  }
}

const valueInfo = (name: string, v: Var): ValueInfoProto => ({
  name,
  type: {
    tensorType: { elemType: ELEM_TYPES[v.dtype], shape: { dim: v.shape.map((d) => ({ dimValue: d })) } },
  },
})

/** A graph lowered to ONNX: the model's bytes and its input and output names, in the graph's order. */
export interface LoweredModel {
  readonly bytes: Uint8Array
  readonly inputNames: ReadonlyArray<string>
  readonly outputNames: ReadonlyArray<string>
  /** ONNX nodes in the model. */
  readonly nodeCount: number
}

/**
 * Lowers `graph` to an ONNX model through its ops' `onnx` rules. Throws `OnnxUnsupported` whose
 * reason names the first op that cannot lower (no rule: a user op; or the rule gave up).
 * @internal
 */
export const lowerGraph = (graph: Graph): LoweredModel => {
  const b = new ModelBuilder()
  const names = new Map<number, string>()
  // makeGraph gives every leaf its own variable, so the names are distinct.
  const inputNames = graph.inputs.map((v, i) => {
    names.set(v.id, `x${i}`)
    return `x${i}`
  })
  graph.constants.forEach((c, i) => {
    const name = `c${i}`
    b.tensor(name, c.variable.dtype, c.variable.shape, c.value.data)
    names.set(c.variable.id, name)
  })
  for (const eq of graph.equations) {
    const lowering = eq.op.onnx as
      | ((
          b: OnnxBuilder,
          inputs: ReadonlyArray<string>,
          p: unknown,
          avals: { inputs: ReadonlyArray<Var>; output: Var },
        ) => string)
      | undefined
    if (lowering === undefined)
      throw new OnnxUnsupported(`op ${eq.op.name} has no ONNX lowering (its defineOp has no \`onnx\` rule)`)
    b.current = eq.op.name
    let out: string
    try {
      out = lowering(
        b,
        eq.inputs.map((v) => names.get(v.id)!),
        eq.params,
        { inputs: eq.inputs, output: eq.output },
      )
    } catch (error) {
      if (error instanceof OnnxUnsupported) throw new OnnxUnsupported(`op ${eq.op.name}: ${error.reason}`)
      throw error
    }
    names.set(eq.output.id, out)
  }
  // Each output gets its own name: a value a node made takes it directly (its first time out);
  // an input, a constant or a repeated output goes through an Identity.
  const claimed = new Set<string>()
  const outputNames = graph.outputs.map((v, i) => {
    const value = names.get(v.id)!
    if (b.produced.has(value) && !claimed.has(value)) {
      claimed.add(value)
      return value
    }
    const name = `y${i}`
    b.graphNodes.push({ name: `/out/Identity_${i}`, opType: 'Identity', input: [value], output: [name] })
    return name
  })
  const bytes = encodeModel({
    irVersion: 8,
    producerName: 'backfold jit',
    producerVersion: '0.2.0',
    graph: {
      name: 'jit',
      node: b.graphNodes,
      initializer: b.initializers,
      input: graph.inputs.map((v, i) => valueInfo(inputNames[i]!, v)),
      output: graph.outputs.map((v, i) => valueInfo(outputNames[i]!, v)),
    },
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
  })
  return { bytes, inputNames, outputNames, nodeCount: b.graphNodes.length }
}
