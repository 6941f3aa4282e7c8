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

/** Refuses operands of two shapes (the op does not broadcast: its VJP returns cotangents of `ct`'s shape). */
const requireOneShape = (ct: { readonly shape: T.Shape }, y: { readonly shape: T.Shape }): void => {
  if (!T.shapesEqual(ct.shape, y.shape))
    throw new T.ShapeError(
      'reluGrad',
      `ct has shape ${T.fmtShape(ct.shape)} and y ${T.fmtShape(y.shape)}; expected one shape (reluGrad does not broadcast)`,
    )
}

/** The `reluGrad` op: inputs `[ct, y]`. @since 0.1.0 */
export const reluGradOp = defineOp<'reluGrad', [Tensor, Tensor]>({
  name: 'reluGrad',
  // A select, not a product with the mask: exactly ct or 0 (no NaN from 0 · ∞, no −0).
  forward: ([ct, y]) => {
    requireOneShape(ct, y)
    return T.where(T.greater(y, 0), ct, 0)
  },
  // The same check, then the shape functions of the kernels the forward calls.
  abstract: ([ct, y]) => {
    requireOneShape(ct, y)
    return T.whereOutput(T.binaryOutput('greater', y, 0), ct, 0)
  },
  vjp: (cotangent, [, y], _z, _p, needed) => [
    needed[0] ? reluGrad(cotangent, y) : undefined,
    needed[1] ? T.zeros(y.shape, y.dtype) : undefined,
  ],
  // Not `batchElementwise`: the op wants both operands of one shape (it does not broadcast), so
  // the operands line up on the mapped operand's examples' axis.
  batch: ([ct, y], [ctAxis, yAxis], p, self): Batched => {
    if (ctAxis !== undefined)
      return [
        self([ct, yAxis === undefined ? repeatAlong(y, ctAxis, ct.shape) : moveAxis(y, yAxis, ctAxis)], p),
        ctAxis,
      ]
    if (yAxis !== undefined) return [self([repeatAlong(ct, yAxis, y.shape), y], p), yAxis]
    throw new T.TraceError('reluGrad', 'the batching rule ran with no mapped operand (a bug in backfold)')
  },
  // A select, as forward: ct where y > 0, else 0.
  onnx: (b, [ct, y], _p, { inputs: [, ay], output }) =>
    b.node('Where', [b.node('Greater', [y, b.scalar(0, ay.dtype)]), ct, b.scalar(0, output.dtype)]),
})

/**
 * ReLU's backward pass as a differentiable op: `ct` where `y > 0`, else 0, for `ct` and `y` of one
 * shape. `y` is the ReLU's output or input (same sign). The VJPs of `relu` and of
 * `linear(..., 'relu')` use it, so their backward pass reads as one named step.
 * @example
 * reluGrad(tensor([5, 6, 7]), tensor([-1, 0, 2])) // [0, 0, 7]
 * @throws ShapeError when `ct` and `y` differ in shape (it does not broadcast).
 * @since 0.1.0
 */
export const reluGrad = (ct: Tensor, y: Tensor): Tensor => {
  // Before applyOp: the error names reluGrad wherever it is called (eager, traced or staged).
  requireOneShape(ct, y)
  return applyOp(reluGradOp, [ct, y], undefined)
}
