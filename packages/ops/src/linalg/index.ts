import { matmulOp } from './matmul'

export { matmul, matmulOp, type MatmulOptions, type MatmulParams } from './matmul'
export { dot } from './dot'
export { outer } from './outer'

/** The linear-algebra ops, keyed by op name (spread into the registry). @since 0.1.0 */
export const linalgOps = {
  matmul: matmulOp,
} as const
