// Sorting: argsort (positions, not differentiable), sort (values, gradient scattered back) and topk.
import { argsortOp } from './argsort'
import { sortOp } from './sort'

export { argsort, argsortOp, type SortOptions, type SortParams } from './argsort'
export { sort, sortOp } from './sort'
export { topk, type TopkOptions } from './topk'

/** The sort ops, keyed by op name (spread into the registry). @since 0.2.0 */
export const sortOps = {
  argsort: argsortOp,
  sort: sortOp,
} as const
