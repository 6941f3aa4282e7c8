// y = cos x ; x̄ = −ȳ sin x
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { mul } from '../binary/mul'
import { neg } from './neg'
import { sin } from './sin'
import { unaryOnnx } from '../staging/onnx/rules'

/** The `cos` op. @since 0.1.0 */
export const cosOp = defineOp<'cos', [Tensor]>({
  name: 'cos',
  forward: ([x]) => T.cos(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('cos', x.dtype) }),
  vjp: (ct, [x]) => [neg(mul(ct, sin(x)))],
  batch: batchElementwise,
  onnx: unaryOnnx('Cos'),
})

/**
 * Cosine, elementwise (radians). int32 input gives float32.
 * @example
 * cos(tensor([0, Math.PI])) // [1, -1]
 * @since 0.1.0
 */
export const cos = (x: Tensor): Tensor => applyOp(cosOp, [x], undefined)
