// y = ln(1 + eˣ) ; x̄ = ȳ σ(x)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { mul } from '../binary/mul'
import { sigmoid } from './sigmoid'
import { log1pOnnx } from '../staging/onnx/rules'

/** The `softplus` op. @since 0.1.0 */
export const softplusOp = defineOp<'softplus', [Tensor]>({
  name: 'softplus',
  forward: ([x]) => T.softplus(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('softplus', x.dtype) }),
  vjp: (ct, [x]) => [mul(ct, sigmoid(x))],
  batch: batchElementwise,
  // max(x, 0) + log(1 + exp(−|x|)), forward's stable form (ONNX has no log1p: log1p below).
  onnx: (b, [x], _p, { inputs: [ax], output }) => {
    const v = b.cast(x, ax.dtype, output.dtype)
    const e = b.node('Exp', [b.node('Neg', [b.node('Abs', [v])])])
    return b.node('Add', [b.node('Max', [v, b.scalar(0, output.dtype)]), log1pOnnx(b, e, output.dtype)])
  },
})

/**
 * Softplus ln(1 + eˣ), elementwise; stable at any magnitude (softplus(1000) = 1000, softplus(−1000) = 0). int32 input gives float32.
 * @example
 * softplus(tensor([0])) // [0.6931]
 * @since 0.1.0
 */
export const softplus = (x: Tensor): Tensor => applyOp(softplusOp, [x], undefined)
