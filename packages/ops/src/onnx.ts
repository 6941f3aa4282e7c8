/**
 * `@backfold/ops/onnx`: the protobuf writer and the ONNX message encoders that `jit`'s ONNX Runtime
 * executor and `@backfold/nn`'s `exportOnnx` share (one encoder, not two copies). An internal entry
 * for backfold's own packages: not part of the documented API, and it may change in any release.
 * @internal
 * @packageDocumentation
 */
export { ProtoWriter, WireType } from './staging/onnx/wire'
export {
  AttributeType,
  DataType,
  encodeModel,
  type AttributeProto,
  type DimensionProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type OperatorSetIdProto,
  type TensorProto,
  type ValueInfoProto,
} from './staging/onnx/proto'
