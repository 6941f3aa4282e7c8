// y = [x is NaN] ; x̄ = 0 (a predicate has no useful derivative)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { zeroCotangents } from '../core/zeroCotangents'

/** The `isnan` op. @since 0.2.0 */
export const isnanOp = defineOp<'isnan', [Tensor]>({
  name: 'isnan',
  // NaN is the one value unequal to itself; an int32 input is never NaN (all zeros).
  forward: ([x]) => T.notEqual(x, x),
  abstract: ([x]) => T.binaryOutput('notEqual', x, x),
  vjp: zeroCotangents,
  batch: batchElementwise,
  onnx: (b, [x], _p, { inputs: [ax], output }) =>
    ax.dtype === 'int32'
      ? b.cast(b.node('Not', [b.node('Equal', [x, x])]), 'bool', output.dtype)
      : b.cast(b.node('IsNaN', [x]), 'bool', output.dtype),
})

/**
 * Whether each element is NaN, as an int32 mask (1 where NaN). Not differentiable: its VJP is
 * explicitly zero.
 * @example
 * isnan(tensor([1, NaN, Infinity])) // [0, 1, 0] (int32)
 * @since 0.2.0
 */
export const isnan = (x: Tensor): Tensor => applyOp(isnanOp, [x], undefined)
