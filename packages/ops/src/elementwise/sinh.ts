// y = sinh x ; x̄ = ȳ cosh x
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { float32OnlyUnaryOnnx } from '../internal/onnxLowering'
import { mul } from '../binary/mul'
import { cosh } from './cosh'

/** The `sinh` op. @since 0.2.0 */
export const sinhOp = defineOp<'sinh', [Tensor]>({
  name: 'sinh',
  forward: ([x]) => T.sinh(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('sinh', x.dtype) }),
  vjp: (ct, [x]) => [mul(ct, cosh(x))],
  batch: batchElementwise,
  onnx: float32OnlyUnaryOnnx('Sinh'),
})

/**
 * Hyperbolic sine, elementwise. int32 input gives float32.
 * @example
 * sinh(tensor([0, 1])) // [0, 1.1752]
 * @since 0.2.0
 */
export const sinh = (x: Tensor): Tensor => applyOp(sinhOp, [x], undefined)
