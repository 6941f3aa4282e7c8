export * from './error'
export { exportOnnx, type OnnxExportOptions } from './export'
export type { OnnxDim, OnnxValue, OnnxAttribute, OnnxEmitContext, OnnxExport } from './context'
export { onnxAttribute } from './graph'
