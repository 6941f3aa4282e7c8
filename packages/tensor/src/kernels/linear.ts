import { getBackend, type Activation } from '../backend'
import { promoteTypes, isFloat } from '../dtype'
import { DTypeError, ShapeError, ValueError, fmtShape } from '../errors'
import { requireConcrete, type Tensor } from '../tensor'
import { matmulPlan } from './matmul'

/**
 * The dense layer `activation(x wᵀ + b)` as one kernel: `x` [batch, in], `w` [out, in] (PyTorch's
 * layout), `b` [out] or undefined; activation `'none'` (default) or `'relu'`. Same values as
 * `add(matmul(x, w, { transposeB: true }), b)` then `relu`, with one pass over the output instead of
 * three. Float dtypes only (they promote like matmul).
 * @example
 * linear(x, w, b, 'relu') // relu(x wᵀ + b)
 * @since 0.1.0
 */
export const linear = (x: Tensor, w: Tensor, b?: Tensor, activation: Activation = 'none'): Tensor => {
  requireConcrete('linear', 'x', x)
  requireConcrete('linear', 'w', w)
  if (b !== undefined) requireConcrete('linear', 'b', b)
  if (activation !== 'none' && activation !== 'relu')
    throw new ValueError('linear', `activation must be 'none' or 'relu', got ${String(activation)}`)
  if (x.shape.length !== 2 || w.shape.length !== 2)
    throw new ShapeError(
      'linear',
      `x has shape ${fmtShape(x.shape)} and w has shape ${fmtShape(w.shape)}; expected x [batch, in] and w [out, in]`,
    )
  const { spec, outShape } = matmulPlan(x.shape, w.shape, { transposeB: true })
  if (b !== undefined && (b.shape.length !== 1 || b.shape[0] !== spec.n))
    throw new ShapeError(
      'linear',
      `b has shape ${fmtShape(b.shape)}; expected [${spec.n}] (one bias per output of w ${fmtShape(w.shape)})`,
    )
  const dtype = promoteTypes(promoteTypes(x.dtype, w.dtype), b?.dtype ?? x.dtype)
  if (!isFloat(dtype)) throw new DTypeError('linear', `operands are int32; linear needs float32 or float64`)
  const backend = getBackend()
  const as = (t: Tensor): Tensor => (t.dtype === dtype ? t : backend.cast(t, dtype))
  const y = backend.linear(as(x), as(w), b === undefined ? undefined : as(b), activation, spec)
  return y.shape.length === outShape.length ? y : { dtype, shape: outShape, data: y.data }
}
