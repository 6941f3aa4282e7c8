// y = eˣ − 1 ; x̄ = ȳ (y + 1)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { add } from '../binary/add'
import { mul } from '../binary/mul'
import { expm1Onnx } from '../staging/onnx/rules'

/** The `expm1` op. @since 0.1.0 */
export const expm1Op = defineOp<'expm1', [Tensor]>({
  name: 'expm1',
  forward: ([x]) => T.expm1(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('expm1', x.dtype) }),
  vjp: (ct, _xs, y) => [mul(ct, add(y, 1))],
  batch: batchElementwise,
  onnx: (b, [x], _p, { inputs: [ax], output }) =>
    expm1Onnx(b, b.cast(x, ax.dtype, output.dtype), output.dtype),
})

/**
 * eˣ − 1, elementwise, accurate near 0. int32 input gives float32.
 * @example
 * expm1(tensor([1e-10])) // [1e-10]
 * @since 0.1.0
 */
export const expm1 = (x: Tensor): Tensor => applyOp(expm1Op, [x], undefined)
