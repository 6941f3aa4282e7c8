import { shapesEqual, type Shape, type Tensor } from '@backfold/tensor'
import { sum } from '../reduce/sum'
import { reshape } from '../shape/reshape'

/**
 * Sums a cotangent back down to the shape of an input that was broadcast: over the leading axes
 * broadcasting added and over every axis where the input had size 1. Every broadcasting op's VJP
 * ends with this one function, so the rule lives in exactly one place.
 * @example
 * // x: [3, 1] broadcast against [4] gave y: [3, 4]; x̄ = unbroadcast(ȳ, [3, 1])
 * @since 0.1.0
 */
export const unbroadcast = (cotangent: Tensor, shape: Shape): Tensor => {
  if (shapesEqual(cotangent.shape, shape)) return cotangent
  const lead = cotangent.shape.length - shape.length
  const axes: number[] = []
  cotangent.shape.forEach((d, i) => {
    if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i)
  })
  const summed = axes.length > 0 ? sum(cotangent, { axis: axes }) : cotangent
  return reshape(summed, shape)
}
