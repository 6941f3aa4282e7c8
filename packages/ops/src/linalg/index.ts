import { matmulOp } from './matmul'
import { linearOp } from './linear'

export { matmul, matmulOp, type MatmulOptions, type MatmulParams } from './matmul'
export { linear, linearOp, type LinearActivation, type LinearInputs, type LinearParams } from './linear'
export { dot } from './dot'
export { outer } from './outer'

/** The linear-algebra ops, keyed by op name (spread into the registry). @since 0.1.0 */
export const linalgOps = {
  matmul: matmulOp,
  linear: linearOp,
} as const
