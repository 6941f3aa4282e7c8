// y = |x| ; x̄ = ȳ sign(x)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { mul } from '../binary/mul'
import { sign } from './sign'
import { unaryOnnx } from '../staging/onnx/rules'

/** The `abs` op. @since 0.1.0 */
export const absOp = defineOp<'abs', [Tensor]>({
  name: 'abs',
  forward: ([x]) => T.abs(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('abs', x.dtype) }),
  vjp: (ct, [x]) => [mul(ct, sign(x))],
  batch: batchElementwise,
  onnx: unaryOnnx('Abs'),
})

/**
 * Absolute value, elementwise. int32 stays int32.
 * Gradient convention (PyTorch's): abs'(0) = 0, since sign(0) = 0.
 * @example
 * abs(tensor([-1.5, 2])) // [1.5, 2]
 * @since 0.1.0
 */
export const abs = (x: Tensor): Tensor => applyOp(absOp, [x], undefined)
