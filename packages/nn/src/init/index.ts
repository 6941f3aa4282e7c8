/**
 * Initialisers: `(key, shape, dtype?, fans?) => Tensor`. Fans follow PyTorch's layout (dense
 * `[out, in]`, conv OIHW). Exported from `@backfold/nn` as the namespace `initializers`.
 * @since 0.1.0
 */
export { computeFans } from './initializer'
export type { Fans, Initializer } from './initializer'
export { zeros, ones, constant } from './constant'
export { normal, truncatedNormal, uniform } from './random'
export type { NormalOptions, UniformOptions } from './random'
export {
  varianceScaling,
  glorotUniform,
  glorotNormal,
  heUniform,
  heNormal,
  lecunNormal,
  lecunUniform,
  kaimingUniform,
  torchDefault,
} from './varianceScaling'
export type { VarianceScalingOptions } from './varianceScaling'
