import type { Tensor } from '../../tensor'
import { unsafeTensor } from '../../tensor'

/**
 * `Backend.argsort` of the reference backend: per line along `axis`, the positions in sorted order.
 * JavaScript's sort is stable, so ties keep their original order in both directions. NaN sorts
 * as larger than +Infinity (last ascending, first descending), as NumPy and PyTorch order it.
 * @internal
 */
export const argsort = (x: Tensor, axis: number, descending: boolean): Tensor => {
  const { shape, data } = x
  const out = new Int32Array(data.length)
  const length = shape[axis] ?? 1
  let inner = 1
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!
  const outer = length * inner === 0 ? 0 : data.length / (length * inner)
  const order = new Array<number>(length)
  const line = new Float64Array(length)
  // Ascending with NaN above everything; descending is the same order reversed on values only.
  const ascending = (a: number, b: number): number => {
    const va = line[a]!
    const vb = line[b]!
    if (va !== va) return vb !== vb ? 0 : 1
    if (vb !== vb) return -1
    return va < vb ? -1 : va > vb ? 1 : 0
  }
  const compare = descending ? (a: number, b: number): number => ascending(b, a) : ascending
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const base = o * length * inner + i
      for (let k = 0; k < length; k++) {
        order[k] = k
        line[k] = data[base + k * inner]!
      }
      order.sort(compare)
      for (let k = 0; k < length; k++) out[base + k * inner] = order[k]!
    }
  return unsafeTensor('int32', shape, out)
}
