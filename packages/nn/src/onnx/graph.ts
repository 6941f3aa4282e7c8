/**
 * The ONNX graph under construction: nodes and initializers with unique names, as the protobuf
 * messages of `./messages`. Internal to the exporter.
 */
import type { Tensor } from '@backfold/tensor'
import {
  AttributeType,
  DataType,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
} from '@backfold/ops/onnx'

/** An INT attribute. */
export const intAttribute = (name: string, i: number): AttributeProto => ({
  name,
  type: AttributeType.INT,
  i,
})
/** An INTS attribute. */
export const intsAttribute = (name: string, ints: ReadonlyArray<number>): AttributeProto => ({
  name,
  type: AttributeType.INTS,
  ints: [...ints],
})
/** A FLOAT attribute (stored as float32, as ONNX defines it). */
export const floatAttribute = (name: string, f: number): AttributeProto => ({
  name,
  type: AttributeType.FLOAT,
  f,
})
/** A STRING attribute (UTF-8 bytes). */
export const stringAttribute = (name: string, s: string): AttributeProto => ({
  name,
  type: AttributeType.STRING,
  s: new TextEncoder().encode(s),
})

/**
 * float32 little-endian bytes of `data` (ONNX's `raw_data` layout on every platform, whatever the
 * host's byte order); float64 values round to the nearest float32.
 */
const float32Bytes = (data: ArrayLike<number>): Uint8Array => {
  const bytes = new Uint8Array(data.length * 4)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true)
  return bytes
}

/**
 * Accumulates the nodes and initializers of one export. Names are unique: a clash (with the graph's
 * input/output names, reserved up front, or an earlier name) gets a `_1`, `_2`... suffix.
 */
export class GraphBuilder {
  readonly nodes: NodeProto[] = []
  readonly initializers: TensorProto[] = []
  private readonly taken: Set<string>

  constructor(reserved: ReadonlyArray<string>) {
    this.taken = new Set(reserved)
  }

  private unique(wanted: string): string {
    let name = wanted
    for (let n = 1; this.taken.has(name); n++) name = `${wanted}_${n}`
    this.taken.add(name)
    return name
  }

  /** A float32 initializer named like the parameter (`0.weight`), so it lines up with checkpoints. */
  initializer(wanted: string, x: Pick<Tensor, 'shape' | 'data'>): string {
    const name = this.unique(wanted)
    this.initializers.push({
      name,
      dims: [...x.shape],
      dataType: DataType.FLOAT,
      rawData: float32Bytes(x.data),
    })
    return name
  }

  /** A float32 scalar constant (broadcasts against any shape). */
  scalar(scope: string, value: number): string {
    return this.initializer(`${scope}Constant`, { shape: [], data: Float32Array.of(value) })
  }

  /** Appends a node named `${scope}${opType}` (e.g. `/0/Gemm`) and returns the name of its output. */
  node(
    scope: string,
    opType: string,
    inputs: ReadonlyArray<string>,
    attribute: ReadonlyArray<AttributeProto> = [],
  ): string {
    const name = this.unique(`${scope}${opType}`)
    const output = this.unique(`${name}_output_0`)
    this.nodes.push({ name, opType, input: [...inputs], output: [output], attribute: [...attribute] })
    return output
  }

  /** Appends a node with a caller-chosen output name (the graph's output). */
  rename(input: string, output: string): void {
    this.nodes.push({
      name: this.unique(`/${output}/Identity`),
      opType: 'Identity',
      input: [input],
      output: [output],
    })
  }
}

/**
 * Builders of ONNX node attributes, for custom emitters: `onnxAttribute.int('axis', 1)`,
 * `.ints('perm', [0, 2, 1])`, `.float('epsilon', 1e-5)`, `.string('auto_pad', 'SAME_UPPER')`.
 * @example
 * import { onnxAttribute } from '@backfold/nn'
 * const axis = onnxAttribute.int('axis', -1)
 * @since 0.2.0
 */
export const onnxAttribute = {
  /** An INT attribute: `int(name, value)`, e.g. an axis. */
  int: intAttribute,
  /** An INTS attribute: `ints(name, values)`, e.g. a permutation or kernel shape. */
  ints: intsAttribute,
  /** A FLOAT attribute: `float(name, value)`, stored as float32 as ONNX defines it (e.g. epsilon). */
  float: floatAttribute,
  /** A STRING attribute: `string(name, value)`, stored as UTF-8 bytes (e.g. `auto_pad`). */
  string: stringAttribute,
} as const
