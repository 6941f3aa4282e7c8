import { avgPool2dOp } from './avgPool2d'
import { avgPool2dBackwardOp } from './avgPool2dBackward'
import { conv2dOp } from './conv2d'
import { conv2dBackwardFilterOp } from './conv2dBackwardFilter'
import { conv2dBackwardInputOp } from './conv2dBackwardInput'
import { maxPool2dOp } from './maxPool2d'
import { maxPool2dBackwardOp } from './maxPool2dBackward'
import { maxPool2dSelectOp } from './maxPool2dSelect'

export { conv2d, conv2dOp } from './conv2d'
export {
  conv2dBackwardInput,
  conv2dBackwardInputOp,
  type Conv2dBackwardInputParams,
} from './conv2dBackwardInput'
export {
  conv2dBackwardFilter,
  conv2dBackwardFilterOp,
  type Conv2dBackwardFilterParams,
} from './conv2dBackwardFilter'
export { maxPool2d, maxPool2dOp } from './maxPool2d'
export { maxPool2dBackward, maxPool2dBackwardOp } from './maxPool2dBackward'
export { maxPool2dSelect, maxPool2dSelectOp } from './maxPool2dSelect'
export { avgPool2d, avgPool2dOp } from './avgPool2d'
export { avgPool2dBackward, avgPool2dBackwardOp, type AvgPool2dBackwardParams } from './avgPool2dBackward'

/** The convolution and pooling ops, keyed by op name (each also listed in the registry). @since 0.1.0 */
export const convOps = {
  conv2d: conv2dOp,
  conv2dBackwardInput: conv2dBackwardInputOp,
  conv2dBackwardFilter: conv2dBackwardFilterOp,
  maxPool2d: maxPool2dOp,
  maxPool2dBackward: maxPool2dBackwardOp,
  maxPool2dSelect: maxPool2dSelectOp,
  avgPool2d: avgPool2dOp,
  avgPool2dBackward: avgPool2dBackwardOp,
} as const
