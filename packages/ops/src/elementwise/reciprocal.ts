// y = 1/x ; x̄ = −ȳ y²
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { mul } from '../binary/mul'
import { neg } from './neg'
import { square } from './square'
import { unaryOnnx } from '../staging/onnx/rules'

/** The `reciprocal` op. @since 0.1.0 */
export const reciprocalOp = defineOp<'reciprocal', [Tensor]>({
  name: 'reciprocal',
  forward: ([x]) => T.reciprocal(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('reciprocal', x.dtype) }),
  vjp: (ct, _xs, y) => [neg(mul(ct, square(y)))],
  batch: batchElementwise,
  onnx: unaryOnnx('Reciprocal'),
})

/**
 * 1/x, elementwise. int32 input gives float32.
 * @example
 * reciprocal(tensor([2, -4])) // [0.5, -0.25]
 * @since 0.1.0
 */
export const reciprocal = (x: Tensor): Tensor => applyOp(reciprocalOp, [x], undefined)
