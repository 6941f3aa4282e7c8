// y = erf x ; x̄ = ȳ (2/√π) e^(−x²)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { mul } from '../binary/mul'
import { exp } from './exp'
import { neg } from './neg'
import { square } from './square'
import { unaryOnnx } from '../staging/onnx/rules'

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI)

/** The `erf` op. @since 0.1.0 */
export const erfOp = defineOp<'erf', [Tensor]>({
  name: 'erf',
  forward: ([x]) => T.erf(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('erf', x.dtype) }),
  vjp: (ct, [x]) => [mul(ct, mul(exp(neg(square(x))), TWO_OVER_SQRT_PI))],
  batch: batchElementwise,
  onnx: unaryOnnx('Erf'),
})

/**
 * The error function, elementwise. int32 input gives float32.
 * @example
 * erf(tensor([0, 1])) // [0, 0.8427]
 * @since 0.1.0
 */
export const erf = (x: Tensor): Tensor => applyOp(erfOp, [x], undefined)
