// y = x sorted along axis: y_k = x_{π(k)} with π = argsort(x) ; x̄_{π(k)} = ȳ_k (the cotangent scattered back)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { scatterAddAlongAxis } from '../indexing/scatterAddAlongAxis'
import { argsort, sortParams, type SortOptions, type SortParams } from './argsort'
import { argsortOnnx } from '../internal/onnxLowering'

/** The sort op. @since 0.2.0 */
export const sortOp = defineOp<'sort', [Tensor], SortParams>({
  name: 'sort',
  forward: ([x], p) => T.takeAlongAxis(x, T.argsort(x, p.axis, p.descending), p.axis),
  // Each output came from one input position: the permutation (recomputed from x, which costs one
  // sort instead of storing it) sends each cotangent back there. Ties get their own positions, so
  // the gradient of a tie goes to the element the stable order put there.
  vjp: (ct, [x], _y, p) => [
    scatterAddAlongAxis(ct, argsort(x, { axis: p.axis, descending: p.descending }), x.shape, {
      axis: p.axis,
    }),
  ],
  abstract: ([x], p) => ({ shape: T.argsortShape(x.shape, p.axis, p.descending), dtype: x.dtype }),
  // The values at the sorting positions (TopK's own values would hold +∞ for NaN).
  onnx: (b, [x], p, { inputs: [ax] }) =>
    b.node('GatherElements', [x, argsortOnnx(b, x, ax.dtype, p.axis, ax.shape[p.axis] ?? 0, p.descending)], {
      axis: p.axis,
    }),
  batch: ([x], [b], p, self) => {
    const at = b ?? 0
    return [self([x], { ...p, axis: p.axis >= at ? p.axis + 1 : p.axis }), at]
  },
})

/**
 * `x` sorted along `axis` (default the last), ascending unless `descending`; NaN counts as larger
 * than +Infinity. Differentiable: the gradient goes back to each value's original position.
 * @example
 * sort(tensor([3, 1, 2]))                       // [1, 2, 3]
 * sort(tensor([3, 1, 2]), { descending: true }) // [3, 2, 1]
 * @throws ValueError for a bad axis or an unknown option.
 * @since 0.2.0
 */
export const sort = (x: Tensor, opts: SortOptions = {}): Tensor =>
  applyOp(sortOp, [x], sortParams('sort', x, opts))
