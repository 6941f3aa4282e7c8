import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'

/**
 * A per-feature affine rescaling `x' = (x − shift) / scale`, fitted on training data and then
 * applied unchanged to validation and test data (fitting on test data leaks information).
 * `shift` and `scale` have the per-example shape of the data they were fitted on.
 * @since 0.1.0
 */
export interface Scaling {
  readonly shift: Tensor
  readonly scale: Tensor
}

const requireExamples = (op: string, x: Tensor): void => {
  if (x.shape.length === 0 || x.shape[0] === 0)
    throw new T.ShapeError(op, `x has shape ${T.fmtShape(x.shape)}; expected [N, ...] with N >= 1 examples`)
  if (!T.isFloat(x.dtype))
    throw new T.DTypeError(op, `x has dtype ${x.dtype}; expected float32 or float64 (cast it with astype)`)
}

/** Replaces zero spreads (constant features) by 1, so constant features map to 0 instead of NaN. */
const nonZero = (spread: Tensor): Tensor => T.where(T.equal(spread, 0), 1, spread)

/**
 * Standardisation: per feature (over the example axis 0), `shift` = mean and `scale` = population
 * standard deviation (constant features get scale 1).
 * @example
 * const scaling = fitStandardize(train.x)
 * const trainX = applyScaling(train.x, scaling), testX = applyScaling(test.x, scaling)
 * @since 0.1.0
 */
export const fitStandardize = (x: Tensor): Scaling => {
  requireExamples('fitStandardize', x)
  const shift = T.mean(x, { axes: 0 })
  const variance = T.mean(T.square(T.sub(x, shift)), { axes: 0 })
  return { shift, scale: nonZero(T.sqrt(variance)) }
}

/**
 * Min-max scaling to [0, 1]: per feature, `shift` = minimum and `scale` = maximum − minimum (constant
 * features get scale 1). For data with a known range (pixels 0..255) dividing by the range is simpler.
 * @since 0.1.0
 */
export const fitMinMax = (x: Tensor): Scaling => {
  requireExamples('fitMinMax', x)
  const shift = T.min(x, { axes: 0 })
  return { shift, scale: nonZero(T.sub(T.max(x, { axes: 0 }), shift)) }
}

/**
 * Applies a fitted `Scaling`: `(x − shift) / scale`, broadcast over the examples of `x`.
 * @since 0.1.0
 */
export const applyScaling = (x: Tensor, scaling: Scaling): Tensor => {
  if (!T.shapesEqual(x.shape.slice(1), scaling.shift.shape))
    throw new T.ShapeError(
      'applyScaling',
      `x has shape ${T.fmtShape(x.shape)} but the scaling was fitted on examples of shape ${T.fmtShape(scaling.shift.shape)}; ` +
        'expected [N, ...that shape]',
    )
  return T.div(T.sub(x, scaling.shift), scaling.scale)
}
