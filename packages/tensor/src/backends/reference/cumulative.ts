import type { Tensor } from '../../tensor'
import { allocate } from '../../dtype'
import { unsafeTensor } from '../../tensor'

/**
 * One pass along `axis` per line of the other axes, the running value in a double (int32 wraps
 * like C: `Math.imul` for products, `| 0` for sums), each element stored before (`exclusive`) or
 * after being combined.
 */
const scanAlong = (
  x: Tensor,
  axis: number,
  exclusive: boolean,
  reverse: boolean,
  identity: number,
  combine: (running: number, value: number) => number,
): Tensor => {
  const { shape, dtype, data } = x
  const out = allocate(dtype, data.length)
  const length = shape[axis] ?? 1
  let inner = 1
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!
  const outer = length * inner === 0 ? 0 : data.length / (length * inner)
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const base = o * length * inner + i
      let running = identity
      for (let step = 0; step < length; step++) {
        const at = base + (reverse ? length - 1 - step : step) * inner
        if (exclusive) out[at] = running
        running = combine(running, data[at]!)
        if (!exclusive) out[at] = running
      }
    }
  return unsafeTensor(dtype, shape, out)
}

/**
 * `Backend.cumprod` of the reference backend (int32 wraps with `Math.imul`, as the reference `prod` does).
 * @internal
 */
export const cumprod = (x: Tensor, axis: number, exclusive: boolean, reverse: boolean): Tensor =>
  scanAlong(x, axis, exclusive, reverse, 1, x.dtype === 'int32' ? Math.imul : (r, v) => r * v)

/**
 * `Backend.cumsum` of the reference backend (int32 wraps like C, as the reference `sum` does).
 * @internal
 */
export const cumsum = (x: Tensor, axis: number, exclusive: boolean, reverse: boolean): Tensor =>
  scanAlong(x, axis, exclusive, reverse, 0, x.dtype === 'int32' ? (r, v) => (r + v) | 0 : (r, v) => r + v)
