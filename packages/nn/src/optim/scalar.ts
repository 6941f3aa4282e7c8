import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'

/**
 * A value computed from the optimizer's step count: a plain number when a schedule is called on
 * one (plotting, checking), a scalar tensor inside an optimizer update, where the count is a tensor
 * so that `jit` can stage the update (a number would be a fixed part of the signature, staged anew
 * at every step). Each schedule's formula is written once over these helpers; a number meets a
 * number in plain arithmetic, anything else goes through the ops (float64 when the step is).
 * @internal
 */
export type Scalar = number | Tensor

const numbers = (a: Scalar, b: Scalar): [number, number] | undefined =>
  typeof a === 'number' && typeof b === 'number' ? [a, b] : undefined

/** @internal */
export const add = (a: Scalar, b: Scalar): Scalar => {
  const n = numbers(a, b)
  return n === undefined ? O.add(a, b) : n[0] + n[1]
}
/** @internal */
export const sub = (a: Scalar, b: Scalar): Scalar => {
  const n = numbers(a, b)
  return n === undefined ? O.sub(a, b) : n[0] - n[1]
}
/** @internal */
export const mul = (a: Scalar, b: Scalar): Scalar => {
  const n = numbers(a, b)
  return n === undefined ? O.mul(a, b) : n[0] * n[1]
}
/** @internal */
export const div = (a: Scalar, b: Scalar): Scalar => {
  const n = numbers(a, b)
  return n === undefined ? O.div(a, b) : n[0] / n[1]
}
/** @internal */
export const pow = (a: Scalar, b: Scalar): Scalar => {
  const n = numbers(a, b)
  return n === undefined ? O.pow(a, b) : n[0] ** n[1]
}
/** @internal */
export const min = (a: Scalar, b: Scalar): Scalar => {
  const n = numbers(a, b)
  return n === undefined ? O.minimum(a, b) : Math.min(n[0], n[1])
}
/** @internal */
export const max = (a: Scalar, b: Scalar): Scalar => {
  const n = numbers(a, b)
  return n === undefined ? O.maximum(a, b) : Math.max(n[0], n[1])
}
/** @internal */
export const floor = (a: Scalar): Scalar => (typeof a === 'number' ? Math.floor(a) : O.floor(a))
/** @internal */
export const cos = (a: Scalar): Scalar => (typeof a === 'number' ? Math.cos(a) : O.cos(a))

/** `a < b ? then : otherwise`, elementwise (`where`) when anything is a tensor. @internal */
export const ifLess = (a: Scalar, b: Scalar, then: Scalar, otherwise: Scalar): Scalar => {
  if (
    typeof a === 'number' &&
    typeof b === 'number' &&
    typeof then === 'number' &&
    typeof otherwise === 'number'
  )
    return a < b ? then : otherwise
  // Number branches take the dtype of the tensor compared (a float64 step keeps float64 values).
  const like = [a, b, then, otherwise].find((x): x is Tensor => typeof x !== 'number')!
  const asTensor = (x: Scalar): Tensor => (typeof x === 'number' ? T.scalar(x, like.dtype) : x)
  return O.where(O.less(a, b), asTensor(then), asTensor(otherwise))
}

/** A fresh step count: an int32 scalar 0. @internal */
export const initialCount = (): Tensor => T.scalar(0, 'int32')

/**
 * The step count of optimizer state as a tensor. State saved by backfold 0.2 and earlier holds
 * the count as a plain number: it is taken as that count (and a count that is neither is refused).
 * @internal
 */
export const countTensor = (where: string, count: unknown): Tensor => {
  if (T.isTensor(count) && count.shape.length === 0) return count
  if (typeof count === 'number' && Number.isSafeInteger(count) && count >= 0) return T.scalar(count, 'int32')
  throw new T.ValueError(
    where,
    `the optimizer state's count must be an int32 scalar tensor (as init(params) makes it), got ${
      T.isTensor(count) ? `a tensor of shape ${T.fmtShape(count.shape)}` : String(count)
    }`,
  )
}

/** The count after one more update. @internal */
export const nextCount = (count: Tensor): Tensor => O.add(count, 1)

/** The count as a float64 scalar, what schedules and bias corrections compute with (as plain numbers would). @internal */
export const stepOf = (count: Tensor): Tensor => O.astype(count, 'float64')

/** `value` in `dtype` to multiply a tensor of that dtype with (a number stays a weak number). @internal */
export const inDType = (value: Scalar, dtype: T.DType): Scalar =>
  typeof value === 'number' || value.dtype === dtype ? value : O.astype(value, dtype)
