import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'

/**
 * Turns the operands of a binary op into tensors. A plain number is "weak": it takes the dtype of
 * the tensor it meets, so `mul(x, 2)` keeps `x.dtype`; two numbers give float32 scalars. As in the
 * kernels (one rule, `weakNumberDType`), a number that is not an int32 value (2.5, NaN, 1e10) next
 * to an int32 tensor becomes a float32 scalar, so `mul(x, 2.5)` is float32 rather than an error.
 * Done before `applyOp`, so ops only ever see tensors.
 * @since 0.1.0
 */
export const operands = (a: Tensor | number, b: Tensor | number): [Tensor, Tensor] => {
  if (typeof a === 'number')
    return typeof b === 'number'
      ? [T.scalar(a, 'float32'), T.scalar(b, 'float32')]
      : [T.scalar(a, T.weakNumberDType(a, b.dtype)), b]
  return [a, typeof b === 'number' ? T.scalar(b, T.weakNumberDType(b, a.dtype)) : b]
}
