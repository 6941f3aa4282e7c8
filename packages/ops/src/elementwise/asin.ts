// y = asin x ; x̄ = ȳ / √(1 − x²)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { float32OnlyUnaryOnnx } from '../internal/onnxLowering'
import { mul } from '../binary/mul'
import { sub } from '../binary/sub'
import { square } from './square'
import { rsqrt } from './rsqrt'

/** The `asin` op. @since 0.2.0 */
export const asinOp = defineOp<'asin', [Tensor]>({
  name: 'asin',
  forward: ([x]) => T.asin(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('asin', x.dtype) }),
  vjp: (ct, [x]) => [mul(ct, rsqrt(sub(1, square(x))))],
  batch: batchElementwise,
  onnx: float32OnlyUnaryOnnx('Asin'),
})

/**
 * Inverse sine, elementwise, in [-π/2, π/2]; NaN outside [-1, 1] (and an infinite derivative at ±1). int32 input gives float32.
 * @example
 * asin(tensor([0, 1])) // [0, 1.5708]
 * @since 0.2.0
 */
export const asin = (x: Tensor): Tensor => applyOp(asinOp, [x], undefined)
