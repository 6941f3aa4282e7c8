// y = the positions that sort x along axis (int32) ; x̄ = 0 (positions have no useful derivative)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { checkOptions, option, optionSchema } from '../core/options'
import { zeroCotangents } from '../core/zeroCotangents'
import { argsortOnnx } from '../internal/onnxLowering'

/** Options of `argsort`, `sort` and `topk`'s ordering: `axis` (default -1) and `descending` (default false). @since 0.2.0 */
export interface SortOptions {
  readonly axis?: number | undefined
  readonly descending?: boolean | undefined
}

/** Canonical parameters of the sort ops: a non-negative axis and the direction. @since 0.2.0 */
export interface SortParams {
  readonly axis: number
  readonly descending: boolean
}

const SORT_OPTIONS = optionSchema({ axis: option.axis, descending: option.boolean })

/** Checked options as canonical parameters (shared by sort and argsort). @internal */
export const sortParams = (op: string, x: Tensor, opts: SortOptions): SortParams => {
  checkOptions(op, opts, SORT_OPTIONS)
  return { axis: T.normalizeAxis(op, opts.axis ?? -1, x.shape.length), descending: opts.descending ?? false }
}

/** The argsort op. @since 0.2.0 */
export const argsortOp = defineOp<'argsort', [Tensor], SortParams>({
  name: 'argsort',
  forward: ([x], p) => T.argsort(x, p.axis, p.descending),
  vjp: zeroCotangents,
  abstract: ([x], p) => ({ shape: T.argsortShape(x.shape, p.axis, p.descending), dtype: 'int32' }),
  onnx: (b, [x], p, { inputs: [ax] }) =>
    b.cast(argsortOnnx(b, x, ax.dtype, p.axis, ax.shape[p.axis] ?? 0, p.descending), 'int64', 'int32'),
  batch: ([x], [b], p, self) => {
    const at = b ?? 0
    return [self([x], { ...p, axis: p.axis >= at ? p.axis + 1 : p.axis }), at]
  },
})

/**
 * The positions (int32) that sort `x` along `axis` (default the last), ascending unless
 * `descending`. Stable: equal values keep their order. NaN counts as larger than +Infinity.
 * Not differentiable (its VJP is explicitly zero); `sort` and `topk` carry the values' gradient.
 * @example
 * argsort(tensor([3, 1, 2]))                       // [1, 2, 0] (int32)
 * argsort(tensor([3, 1, 2]), { descending: true }) // [0, 2, 1]
 * @throws ValueError for a bad axis or an unknown option.
 * @since 0.2.0
 */
export const argsort = (x: Tensor, opts: SortOptions = {}): Tensor =>
  applyOp(argsortOp, [x], sortParams('argsort', x, opts))
