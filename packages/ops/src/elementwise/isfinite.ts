// y = [x is neither ±Inf nor NaN] ; x̄ = 0 (a predicate has no useful derivative)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { zeroCotangents } from '../core/zeroCotangents'

/** The `isfinite` op. @since 0.2.0 */
export const isfiniteOp = defineOp<'isfinite', [Tensor]>({
  name: 'isfinite',
  // |x| < Inf is false for ±Inf and for NaN (every comparison with NaN is false); an int32 input is
  // always finite (x >= x is then 1 everywhere).
  forward: ([x]) => (x.dtype === 'int32' ? T.greaterEqual(x, x) : T.less(T.abs(x), Infinity)),
  abstract: ([x]) => T.binaryOutput('less', x, x),
  vjp: zeroCotangents,
  batch: batchElementwise,
  onnx: (b, [x], _p, { inputs: [ax], output }) =>
    ax.dtype === 'int32'
      ? b.cast(b.node('Equal', [x, x]), 'bool', output.dtype)
      : b.cast(
          b.node('Not', [b.node('Or', [b.node('IsInf', [x]), b.node('IsNaN', [x])])]),
          'bool',
          output.dtype,
        ),
})

/**
 * Whether each element is finite (not ±Infinity, not NaN), as an int32 mask (1 where finite). Not
 * differentiable: its VJP is explicitly zero.
 * @example
 * isfinite(tensor([1, NaN, -Infinity])) // [1, 0, 0] (int32)
 * @since 0.2.0
 */
export const isfinite = (x: Tensor): Tensor => applyOp(isfiniteOp, [x], undefined)
