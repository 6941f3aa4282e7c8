import type { Backend } from '../../backend'
import { unary, binary, where, cast } from './elementwise'
import { reduce } from './reduce'
import { cumprod, cumsum } from './cumulative'
import { argsort } from './sort'
import { matmul } from './matmul'
import { transpose, broadcastTo, slice, pad, concat } from './layout'
import { gather, scatterAdd, takeAlongAxisLoop, scatterAddAlongAxisLoop, oneHotLoop } from './gather'
import { conv2d, conv2dBackwardInput, conv2dBackwardFilter } from './conv'
import { elementwiseProgram } from './program'
import { reductionProgram } from './reductionProgram'
import { maxPool2d, maxPool2dBackward, maxPool2dSelect, avgPool2d, avgPool2dBackward } from './pool'

/**
 * The plain TypeScript backend: the reference every faster backend is tested against,
 * and the fallback wherever nothing faster is available.
 * @since 0.1.0
 */
export const referenceBackend: Backend = {
  name: 'reference',
  unary,
  binary,
  where,
  cast,
  reduce,
  cumprod,
  cumsum,
  argsort,
  matmul,
  transpose,
  broadcastTo,
  slice,
  pad,
  concat,
  gather,
  scatterAdd,
  takeAlongAxis: takeAlongAxisLoop,
  scatterAddAlongAxis: scatterAddAlongAxisLoop,
  oneHot: oneHotLoop,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardFilter,
  maxPool2d,
  maxPool2dBackward,
  maxPool2dSelect,
  avgPool2d,
  avgPool2dBackward,
  elementwiseProgram,
  reductionProgram,
}
