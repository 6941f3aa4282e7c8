// y = x as dtype ; x̄ = ȳ as x's dtype (zero when y is int32: truncation has no useful derivative)
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { zeroCotangents } from '../core/zeroCotangents'
import { castOnnx } from '../staging/onnx/rules'

/** Parameters of the `astype` op: the target dtype. @since 0.1.0 */
export interface AstypeParams {
  readonly dtype: DType
}

/** The `astype` op. @since 0.1.0 */
export const astypeOp = defineOp<'astype', [Tensor], AstypeParams>({
  name: 'astype',
  forward: ([x], p) => T.astype(x, p.dtype),
  abstract: ([x], p) => T.astypeOutput(x, p.dtype),
  vjp: (ct, xs, _y, p) => (p.dtype === 'int32' ? zeroCotangents(ct, xs) : [astype(ct, xs[0].dtype)]),
  batch: batchElementwise,
  onnx: (b, [x], _p, { inputs: [ax], output }) => castOnnx(b, x, ax.dtype, output.dtype),
})

/**
 * Converts `x` to `dtype` (float → int32 truncates toward zero). Converting to the dtype `x`
 * already has returns `x` itself and records nothing.
 * The gradient flows back cast to the input's dtype; through a cast to int32 it is zero.
 * @example
 * astype(tensor([1.7, -1.7]), 'int32') // [1, -1] (int32)
 * @throws DTypeError when `dtype` is not 'float32', 'float64' or 'int32'.
 * @since 0.1.0
 */
export const astype = (x: Tensor, dtype: DType): Tensor =>
  x.dtype === dtype ? x : applyOp(astypeOp, [x], { dtype })
