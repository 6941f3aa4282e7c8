import { broadcastToOp } from './broadcastTo'
import { reshapeOp } from './reshape'
import { transposeOp } from './transpose'
import { flipOp } from './flip'
import { rollOp } from './roll'
import { tileOp } from './tile'
import { repeatOp } from './repeat'
import { trilOp } from './tril'
import { triuOp } from './triu'

export { reshape, reshapeOp, type ReshapeParams } from './reshape'
export { transpose, transposeOp, type TransposeParams } from './transpose'
export { broadcastTo, broadcastToOp, type BroadcastToParams } from './broadcastTo'
export { expandDims } from './expandDims'
export { squeeze, type SqueezeOptions } from './squeeze'
export { ravel } from './ravel'
export { flip, flipOp, type FlipOptions, type FlipParams } from './flip'
export { roll, rollOp, type RollOptions, type RollParams } from './roll'
export { tile, tileOp, tileShape, type TileParams } from './tile'
export { repeat, repeatOp, repeatShape, type RepeatOptions, type RepeatParams } from './repeat'
export { tril, trilOp, type TrilOptions, type TrilParams } from './tril'
export { triu, triuOp, type TriuOptions, type TriuParams } from './triu'

/** The shape ops, keyed by op name (each also listed in the registry). @since 0.1.0 */
export const shapeOps = {
  reshape: reshapeOp,
  transpose: transposeOp,
  broadcastTo: broadcastToOp,
  flip: flipOp,
  roll: rollOp,
  tile: tileOp,
  repeat: repeatOp,
  tril: trilOp,
  triu: triuOp,
} as const
