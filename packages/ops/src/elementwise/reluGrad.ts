// z = [y > 0] ⊙ c (ReLU's backward pass) ; c̄ = [y > 0] ⊙ z̄, ȳ = 0 (the mask is piecewise constant in y)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp, type Batched } from '../core/op'
import { moveAxis } from '../core/batching'
import { broadcastTo } from '../shape/broadcastTo'
import { reshape } from '../shape/reshape'

/** An unmapped operand repeated along a new axis `axis`, to match a mapped one of shape `batchShape`. */
const repeatAlong = (x: Tensor, axis: number, batchShape: ReadonlyArray<number>): Tensor =>
  broadcastTo(reshape(x, [...x.shape.slice(0, axis), 1, ...x.shape.slice(axis)]), batchShape)

/** Whether the fused kernel applies: floats of one dtype (mixed dtypes compose the same values from kernels). */
const fusable = (ct: Tensor, y: Tensor): boolean => ct.dtype === y.dtype && ct.dtype !== 'int32'

/** The `reluGrad` op: inputs `[ct, y]`. @since 0.1.0 */
export const reluGradOp = defineOp<'reluGrad', [Tensor, Tensor]>({
  name: 'reluGrad',
  forward: ([ct, y]) => (fusable(ct, y) ? T.reluGrad(ct, y) : T.mul(ct, T.astype(T.greater(y, 0), ct.dtype))),
  // The forward's two paths, each through its kernels' shape functions.
  abstract: ([ct, y]) =>
    fusable(ct, y)
      ? T.reluGradOutput(ct, y)
      : T.binaryOutput('mul', ct, T.astypeOutput(T.binaryOutput('greater', y, 0), ct.dtype)),
  vjp: (cotangent, [, y], _z, _p, needed) => [
    needed[0] ? reluGrad(cotangent, y) : undefined,
    needed[1] ? T.zeros(y.shape, y.dtype) : undefined,
  ],
  // Not `batchElementwise`: the fused kernel wants both operands of one shape, so instead of
  // broadcasting against a size-1 axis the operands line up on the mapped operand's examples' axis.
  batch: ([ct, y], [ctAxis, yAxis], p, self): Batched => {
    if (ctAxis !== undefined)
      return [
        self([ct, yAxis === undefined ? repeatAlong(y, ctAxis, ct.shape) : moveAxis(y, yAxis, ctAxis)], p),
        ctAxis,
      ]
    if (yAxis !== undefined) return [self([repeatAlong(ct, yAxis, y.shape), y], p), yAxis]
    throw new T.TraceError('reluGrad', 'the batching rule ran with no mapped operand (a bug in backfold)')
  },
})

/**
 * ReLU's backward pass as a differentiable op: `ct` where `y > 0`, else 0, for `ct` and `y` of one
 * shape. `y` is the ReLU's output or input (same sign). The VJPs of `relu` and of `linear(..., 'relu')` use it: one pass instead
 * of a comparison, an int32 mask and a select.
 * @example
 * reluGrad(tensor([5, 6, 7]), tensor([-1, 0, 2])) // [0, 0, 7]
 * @throws ShapeError when `ct` and `y` differ in shape (it does not broadcast).
 * @since 0.1.0
 */
export const reluGrad = (ct: Tensor, y: Tensor): Tensor => {
  // The mixed-dtype forward would broadcast, and the VJP would then return a cotangent of the wrong shape.
  if (!T.shapesEqual(ct.shape, y.shape))
    throw new T.ShapeError(
      'reluGrad',
      `ct has shape ${T.fmtShape(ct.shape)} and y ${T.fmtShape(y.shape)}; expected one shape (reluGrad does not broadcast)`,
    )
  return applyOp(reluGradOp, [ct, y], undefined)
}
