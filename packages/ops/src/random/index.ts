import { randomBernoulliOp } from './randomBernoulli'
import { randomBitsOp } from './randomBits'
import { randomFoldInOp } from './randomFoldIn'
import { randomNormalOp } from './randomNormal'
import { randomSplitOp } from './randomSplit'
import { randomTruncatedNormalOp } from './randomTruncatedNormal'
import { randomUniformOp } from './randomUniform'

export { randomBits, randomBitsOp, type RandomBitsParams } from './randomBits'
export { randomSplit, randomSplitOp, type RandomSplitParams } from './randomSplit'
export { randomFoldIn, randomFoldInOp, type RandomFoldInParams } from './randomFoldIn'
export { randomUniform, randomUniformOp, type RandomUniformParams } from './randomUniform'
export { randomNormal, randomNormalOp, type RandomNormalParams } from './randomNormal'
export {
  randomTruncatedNormal,
  randomTruncatedNormalOp,
  type RandomTruncatedNormalParams,
} from './randomTruncatedNormal'
export { randomBernoulli, randomBernoulliOp, type RandomBernoulliParams } from './randomBernoulli'
export { splitKeys } from './splitKeys'
export { randomCategorical, type RandomCategoricalOptions } from './randomCategorical'

/**
 * The random ops, keyed by op name (each also listed in the registry): each draws independently for every
 * key of a key batch `[..., 2]`, so `vmap` over keys is one draw for all of them.
 * @since 0.2.0
 */
export const randomOps = {
  randomBits: randomBitsOp,
  randomSplit: randomSplitOp,
  randomFoldIn: randomFoldInOp,
  randomUniform: randomUniformOp,
  randomNormal: randomNormalOp,
  randomTruncatedNormal: randomTruncatedNormalOp,
  randomBernoulli: randomBernoulliOp,
} as const
