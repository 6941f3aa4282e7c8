// y = sign x ; x̄ = 0 (piecewise constant)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { zeroCotangents } from '../core/zeroCotangents'

/** The `sign` op. @since 0.1.0 */
export const signOp = defineOp<'sign', [Tensor]>({
  name: 'sign',
  forward: ([x]) => T.sign(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('sign', x.dtype) }),
  vjp: zeroCotangents,
  batch: batchElementwise,
  // ONNX Sign gives +0 for −0, and ONNX Runtime's Where never outputs −0, so ±0 is restored with
  // arithmetic: (Sign(x) + z) · x^z with z = [x = 0] is ±1, or NaN, elsewhere and 1 · x at zeros.
  onnx: (b, [x], _p, { inputs: [ax] }) => {
    if (ax.dtype === 'int32') return b.node('Sign', [x])
    const z = b.cast(b.node('Equal', [x, b.scalar(0, ax.dtype)]), 'bool', ax.dtype)
    return b.node('Mul', [b.node('Add', [b.node('Sign', [x]), z]), b.node('Pow', [x, z])])
  },
})

/**
 * Sign, elementwise: −1, 0 or 1 (sign(0) = 0). int32 stays int32.
 * Not differentiable in any useful sense: its VJP is explicitly zero.
 * @example
 * sign(tensor([-3, 0, 2])) // [-1, 0, 1]
 * @since 0.1.0
 */
export const sign = (x: Tensor): Tensor => applyOp(signOp, [x], undefined)
