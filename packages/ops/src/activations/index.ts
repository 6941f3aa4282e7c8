// Activations: softmax, logSoftmax and clip are ops with their own VJPs; the rest are composites of ops.
import { clip, clipOp } from './clip'
import { logSoftmax, logSoftmaxOp } from './logSoftmax'
import { softmax, softmaxOp } from './softmax'

export { clip, clipOp, logSoftmax, logSoftmaxOp, softmax, softmaxOp }
export type { ClipParams } from './clip'
export type { SoftmaxParams } from './softmax'
export { elu } from './elu'
export { gelu, type GeluOptions } from './gelu'
export { leakyRelu } from './leakyRelu'
export { logSigmoid } from './logSigmoid'
export { silu } from './silu'

/** Every activation op by name (the keys equal each op's `name`), each also listed in the registry. @since 0.1.0 */
export const activationOps = {
  softmax: softmaxOp,
  logSoftmax: logSoftmaxOp,
  clip: clipOp,
} as const
