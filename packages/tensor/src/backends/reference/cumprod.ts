import type { Tensor } from '../../tensor'
import { allocate } from '../../dtype'
import { unsafeTensor } from '../../tensor'

/**
 * `Backend.cumprod` of the reference backend: one pass along `axis` per line of the other axes,
 * the running product in a double (int32 wraps with `Math.imul`, as the reference `prod` does).
 * @internal
 */
export const cumprod = (x: Tensor, axis: number, exclusive: boolean, reverse: boolean): Tensor => {
  const { shape, dtype, data } = x
  const out = allocate(dtype, data.length)
  const length = shape[axis] ?? 1
  let inner = 1
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!
  const outer = length * inner === 0 ? 0 : data.length / (length * inner)
  const isInt = dtype === 'int32'
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const base = o * length * inner + i
      let running = 1
      for (let step = 0; step < length; step++) {
        const at = base + (reverse ? length - 1 - step : step) * inner
        const value = data[at]!
        if (exclusive) out[at] = running
        running = isInt ? Math.imul(running, value) : running * value
        if (!exclusive) out[at] = running
      }
    }
  return unsafeTensor(dtype, shape, out)
}
