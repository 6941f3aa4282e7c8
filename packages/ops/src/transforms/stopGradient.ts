import { mapTree } from '@backfold/tensor'
import { concrete } from '../core/trace'

/**
 * Treats a value (or a tree of them) as a constant in every enclosing transformation: its value is
 * kept, its derivative is zero. Free: it only drops the recorded history.
 * @example
 * import { grad, mul, stopGradient } from '@backfold/ops'
 * grad((x: Tensor) => mul(x, stopGradient(x)))(scalar(3)) // 3, not 6
 * @since 0.1.0
 */
export const stopGradient = <T>(tree: T): T => mapTree(tree, concrete)
