export * from './error'
export { exportOnnx, type OnnxExportOptions } from './export'
export { exportableKinds } from './emit'
