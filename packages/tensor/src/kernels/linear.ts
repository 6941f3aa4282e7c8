import { getBackend, type Activation, type MatmulSpec } from '../backend'
import type { DType } from '../dtype'
import { promoteTypes, isFloat } from '../dtype'
import { DTypeError, ShapeError, ValueError, fmtShape } from '../errors'
import { requireConcrete, type Tensor } from '../tensor'
import { matmulPlan } from './matmul'

/** What a plan reads of a value: its shape and dtype, never its data (so it may be abstract). */
type Described = Pick<Tensor, 'shape' | 'dtype'>

/**
 * The fused dense layer's validated product with its result's shape and dtype: what the kernel
 * computes with, and all an abstract evaluation (staging) needs.
 * @since 0.2.0
 */
export interface LinearPlan {
  readonly spec: MatmulSpec
  readonly shape: number[]
  readonly dtype: DType
}

/**
 * Validates `linear(x, w, b, activation)` from the operands' shapes and dtypes: `x` [batch, in], `w`
 * [out, in], `b` [out] or undefined, a float result dtype; the result is [batch, out] in the
 * promoted dtype. Throws the `ShapeError`, `DTypeError` or `ValueError` the kernel would.
 * @example
 * linearPlan({ shape: [8, 3], dtype: 'float32' }, { shape: [4, 3], dtype: 'float32' }).shape // [8, 4]
 * @since 0.2.0
 */
export const linearPlan = (
  x: Described,
  w: Described,
  b?: Described,
  activation: Activation = 'none',
): LinearPlan => {
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
  return { spec, shape: [...outShape], dtype }
}

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
  const { spec, shape, dtype } = linearPlan(x, w, b, activation)
  const backend = getBackend()
  const as = (t: Tensor): Tensor => (t.dtype === dtype ? t : backend.cast(t, dtype))
  const y = backend.linear(as(x), as(w), b === undefined ? undefined : as(b), activation, spec)
  return y.shape.length === shape.length ? y : { dtype, shape, data: y.data }
}
