import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'

/**
 * Rejects a prediction/target pair whose shapes differ. Losses never broadcast: `[N, 1]` against `[N]`
 * would silently average an N×N table of differences, a classic bug.
 * @internal
 */
export const requireSameShape = (
  op: string,
  first: Tensor,
  second: Tensor,
  firstName: string,
  secondName: string,
): void => {
  if (!T.shapesEqual(first.shape, second.shape))
    throw new T.ShapeError(
      op,
      `${firstName} has shape ${T.fmtShape(first.shape)} but ${secondName} has shape ${T.fmtShape(second.shape)}; ` +
        'expected equal shapes (losses do not broadcast: reshape one of them)',
    )
}

/** Rejects integer tensors where real values are needed (predictions, logits). @internal */
export const requireFloat = (op: string, x: Tensor, name: string): void => {
  if (!T.isFloat(x.dtype))
    throw new T.DTypeError(
      op,
      `${name} has dtype ${x.dtype}; expected float32 or float64 (cast it with astype)`,
    )
}

/** Rejects a non-finite or negative coefficient (λ, δ, ...). @internal */
export const requireNonNegative = (op: string, value: number, name: string): void => {
  if (!Number.isFinite(value) || value < 0)
    throw new T.ValueError(op, `${name} must be a finite number >= 0, got ${value}`)
}

/**
 * Checks int32 class indices against `numClasses` and throws a `ValueError` naming the first bad one.
 * @internal
 */
export const requireClassIndices = (
  op: string,
  labels: Tensor,
  numClasses: number,
  name = 'labels',
): void => {
  if (labels.dtype !== 'int32')
    throw new T.DTypeError(op, `${name} has dtype ${labels.dtype}; expected int32 class indices`)
  const data = labels.data
  for (let i = 0; i < data.length; i++) {
    const label = data[i]!
    if (label < 0 || label >= numClasses)
      throw new T.ValueError(
        op,
        `${name}[${i}] is ${label}, outside the ${numClasses} classes; expected an index in [0, ${numClasses - 1}]`,
      )
  }
}
