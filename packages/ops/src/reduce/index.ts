import { argmaxOp } from './argmax'
import { argminOp } from './argmin'
import { cumprodOp } from './cumprod'
import { cumsumOp } from './cumsum'
import { logsumexpOp } from './logsumexp'
import { maxOp } from './max'
import { meanOp } from './mean'
import { minOp } from './min'
import { normOp } from './norm'
import { prodOp } from './prod'
import { reductionProgramOp } from './reductionProgram'
import { sumOp } from './sum'

export { sum, sumOp } from './sum'
export { mean, meanOp } from './mean'
export { prod, prodOp } from './prod'
export { cumprod, cumprodOp, type CumprodOptions, type CumprodParams } from './cumprod'
export { cumsum, cumsumOp, type CumsumOptions, type CumsumParams } from './cumsum'
export { max, maxOp } from './max'
export { min, minOp } from './min'
export { argmax, argmaxOp } from './argmax'
export { argmin, argminOp } from './argmin'
export { logsumexp, logsumexpOp } from './logsumexp'
export { norm, normOp } from './norm'
export { variance, type VarianceOptions } from './variance'
export {
  reductionProgram,
  reductionProgramOp,
  programReduceOps,
  type ReductionProgramParams,
} from './reductionProgram'
export type { ReduceOptions, ReduceParams, ArgReduceOptions, ArgReduceParams } from '../internal/reduceParams'

/** The reduction ops, keyed by op name (each also listed in the registry). @since 0.1.0 */
export const reduceOps = {
  sum: sumOp,
  mean: meanOp,
  prod: prodOp,
  cumprod: cumprodOp,
  cumsum: cumsumOp,
  max: maxOp,
  min: minOp,
  argmax: argmaxOp,
  argmin: argminOp,
  logsumexp: logsumexpOp,
  norm: normOp,
  reductionProgram: reductionProgramOp,
} as const
