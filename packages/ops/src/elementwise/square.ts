// y = x² ; x̄ = 2 ȳ x
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { mul } from '../binary/mul'

/** The `square` op. @since 0.1.0 */
export const squareOp = defineOp<'square', [Tensor]>({
  name: 'square',
  forward: ([x]) => T.square(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('square', x.dtype) }),
  vjp: (ct, [x]) => [mul(ct, mul(x, 2))],
  batch: batchElementwise,
  onnx: (b, [x]) => b.node('Mul', [x, x]),
})

/**
 * Square, elementwise. int32 stays int32.
 * @example
 * square(tensor([-3, 2])) // [9, 4]
 * @since 0.1.0
 */
export const square = (x: Tensor): Tensor => applyOp(squareOp, [x], undefined)
