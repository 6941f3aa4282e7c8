// z = [y > 0] ⊙ c (ReLU's backward pass) ; c̄ = [y > 0] ⊙ z̄, ȳ = 0 (the mask is piecewise constant in y)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'

/** The `reluGrad` op: inputs `[ct, y]`. @since 0.1.0 */
export const reluGradOp = defineOp({
  name: 'reluGrad',
  // One fused pass for floats of one dtype; mixed dtypes compose the same values from kernels.
  forward: ([ct, y]) =>
    ct!.dtype === y!.dtype && ct!.dtype !== 'int32'
      ? T.reluGrad(ct!, y!)
      : T.mul(ct!, T.astype(T.greater(y!, 0), ct!.dtype)),
  vjp: (cotangent, [, y], _z, _p, needed) => [
    needed[0] !== false ? reluGrad(cotangent, y!) : undefined,
    needed[1] !== false ? T.zeros(y!.shape, y!.dtype) : undefined,
  ],
})

/**
 * ReLU's backward pass as a differentiable op: `ct` where `y > 0`, else 0, for `ct` and `y` of one
 * shape. `y` is the ReLU's output or input (same sign). The VJPs of `relu` and of `linear(..., 'relu')` use it: one pass instead
 * of a comparison, an int32 mask and a select.
 * @example
 * reluGrad(tensor([5, 6, 7]), tensor([-1, 0, 2])) // [0, 0, 7]
 * @since 0.1.0
 */
export const reluGrad = (ct: Tensor, y: Tensor): Tensor => applyOp(reluGradOp, [ct, y], undefined)
