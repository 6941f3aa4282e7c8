// y = 1/√x ; x̄ = −ȳ y³ / 2
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { mul } from '../binary/mul'
import { square } from './square'

/** The `rsqrt` op. @since 0.1.0 */
export const rsqrtOp = defineOp<'rsqrt', [Tensor]>({
  name: 'rsqrt',
  forward: ([x]) => T.rsqrt(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('rsqrt', x.dtype) }),
  vjp: (ct, _xs, y) => [mul(mul(ct, -0.5), mul(y, square(y)))],
  batch: batchElementwise,
  onnx: (b, [x], _p, { inputs: [ax], output }) =>
    b.node('Reciprocal', [b.node('Sqrt', [b.cast(x, ax.dtype, output.dtype)])]),
})

/**
 * Reciprocal square root, elementwise. int32 input gives float32.
 * @example
 * rsqrt(tensor([4])) // [0.5]
 * @since 0.1.0
 */
export const rsqrt = (x: Tensor): Tensor => applyOp(rsqrtOp, [x], undefined)
