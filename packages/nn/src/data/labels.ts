import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { dataError } from './error'
import type { DataError } from './error'

/** Options of `validateLabels`. @since 0.1.0 */
export interface ValidateLabelsOptions {
  /** Named in the error message (default `'labels'`). */
  readonly source?: string
}

/**
 * Checks that `labels` are int32 class indices of shape `[N]` in `[0, numClasses)` and returns them
 * unchanged, or a `Left` naming the first bad example (and how many are bad). Run it on labels read
 * from a file before training: an out-of-range class index would otherwise fail deep inside a loss.
 * @example
 * validateLabels(T.tensor([0, 3, 9], 'int32'), 10)  // Right(labels)
 * validateLabels(T.tensor([0, 10], 'int32'), 10)    // Left: labels[1] is 10, outside [0, 9] (1 of 2 labels out of range)
 * @since 0.1.0
 */
export const validateLabels = (
  labels: Tensor,
  numClasses: number,
  opts: ValidateLabelsOptions = {},
): E.Either<DataError, Tensor> => {
  const source = opts.source ?? 'labels'
  if (!Number.isInteger(numClasses) || numClasses <= 0)
    return E.left(dataError(source, `numClasses must be a positive integer, got ${numClasses}`))
  if (labels.dtype !== 'int32')
    return E.left(dataError(source, `labels have dtype ${labels.dtype}; expected int32 class indices`))
  if (labels.shape.length !== 1)
    return E.left(
      dataError(
        source,
        `labels have shape ${T.fmtShape(labels.shape)}; expected one class index per example, shape [N]`,
      ),
    )
  const data = labels.data
  let firstBad = -1
  let badCount = 0
  for (let i = 0; i < data.length; i++) {
    const label = data[i]!
    if (label < 0 || label >= numClasses) {
      if (firstBad === -1) firstBad = i
      badCount++
    }
  }
  if (firstBad !== -1)
    return E.left(
      dataError(
        source,
        `labels[${firstBad}] is ${data[firstBad]!}, outside the ${numClasses} classes [0, ${numClasses - 1}] ` +
          `(${badCount} of ${data.length} labels out of range)`,
      ),
    )
  return E.right(labels)
}
