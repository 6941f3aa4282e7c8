import { isFloat, type DType } from '../dtype'
import { DTypeError, ShapeError, fmtShape } from '../errors'
import { shapesEqual, type Shape } from '../shape'
import { requireConcrete, type Tensor } from '../tensor'

/** Rejects operands that are not float tensors of one dtype and one shape. @internal */
export const requireSameFloat = (
  op: string,
  names: ReadonlyArray<string>,
  xs: ReadonlyArray<Tensor>,
): void => {
  for (let i = 0; i < xs.length; i++) requireConcrete(op, names[i] ?? `operand ${i}`, xs[i]!)
  checkSameFloat(op, names, xs)
}

/**
 * `requireSameFloat` on shapes and dtypes only (operands may be abstract): what a shape rule checks.
 * @internal
 */
export const checkSameFloat = (
  op: string,
  names: ReadonlyArray<string>,
  xs: ReadonlyArray<{ readonly shape: Shape; readonly dtype: DType }>,
): void => {
  const first = xs[0]!
  xs.forEach((x, i) => {
    if (!isFloat(x.dtype) || x.dtype !== first.dtype)
      throw new DTypeError(
        op,
        `${names[i]} has dtype ${x.dtype} and ${names[0]} ${first.dtype}; expected float tensors of one dtype`,
      )
    if (!shapesEqual(x.shape, first.shape))
      throw new ShapeError(
        op,
        `${names[i]} has shape ${fmtShape(x.shape)} and ${names[0]} ${fmtShape(first.shape)}; expected one shape (no broadcasting)`,
      )
  })
}
