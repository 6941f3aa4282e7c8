export * from './codec'
export { configError } from './error'
export {
  defineLayer,
  type LayerKind,
  type LayerDefinition,
  type LayerSpec,
  type DecodeContext,
  type Allocation,
  type JsonRecord,
} from '../layers/define'
export { builtinLayers, builtinKinds, type BuiltinLayerConfigs, type BuiltinKind } from '../layers/builtins'
