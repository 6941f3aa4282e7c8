// y = tanh x ; x̄ = ȳ (1 − y²)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { mul } from '../binary/mul'
import { sub } from '../binary/sub'
import { square } from './square'
import { unaryOnnx } from '../staging/onnx/rules'

/** The `tanh` op. @since 0.1.0 */
export const tanhOp = defineOp<'tanh', [Tensor]>({
  name: 'tanh',
  forward: ([x]) => T.tanh(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('tanh', x.dtype) }),
  vjp: (ct, _xs, y) => [mul(ct, sub(1, square(y)))],
  batch: batchElementwise,
  onnx: unaryOnnx('Tanh'),
})

/**
 * Hyperbolic tangent, elementwise. int32 input gives float32.
 * @example
 * tanh(tensor([0, 1])) // [0, 0.7616]
 * @since 0.1.0
 */
export const tanh = (x: Tensor): Tensor => applyOp(tanhOp, [x], undefined)
