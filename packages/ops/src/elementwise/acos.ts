// y = acos x ; x̄ = −ȳ / √(1 − x²)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { float32OnlyUnaryOnnx } from '../internal/onnxLowering'
import { mul } from '../binary/mul'
import { sub } from '../binary/sub'
import { square } from './square'
import { rsqrt } from './rsqrt'
import { neg } from './neg'

/** The `acos` op. @since 0.2.0 */
export const acosOp = defineOp<'acos', [Tensor]>({
  name: 'acos',
  forward: ([x]) => T.acos(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('acos', x.dtype) }),
  vjp: (ct, [x]) => [neg(mul(ct, rsqrt(sub(1, square(x)))))],
  batch: batchElementwise,
  onnx: float32OnlyUnaryOnnx('Acos'),
})

/**
 * Inverse cosine, elementwise, in [0, π]; NaN outside [-1, 1] (and an infinite derivative at ±1). int32 input gives float32.
 * @example
 * acos(tensor([1, 0])) // [0, 1.5708]
 * @since 0.2.0
 */
export const acos = (x: Tensor): Tensor => applyOp(acosOp, [x], undefined)
