import { concatOp } from './concat'
import { gatherOp } from './gather'
import { oneHotOp } from './oneHot'
import { padOp } from './pad'
import { scatterAddOp } from './scatterAdd'
import { scatterAddAlongAxisOp } from './scatterAddAlongAxis'
import { sliceOp } from './slice'
import { takeAlongAxisOp } from './takeAlongAxis'

export { slice, sliceOp, type SliceParams } from './slice'
export { concat, concatOp, type ConcatParams } from './concat'
export { stack } from './stack'
export { split } from './split'
export { pad, padOp, type PadParams } from './pad'
export { gather, gatherOp, type AxisParams } from './gather'
export { scatterAdd, scatterAddOp, type ScatterParams } from './scatterAdd'
export { takeAlongAxis, takeAlongAxisOp } from './takeAlongAxis'
export { scatterAddAlongAxis, scatterAddAlongAxisOp } from './scatterAddAlongAxis'
export { oneHot, oneHotOp, type OneHotParams } from './oneHot'

/** The indexing ops, keyed by op name (each also listed in the registry). @since 0.1.0 */
export const indexingOps = {
  slice: sliceOp,
  concat: concatOp,
  pad: padOp,
  gather: gatherOp,
  scatterAdd: scatterAddOp,
  takeAlongAxis: takeAlongAxisOp,
  scatterAddAlongAxis: scatterAddAlongAxisOp,
  oneHot: oneHotOp,
} as const
