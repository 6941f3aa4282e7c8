// y = tan x ; x̄ = ȳ (1 + y²)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { float32OnlyUnaryOnnx } from '../internal/onnxLowering'
import { mul } from '../binary/mul'
import { add } from '../binary/add'
import { square } from './square'

/** The `tan` op. @since 0.2.0 */
export const tanOp = defineOp<'tan', [Tensor]>({
  name: 'tan',
  forward: ([x]) => T.tan(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('tan', x.dtype) }),
  vjp: (ct, _xs, y) => [mul(ct, add(1, square(y)))],
  batch: batchElementwise,
  onnx: float32OnlyUnaryOnnx('Tan'),
})

/**
 * Tangent, elementwise (radians). int32 input gives float32.
 * @example
 * tan(tensor([0, Math.PI / 4])) // [0, 1]
 * @since 0.2.0
 */
export const tan = (x: Tensor): Tensor => applyOp(tanOp, [x], undefined)
