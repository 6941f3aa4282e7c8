// y = sin x ; x̄ = ȳ cos x
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { mul } from '../binary/mul'
import { cos } from './cos'
import { unaryOnnx } from '../staging/onnx/rules'

/** The `sin` op. @since 0.1.0 */
export const sinOp = defineOp<'sin', [Tensor]>({
  name: 'sin',
  forward: ([x]) => T.sin(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('sin', x.dtype) }),
  vjp: (ct, [x]) => [mul(ct, cos(x))],
  batch: batchElementwise,
  onnx: unaryOnnx('Sin'),
})

/**
 * Sine, elementwise (radians). int32 input gives float32.
 * @example
 * sin(tensor([0, Math.PI / 2])) // [0, 1]
 * @since 0.1.0
 */
export const sin = (x: Tensor): Tensor => applyOp(sinOp, [x], undefined)
