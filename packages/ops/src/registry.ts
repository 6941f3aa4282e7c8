import type { Op } from './core/op'
import { elementwiseOps } from './elementwise/index'
import { binaryOps } from './binary/index'
import { reduceOps } from './reduce/index'
import { linalgOps } from './linalg/index'
import { shapeOps } from './shape/index'
import { indexingOps } from './indexing/index'
import { convOps } from './conv/index'
import { activationOps } from './activations/index'
import { lossOps } from './losses/index'

/**
 * Every built-in op, by name. There is no registration by import side effect: this object is the
 * whole list, and its type is checked against `OpName` below, so an op that is listed but missing
 * (or defined without a VJP, which `defineOp` rejects) fails to compile.
 * @since 0.1.0
 */
export const registry = {
  ...elementwiseOps,
  ...binaryOps,
  ...reduceOps,
  ...linalgOps,
  ...shapeOps,
  ...indexingOps,
  ...convOps,
  ...activationOps,
  ...lossOps,
} as const

/** The name of a built-in op. @since 0.1.0 */
export type OpName = keyof typeof registry

// Each entry's key must be its op's name; checked at type level for the shape, at test time for names.
const _typed: { readonly [K in OpName]: Op<never> } = registry
void _typed
