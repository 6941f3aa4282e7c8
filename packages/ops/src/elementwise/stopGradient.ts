// y = x ; x̄ = 0 (the value passes through, its derivative does not)
import { mapTree, type Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { sameAsInput } from '../core/abstract'
import { batchElementwise } from '../core/batching'
import { zeroCotangents } from '../core/zeroCotangents'

/** The `stopGradient` op: identity forward, zero VJP, at every level of differentiation. @since 0.2.0 */
export const stopGradientOp = defineOp<'stopGradient', [Tensor]>({
  name: 'stopGradient',
  forward: ([x]) => x,
  abstract: sameAsInput,
  vjp: zeroCotangents,
  batch: batchElementwise,
  onnx: (_b, [x]) => x,
})

/**
 * Treats a value (or a tree of them) as a constant in every enclosing differentiation: its value is
 * kept, its derivative is zero. Under `vmap` it stays mapped (it is an op with a batching rule).
 * @example
 * import { grad, mul, stopGradient, type Tensor, scalar } from '@backfold/ops'
 * grad((x: Tensor) => mul(x, stopGradient(x)))(scalar(3)) // 3, not 6
 * @since 0.1.0
 */
export const stopGradient = <T>(tree: T): T => mapTree(tree, (x) => applyOp(stopGradientOp, [x], undefined))
