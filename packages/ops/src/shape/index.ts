import { broadcastToOp } from './broadcastTo'
import { reshapeOp } from './reshape'
import { transposeOp } from './transpose'

export { reshape, reshapeOp, type ReshapeParams } from './reshape'
export { transpose, transposeOp, type TransposeParams } from './transpose'
export { broadcastTo, broadcastToOp, type BroadcastToParams } from './broadcastTo'
export { expandDims } from './expandDims'
export { squeeze, type SqueezeOptions } from './squeeze'
export { ravel } from './ravel'

/** The shape ops, keyed by op name (each also listed in the registry). @since 0.1.0 */
export const shapeOps = {
  reshape: reshapeOp,
  transpose: transposeOp,
  broadcastTo: broadcastToOp,
} as const
