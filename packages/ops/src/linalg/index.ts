import { matmulOp } from './matmul'
import { linearOp } from './linear'
import { matmulEpilogueOp } from './matmulEpilogue'

export { matmul, matmulOp, type MatmulOptions, type MatmulParams } from './matmul'
export { linear, linearOp, type LinearActivation, type LinearInputs, type LinearParams } from './linear'
export { matmulEpilogue, matmulEpilogueOp, type MatmulEpilogueParams } from './matmulEpilogue'
export { dot } from './dot'
export { outer } from './outer'
export { einsum } from './einsum'

/** The linear-algebra ops, keyed by op name (each also listed in the registry). @since 0.1.0 */
export const linalgOps = {
  matmul: matmulOp,
  linear: linearOp,
  matmulEpilogue: matmulEpilogueOp,
} as const
