// y = cond ? a : b ; c̄ond = 0, ā = ȳ [cond], b̄ = ȳ [¬cond] (each summed back to its shape)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { unbroadcast } from '../core/unbroadcast'
import { operands } from '../internal/operands'

/** The `where` op (inputs: cond, a, b). @since 0.1.0 */
export const whereOp = defineOp<'where', [Tensor, Tensor, Tensor]>({
  name: 'where',
  forward: ([cond, a, b]) => T.where(cond, a, b),
  abstract: ([cond, a, b]) => T.whereOutput(cond, a, b),
  vjp: (ct, [cond, a, b], _y, _p, needed) => [
    needed[0] ? T.zeros(cond.shape, cond.dtype) : undefined,
    needed[1] ? unbroadcast(where(cond, ct, 0), a.shape) : undefined,
    needed[2] ? unbroadcast(where(cond, 0, ct), b.shape) : undefined,
  ],
  batch: batchElementwise,
  // NaN in cond counts as true, as Cast to bool makes it.
  onnx: (b, [c, x, y], _p, { inputs: [ac, ax, ay], output }) =>
    b.node('Where', [
      b.cast(c, ac.dtype, 'bool'),
      b.cast(x, ax.dtype, output.dtype),
      b.cast(y, ay.dtype, output.dtype),
    ]),
})

/**
 * Elementwise select: `a` where `cond` is nonzero, else `b`. The three operands broadcast together;
 * the result has the promoted dtype of `a` and `b` (a plain number takes the other's dtype; two
 * numbers give float32). `cond` (usually an int32 mask from a comparison) gets a zero gradient.
 *
 * Beware the usual trap: the branch not taken still has a gradient of 0 times its derivative, so a
 * branch that is infinite where it is not selected (`log(x)` at x = 0) poisons the gradient with NaN.
 * Feed such branches a safe input, e.g. `where(ok, log(where(ok, x, 1)), 0)`.
 * @example
 * where(greater(x, 0), x, 0) // relu
 * @throws ShapeError when the shapes do not broadcast.
 * @since 0.1.0
 */
export const where = (cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor => {
  const [ifTrue, ifFalse] = operands(a, b)
  return applyOp(whereOp, [cond, ifTrue, ifFalse], undefined)
}
