/**
 * The subset of ONNX's protobuf schema (`onnx.proto`) the exporter writes: message shapes with only
 * the fields export sets, enum values, and encoders. Field names are protobufjs's camelCase ones
 * (so a decoder generated from `onnx.proto` reads the same objects back) and fields are written in
 * ascending field number, as protobuf encoders do. Shared by the ONNX executor of `jit` and `@backfold/nn`'s exporter (through `@backfold/ops/onnx`).
 */
import { ProtoWriter } from './wire'

/** `TensorProto.DataType` values. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const
export type DataType = (typeof DataType)[keyof typeof DataType]

/** `AttributeProto.AttributeType` values. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const
export type AttributeType = (typeof AttributeType)[keyof typeof AttributeType]

/** `AttributeProto`: one typed attribute of a node. */
export interface AttributeProto {
  readonly name: string
  readonly type: AttributeType
  readonly f?: number
  readonly i?: number
  readonly s?: Uint8Array
  readonly floats?: ReadonlyArray<number>
  readonly ints?: ReadonlyArray<number>
}

/** `TensorProto`, as initializers use it: dims and little-endian `raw_data`. */
export interface TensorProto {
  readonly name: string
  readonly dims: ReadonlyArray<number>
  readonly dataType: DataType
  readonly rawData: Uint8Array
}

/** `NodeProto`. */
export interface NodeProto {
  readonly name: string
  readonly opType: string
  readonly input: ReadonlyArray<string>
  readonly output: ReadonlyArray<string>
  readonly attribute?: ReadonlyArray<AttributeProto>
}

/** `TensorShapeProto.Dimension`: a size, a symbolic name, or neither (unknown). */
export interface DimensionProto {
  readonly dimValue?: number
  readonly dimParam?: string
}

/** `ValueInfoProto` of a tensor (`TypeProto.tensor_type`). */
export interface ValueInfoProto {
  readonly name: string
  readonly type: {
    readonly tensorType: {
      readonly elemType: DataType
      readonly shape: { readonly dim: ReadonlyArray<DimensionProto> }
    }
  }
}

/** `GraphProto`. */
export interface GraphProto {
  readonly name: string
  readonly node: ReadonlyArray<NodeProto>
  readonly initializer: ReadonlyArray<TensorProto>
  readonly input: ReadonlyArray<ValueInfoProto>
  readonly output: ReadonlyArray<ValueInfoProto>
}

/** `OperatorSetIdProto`. */
export interface OperatorSetIdProto {
  readonly domain: string
  readonly version: number
}

/** `ModelProto`. */
export interface ModelProto {
  readonly irVersion: number
  readonly producerName: string
  readonly producerVersion: string
  readonly graph: GraphProto
  readonly opsetImport: ReadonlyArray<OperatorSetIdProto>
}

// Field numbers below are onnx.proto's.

const encodeAttribute = (w: ProtoWriter, a: AttributeProto): void => {
  w.stringField(1, a.name)
    .floatField(2, a.f)
    .int64Field(3, a.i)
    .bytesField(4, a.s)
    .packedFloatField(7, a.floats)
    .packedInt64Field(8, a.ints)
    .int64Field(20, a.type)
}

const encodeTensor = (w: ProtoWriter, t: TensorProto): void => {
  w.packedInt64Field(1, t.dims).int64Field(2, t.dataType).stringField(8, t.name).bytesField(9, t.rawData)
}

const encodeNode = (w: ProtoWriter, n: NodeProto): void => {
  w.repeatedStringField(1, n.input)
    .repeatedStringField(2, n.output)
    .stringField(3, n.name)
    .stringField(4, n.opType)
    .repeatedMessageField(5, n.attribute, encodeAttribute)
}

const encodeDimension = (w: ProtoWriter, d: DimensionProto): void => {
  w.int64Field(1, d.dimValue).stringField(2, d.dimParam)
}

const encodeValueInfo = (w: ProtoWriter, v: ValueInfoProto): void => {
  w.stringField(1, v.name).messageField(2, v.type, (tw, type) =>
    // TypeProto.tensor_type = 1; Tensor: elem_type = 1, shape = 2; TensorShapeProto.dim = 1.
    tw.messageField(1, type.tensorType, (sw, tensor) =>
      sw
        .int64Field(1, tensor.elemType)
        .messageField(2, tensor.shape, (dw, shape) => dw.repeatedMessageField(1, shape.dim, encodeDimension)),
    ),
  )
}

const encodeGraph = (w: ProtoWriter, g: GraphProto): void => {
  w.repeatedMessageField(1, g.node, encodeNode)
    .stringField(2, g.name)
    .repeatedMessageField(5, g.initializer, encodeTensor)
    .repeatedMessageField(11, g.input, encodeValueInfo)
    .repeatedMessageField(12, g.output, encodeValueInfo)
}

const encodeOperatorSetId = (w: ProtoWriter, o: OperatorSetIdProto): void => {
  w.stringField(1, o.domain).int64Field(2, o.version)
}

/** The bytes of an ONNX file holding `model` (a serialised `ModelProto`). */
export const encodeModel = (model: ModelProto): Uint8Array => {
  const rawBytes = model.graph.initializer.reduce((n, t) => n + t.rawData.length, 0)
  const w = new ProtoWriter(rawBytes + 4096)
  w.int64Field(1, model.irVersion)
    .stringField(2, model.producerName)
    .stringField(3, model.producerVersion)
    .messageField(7, model.graph, encodeGraph)
    .repeatedMessageField(8, model.opsetImport, encodeOperatorSetId)
  return w.finish()
}
