// y = max(x, 0) ; x̄ = ȳ [x > 0]
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { reluGrad } from './reluGrad'

/** The `relu` op. @since 0.1.0 */
export const reluOp = defineOp<'relu', [Tensor]>({
  name: 'relu',
  forward: ([x]) => T.relu(x),
  abstract: ([x]) => ({ shape: x.shape, dtype: T.unaryDType('relu', x.dtype) }),
  vjp: (ct, [x]) => [reluGrad(ct, x)],
  batch: batchElementwise,
  // ONNX Relu has no int32 kernel in ORT: max(x, 0) there.
  onnx: (b, [x], _p, { output }) =>
    output.dtype === 'int32' ? b.node('Max', [x, b.scalar(0, 'int32')]) : b.node('Relu', [x]),
})

/**
 * Rectified linear unit, elementwise. int32 stays int32.
 * Gradient convention (PyTorch's): relu'(0) = 0.
 * @example
 * relu(tensor([-1, 0, 2])) // [0, 0, 2]
 * @since 0.1.0
 */
export const relu = (x: Tensor): Tensor => applyOp(reluOp, [x], undefined)
