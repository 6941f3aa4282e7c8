// y = cosh x ; x̄ = ȳ sinh x
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { float32OnlyUnaryOnnx } from '../internal/onnxLowering'
import { mul } from '../binary/mul'
import { sinh } from './sinh'

/** The `cosh` op. @since 0.2.0 */
export const coshOp = defineOp<'cosh', [Tensor]>({
  name: 'cosh',
  forward: ([x]) => T.cosh(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('cosh', x.dtype) }),
  vjp: (ct, [x]) => [mul(ct, sinh(x))],
  batch: batchElementwise,
  onnx: float32OnlyUnaryOnnx('Cosh'),
})

/**
 * Hyperbolic cosine, elementwise. int32 input gives float32.
 * @example
 * cosh(tensor([0, 1])) // [1, 1.5431]
 * @since 0.2.0
 */
export const cosh = (x: Tensor): Tensor => applyOp(coshOp, [x], undefined)
